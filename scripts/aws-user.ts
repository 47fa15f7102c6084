/**
 * `npm run aws:user -- --role business`: after `cdk deploy`, a user of the
 * deployed stack's Cognito user pool in the group of a role, and an ID token
 * for it on stdout (valid one hour), for `curl` or the `audiences` CLI.
 *
 *   npm run -s aws:user -- --role business [--username flower-shop] [--stage dev]
 *   npm run -s aws:user -- --role user --user-pool-id eu-west-1_abc --client-id 1example
 *
 * The pool and its app client come from the stack's outputs (UserPoolId,
 * UserPoolClientId of ConsentAudiences-<stage>) unless given. The user is
 * created if missing (no invitation message is sent), moved into the role's
 * group and out of the other roles' groups, given a fresh random password
 * that is never shown or stored, and signed in with `AdminInitiateAuth`
 * (ADMIN_USER_PASSWORD_AUTH, which the stack's app client allows only to
 * callers with AWS credentials). Run it again for a new token.
 *
 * Needs AWS credentials (the usual environment, profile or SSO) allowed
 * cloudformation:DescribeStacks and cognito-idp:AdminCreateUser,
 * AdminSetUserPassword, AdminListGroupsForUser, AdminAddUserToGroup,
 * AdminRemoveUserFromGroup and AdminInitiateAuth on the pool.
 */
import { randomInt } from 'node:crypto';
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
import { parseArgs } from 'node:util';
import { ROLES, type Role } from '../catalog';

export interface AwsUserOptions {
  readonly role: Role;
  readonly username: string;
  readonly stage: string;
  readonly userPoolId?: string;
  readonly clientId?: string;
}

export interface AwsUserResult {
  readonly idToken: string;
  readonly username: string;
  readonly created: boolean;
  readonly userPoolId: string;
  readonly apiUrl?: string;
  readonly expiresInSeconds?: number;
}

export interface AwsClients {
  readonly cognito: CognitoIdentityProviderClient;
  readonly cloudFormation: CloudFormationClient;
}

/** A mistake the user can fix: printed as one line, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Something AWS refused or the stack lacks: printed as one line, exit status 1. */
export class AwsUserError extends Error {
  override readonly name = 'AwsUserError';
}

const USAGE = 'usage: npm run -s aws:user -- --role user|business|operator [--username <name>] [--stage dev] [--user-pool-id <id> --client-id <id>]';

