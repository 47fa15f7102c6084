import { Aws, Duration, Fn, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { ROLES } from '../../catalog';
import type { UserPoolFeaturePlan } from '../stages';

export interface UserDirectoryProps {
  readonly removalPolicy: RemovalPolicy;
  /** `plus` adds threat protection (full function: risky sign-ins are challenged or blocked) and is billed for every active user. */
  readonly featurePlan: UserPoolFeaturePlan;
  /** The web app's address: it gets an app client for the hosted UI's authorization code flow (PKCE), returning there. */
  readonly webUrl?: string;
}

/**
 * The default token issuer when no external one is configured: a Cognito
 * user pool with one group per role (the handlers read the role from
 * `cognito:groups`) and an app client without a secret. The HTTP API's JWT
 * authorizer trusts the pool's issuer URL with the client id as audience.
 *
 * The app client allows SRP sign-in (the apps) and admin password sign-in
 * (`AdminInitiateAuth`), which only a caller with AWS credentials allowed
 * `cognito-idp:AdminInitiateAuth` on this pool can use: that is how
 * `npm run aws:user` gets a token for a user it created, without a client-side
 * SRP implementation. No password flow is open to anyone without AWS access.
 */
export class UserDirectory extends Construct {
  readonly userPool: cognito.UserPool;
  readonly client: cognito.UserPoolClient;
  /** The web app's client (hosted UI, authorization code flow with PKCE), when the stack serves the web app. */
  readonly webClient?: cognito.UserPoolClient;
  /** The hosted UI's domain, with the web client. */
  readonly domain?: cognito.UserPoolDomain;

  constructor(scope: Construct, id: string, props: UserDirectoryProps) {
    super(scope, id);

    this.userPool = new cognito.UserPool(this, 'UserPool', {
      // Accounts are created by the operators' tooling, never by strangers.
      selfSignUpEnabled: false,
      signInAliases: { username: true, email: true },
      signInCaseSensitive: false,
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { sms: false, otp: true },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: props.featurePlan === 'plus' ? cognito.FeaturePlan.PLUS : cognito.FeaturePlan.ESSENTIALS,
      ...(props.featurePlan === 'plus' && { standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION }),
      deletionProtection: props.removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason:
        'MFA is optional by design: end users of the messaging app sign in with its own account flow; TOTP is offered ' +
        'and, on the Plus plan, threat protection (ENFORCED) adds adaptive challenges for risky sign-ins.',
    });
    if (props.featurePlan !== 'plus') {
      const reason =
        'Threat protection needs the Plus feature plan, billed for every active user; this stage chose Essentials ' +
        '(infra/stages.ts, or -c userPoolFeaturePlan=plus), as the README explains under "Deploying to AWS".';
      Validations.of(this.userPool).acknowledge({ id: 'AwsSolutions-COG3', reason }, { id: 'AwsSolutions-COG8', reason });
    }

    for (const role of ROLES) {
      new cognito.CfnUserPoolGroup(this, `Group-${role}`, {
        userPoolId: this.userPool.userPoolId,
        groupName: role,
        description: `Callers with the ${role} role`,
      });
    }

    this.client = this.userPool.addClient('Client', {
      generateSecret: false,
      // Native sign-in only: SRP for the apps, and AdminInitiateAuth for operators' tooling (AWS credentials
      // required). No hosted UI, so no OAuth flows or callback URLs to guard.
      authFlows: { userSrp: true, adminUserPassword: true },
      disableOAuth: true,
      preventUserExistenceErrors: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
    });

    if (props.webUrl) {
      const home = `${props.webUrl}/`;
      // The web app: a public client (no secret) that signs in only through the hosted UI with the authorization code
      // flow; the app sends a PKCE challenge (oidc-client-ts), and returns only to the app's own address.
      this.webClient = this.userPool.addClient('WebClient', {
        generateSecret: false,
        authFlows: {},
        oAuth: {
          flows: { authorizationCodeGrant: true },
          scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
          callbackUrls: [home],
          logoutUrls: [home],
        },
        supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
        preventUserExistenceErrors: true,
        accessTokenValidity: Duration.hours(1),
        idTokenValidity: Duration.hours(1),
        refreshTokenValidity: Duration.days(1),
      });
      // Without the property Cognito would also allow SRP and custom sign-in with this client: only the hosted UI may sign in here.
      (this.webClient.node.defaultChild as cognito.CfnUserPoolClient).explicitAuthFlows = ['ALLOW_REFRESH_TOKEN_AUTH'];
      // The hosted UI's prefix must be unique in the region: the account and the first part of the stack's own GUID.
      const stackGuid = Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', Aws.STACK_ID))));
      this.domain = this.userPool.addDomain('HostedUi', {
        cognitoDomain: { domainPrefix: `consent-audiences-${Aws.ACCOUNT_ID}-${stackGuid}` },
        managedLoginVersion: cognito.ManagedLoginVersion.CLASSIC_HOSTED_UI,
      });
    }
  }

  /** The hosted UI's logout endpoint, which ends its session and returns to the app. */
  get logoutUrl(): string | undefined {
    return this.domain ? `${this.domain.baseUrl()}/logout` : undefined;
  }

  /** The issuer URL the JWT authorizer trusts (`iss` of the pool's tokens). */
  get issuer(): string {
    return this.userPool.userPoolProviderUrl;
  }
}
