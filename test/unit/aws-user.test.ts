/**
 * `npm run aws:user`: a Cognito user in one role's group and an ID token for
 * it, with the Cognito and CloudFormation clients mocked.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminInitiateAuthCommand,
  AdminListGroupsForUserCommand,
  AdminRemoveUserFromGroupCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  UsernameExistsException,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { createUserToken, main, parseOptions, randomPassword } from '../../scripts/aws-user';

const cognitoMock = mockClient(CognitoIdentityProviderClient);
const cfnMock = mockClient(CloudFormationClient);
const clients = () => ({
  cognito: new CognitoIdentityProviderClient({ region: 'eu-west-1' }),
  cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
});

const POOL = 'eu-west-1_Example';
const CLIENT = '1exampleclientid';
const API = 'https://abc123.execute-api.eu-west-1.amazonaws.com';

function stackWithOutputs(outputs: Record<string, string>): void {
  cfnMock.on(DescribeStacksCommand, { StackName: 'ConsentAudiences-dev' }).resolves({
    Stacks: [
      {
        StackName: 'ConsentAudiences-dev',
        StackStatus: 'CREATE_COMPLETE',
        CreationTime: new Date(),
        Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
}

class Capture {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

beforeEach(() => {
  cognitoMock.reset();
  cfnMock.reset();
  stackWithOutputs({ ApiUrl: API, UserPoolId: POOL, UserPoolClientId: CLIENT });
  cognitoMock.on(AdminCreateUserCommand).resolves({ User: { Username: 'demo-business' } });
  cognitoMock.on(AdminSetUserPasswordCommand).resolves({});
  cognitoMock.on(AdminListGroupsForUserCommand).resolves({ Groups: [] });
  cognitoMock.on(AdminAddUserToGroupCommand).resolves({});
  cognitoMock.on(AdminRemoveUserFromGroupCommand).resolves({});
  cognitoMock.on(AdminInitiateAuthCommand).resolves({ AuthenticationResult: { IdToken: 'id.token.jwt', ExpiresIn: 3600, TokenType: 'Bearer' } });
});

describe('createUserToken', () => {
  it('creates the user without an invitation, sets a permanent password, puts it in the group and signs in with that password', async () => {
    const result = await createUserToken(clients(), parseOptions(['--role', 'business']));

    expect(result).toEqual({ idToken: 'id.token.jwt', username: 'demo-business', created: true, userPoolId: POOL, apiUrl: API, expiresInSeconds: 3600 });
    expect(cognitoMock).toHaveReceivedCommandWith(AdminCreateUserCommand, { UserPoolId: POOL, Username: 'demo-business', MessageAction: 'SUPPRESS' });
    expect(cognitoMock).toHaveReceivedCommandWith(AdminAddUserToGroupCommand, { UserPoolId: POOL, Username: 'demo-business', GroupName: 'business' });
    const setPassword = cognitoMock.commandCalls(AdminSetUserPasswordCommand)[0]!.args[0].input;
    const auth = cognitoMock.commandCalls(AdminInitiateAuthCommand)[0]!.args[0].input;
    expect(setPassword).toMatchObject({ UserPoolId: POOL, Username: 'demo-business', Permanent: true });
    expect(auth).toEqual({
      UserPoolId: POOL,
      ClientId: CLIENT,
      AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: 'demo-business', PASSWORD: setPassword.Password },
    });
  });

  it('reuses an existing user: a new password, and moved out of other role groups into this one', async () => {
    cognitoMock.on(AdminCreateUserCommand).rejects(new UsernameExistsException({ message: 'User account already exists', $metadata: {} }));
    cognitoMock.on(AdminListGroupsForUserCommand).resolves({ Groups: [{ GroupName: 'user' }, { GroupName: 'beta-testers' }] });

    const result = await createUserToken(clients(), parseOptions(['--role', 'operator', '--username', 'privacy-team']));

    expect(result.created).toBe(false);
    expect(cognitoMock).toHaveReceivedCommandTimes(AdminSetUserPasswordCommand, 1);
    expect(cognitoMock).toHaveReceivedCommandWith(AdminRemoveUserFromGroupCommand, { UserPoolId: POOL, Username: 'privacy-team', GroupName: 'user' });
    expect(cognitoMock).toHaveReceivedCommandTimes(AdminRemoveUserFromGroupCommand, 1); // not from groups that are no role
    expect(cognitoMock).toHaveReceivedCommandWith(AdminAddUserToGroupCommand, { GroupName: 'operator', Username: 'privacy-team' });
  });

  it('adds nobody to a group the user is already in', async () => {
    cognitoMock.on(AdminListGroupsForUserCommand).resolves({ Groups: [{ GroupName: 'user' }] });
    await createUserToken(clients(), parseOptions(['--role', 'user']));
    expect(cognitoMock).toHaveReceivedCommandTimes(AdminAddUserToGroupCommand, 0);
    expect(cognitoMock).toHaveReceivedCommandTimes(AdminRemoveUserFromGroupCommand, 0);
  });

  it('takes the pool and client from flags without reading the stack', async () => {
    await createUserToken(clients(), parseOptions(['--role', 'user', '--user-pool-id', 'eu-west-1_Other', '--client-id', 'otherclient']));
    expect(cfnMock).toHaveReceivedCommandTimes(DescribeStacksCommand, 0);
    expect(cognitoMock).toHaveReceivedCommandWith(AdminInitiateAuthCommand, { UserPoolId: 'eu-west-1_Other', ClientId: 'otherclient' });
  });

  it('reads the outputs of the named stage', async () => {
    cfnMock.on(DescribeStacksCommand, { StackName: 'ConsentAudiences-prod' }).resolves({
      Stacks: [
        {
          StackName: 'ConsentAudiences-prod',
          StackStatus: 'CREATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: [
            { OutputKey: 'UserPoolId', OutputValue: 'eu-west-1_Prod' },
            { OutputKey: 'UserPoolClientId', OutputValue: 'prodclient' },
          ],
        },
      ],
    });
    await createUserToken(clients(), parseOptions(['--role', 'user', '--stage', 'prod']));
    expect(cognitoMock).toHaveReceivedCommandWith(AdminInitiateAuthCommand, { UserPoolId: 'eu-west-1_Prod', ClientId: 'prodclient' });
  });

  it('explains a stack without a user pool, and a challenge instead of a token', async () => {
    stackWithOutputs({ ApiUrl: API });
    await expect(createUserToken(clients(), parseOptions(['--role', 'user']))).rejects.toThrow(/has no UserPoolId and UserPoolClientId outputs/);

    stackWithOutputs({ ApiUrl: API, UserPoolId: POOL, UserPoolClientId: CLIENT });
    cognitoMock.on(AdminInitiateAuthCommand).resolves({ ChallengeName: 'SOFTWARE_TOKEN_MFA', Session: 's' });
    await expect(createUserToken(clients(), parseOptions(['--role', 'user']))).rejects.toThrow(/further step \(SOFTWARE_TOKEN_MFA\)/);
  });

  it('explains a stack that is not there, and passes on why the outputs cannot be read otherwise', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id ConsentAudiences-dev does not exist'), { name: 'ValidationError' }));
    await expect(createUserToken(clients(), parseOptions(['--role', 'user']))).rejects.toThrow(
      'ConsentAudiences-dev does not exist in this account and region: deploy it first, or pass --user-pool-id and --client-id',
    );
    cfnMock.on(DescribeStacksCommand).rejects(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
    await expect(createUserToken(clients(), parseOptions(['--role', 'user']))).rejects.toThrow(
      'Cannot read the outputs of ConsentAudiences-dev: CredentialsProviderError: Could not load credentials from any providers',
    );
  });
});

describe('main', () => {
  it('prints the token alone on stdout and what it did on stderr, never the password', async () => {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main(['--role', 'business'], { stdout: stdout as never, stderr: stderr as never }, clients());

    expect(code).toBe(0);
    expect(stdout.text).toBe('id.token.jwt\n');
    expect(stderr.text).toContain('Created demo-business in group business of eu-west-1_Example; its ID token above is valid for 60 minutes.');
    expect(stderr.text).toContain(`curl -s ${API}/v1/policies/current`);
    const password = cognitoMock.commandCalls(AdminSetUserPasswordCommand)[0]!.args[0].input.Password!;
    expect(stdout.text + stderr.text).not.toContain(password);
  });

  it('ends a usage error with one line and status 2, and an AWS error with one line and status 1', async () => {
    const stderr = new Capture();
    expect(await main(['--role', 'admin'], { stdout: new Capture() as never, stderr: stderr as never }, clients())).toBe(2);
    expect(stderr.text).toMatch(/^aws:user: --role must be one of user, business, operator\nusage: /);

    const stderr2 = new Capture();
    cognitoMock
      .on(AdminSetUserPasswordCommand)
      .rejects(Object.assign(new Error('User is not authorized to perform: cognito-idp:AdminSetUserPassword'), { name: 'AccessDeniedException' }));
    expect(await main(['--role', 'user'], { stdout: new Capture() as never, stderr: stderr2 as never }, clients())).toBe(1);
    expect(stderr2.text).toBe('aws:user: AccessDeniedException: User is not authorized to perform: cognito-idp:AdminSetUserPassword\n');
  });
});

describe('parseOptions and randomPassword', () => {
  it('rejects half a pool, unknown flags and odd user names', () => {
    expect(() => parseOptions(['--role', 'user', '--user-pool-id', 'p'])).toThrow(/Give both --user-pool-id and --client-id/);
    expect(() => parseOptions(['--role', 'user', '--group', 'x'])).toThrow(/Unknown option '--group'/);
    expect(() => parseOptions(['--role', 'user', '--username', 'a b'])).toThrow(/--username may hold/);
    expect(parseOptions(['--role', 'operator'])).toEqual({ role: 'operator', username: 'demo-operator', stage: 'dev' });
  });

  it('makes passwords the pool policy accepts, different every time', () => {
    const passwords = Array.from({ length: 50 }, () => randomPassword());
    for (const p of passwords) {
      expect(p).toHaveLength(32);
      expect(p).toMatch(/[a-z]/);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[0-9]/);
      expect(p).toMatch(/[!#%+\-=?@^_]/);
    }
    expect(new Set(passwords).size).toBe(50);
  });
});