export function parseOptions(argv: readonly string[]): AwsUserOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        role: { type: 'string' },
        username: { type: 'string' },
        stage: { type: 'string', default: 'dev' },
        'user-pool-id': { type: 'string' },
        'client-id': { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  const role = values.role;
  if (!role || !(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}\n${USAGE}`);
  if ((values['user-pool-id'] === undefined) !== (values['client-id'] === undefined))
    throw new UsageError(`Give both --user-pool-id and --client-id, or neither\n${USAGE}`);
  const username = values.username ?? `demo-${role}`;
  if (!/^[\w.@+-]{1,128}$/.test(username)) throw new UsageError('--username may hold letters, digits and . _ @ + - (at most 128)');
  return {
    role: role as Role,
    username,
    stage: values.stage!,
    ...(values['user-pool-id'] !== undefined && { userPoolId: values['user-pool-id'], clientId: values['client-id']! }),
  };
}

/** A password the pool's policy accepts (12+ characters, each class), 32 characters from a CSPRNG; used once, never shown. */
export function randomPassword(): string {
  const classes = ['abcdefghijkmnopqrstuvwxyz', 'ABCDEFGHJKLMNPQRSTUVWXYZ', '23456789', '!#%+-=?@^_'];
  const all = classes.join('');
  const chars = classes.map((c) => c[randomInt(c.length)]!);
  while (chars.length < 32) chars.push(all[randomInt(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

/** UserPoolId, UserPoolClientId and ApiUrl from the stack's outputs. */
async function stackOutputs(cloudFormation: CloudFormationClient, stackName: string): Promise<Record<string, string>> {
  let stacks;
  try {
    ({ Stacks: stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName })));
  } catch (error) {
    const { name, message } = error as Error;
    if (/does not exist/.test(message ?? '')) {
      throw new AwsUserError(`${stackName} does not exist in this account and region: deploy it first, or pass --user-pool-id and --client-id`);
    }
    // Credentials, region or permissions: the SDK's own words say which.
    throw new AwsUserError(`Cannot read the outputs of ${stackName}: ${name}: ${message}`);
  }
  return Object.fromEntries((stacks?.[0]?.Outputs ?? []).flatMap((o) => (o.OutputKey && o.OutputValue ? [[o.OutputKey, o.OutputValue]] : [])));
}

export async function createUserToken(clients: AwsClients, options: AwsUserOptions): Promise<AwsUserResult> {
  let userPoolId = options.userPoolId;
  let clientId = options.clientId;
  let apiUrl: string | undefined;
  if (userPoolId === undefined || clientId === undefined) {
    const stackName = `ConsentAudiences-${options.stage}`;
    const outputs = await stackOutputs(clients.cloudFormation, stackName);
    userPoolId = outputs.UserPoolId;
    clientId = outputs.UserPoolClientId;
    apiUrl = outputs.ApiUrl;
    if (!userPoolId || !clientId) {
      throw new AwsUserError(`${stackName} has no UserPoolId and UserPoolClientId outputs: it trusts another issuer (jwtIssuer) or is not a Cognito stage`);
    }
  }
  const { cognito } = clients;
  const { username, role } = options;

  let created = true;
  try {
    await cognito.send(new AdminCreateUserCommand({ UserPoolId: userPoolId, Username: username, MessageAction: 'SUPPRESS' }));
  } catch (error) {
    if (!(error instanceof UsernameExistsException)) throw error;
    created = false;
  }
  const password = randomPassword();
  await cognito.send(new AdminSetUserPasswordCommand({ UserPoolId: userPoolId, Username: username, Password: password, Permanent: true }));

  // Exactly one role: the handlers take the first role group they recognise.
  const { Groups: groups = [] } = await cognito.send(new AdminListGroupsForUserCommand({ UserPoolId: userPoolId, Username: username }));
  for (const group of groups) {
    if (group.GroupName && group.GroupName !== role && (ROLES as readonly string[]).includes(group.GroupName)) {
      await cognito.send(new AdminRemoveUserFromGroupCommand({ UserPoolId: userPoolId, Username: username, GroupName: group.GroupName }));
    }
  }
  if (!groups.some((g) => g.GroupName === role)) {
    await cognito.send(new AdminAddUserToGroupCommand({ UserPoolId: userPoolId, Username: username, GroupName: role }));
  }

  const auth = await cognito.send(
    new AdminInitiateAuthCommand({
      UserPoolId: userPoolId,
      ClientId: clientId,
      AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: username, PASSWORD: password },
    }),
  );
  const idToken = auth.AuthenticationResult?.IdToken;
  if (!idToken) {
    throw new AwsUserError(
      auth.ChallengeName
        ? `Cognito asks for a further step (${auth.ChallengeName}) before it issues a token for ${username}; sign in once with an app that handles it`
        : `Cognito issued no ID token for ${username}`,
    );
  }
  return {
    idToken,
    username,
    created,
    userPoolId,
    ...(apiUrl !== undefined && { apiUrl }),
    ...(auth.AuthenticationResult?.ExpiresIn !== undefined && { expiresInSeconds: auth.AuthenticationResult.ExpiresIn }),
  };
}

/** The command: the token alone on stdout (for `TOKEN=$(...)`), what happened on stderr. Resolves to the exit status. */
export async function main(
  argv: readonly string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
  clients?: AwsClients,
): Promise<number> {
  try {
    const options = parseOptions(argv);
    const result = await createUserToken(clients ?? { cognito: new CognitoIdentityProviderClient({}), cloudFormation: new CloudFormationClient({}) }, options);
    io.stdout.write(`${result.idToken}\n`);
    const minutes = result.expiresInSeconds ? ` for ${Math.round(result.expiresInSeconds / 60)} minutes` : '';
    io.stderr.write(
      `${result.created ? 'Created' : 'Updated'} ${result.username} in group ${options.role} of ${result.userPoolId}; its ID token above is valid${minutes}.\n`,
    );
    if (result.apiUrl) io.stderr.write(`Try: curl -s ${result.apiUrl}/v1/policies/current -H "authorization: Bearer $TOKEN"\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`aws:user: ${error.message}\n`);
      return 2;
    }
    const name = (error as Error)?.name ?? 'Error';
    const message = error instanceof AwsUserError ? error.message : `${name}: ${(error as Error)?.message ?? String(error)}`;
    io.stderr.write(`aws:user: ${message}\n`);
    return 1;
  }
}

if (require.main === module) {
  // Node 20 is supported here (see the README); the SDK's notice about Node 22 would only repeat it.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  void main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then((code) => {
    process.exitCode = code;
  });
}
