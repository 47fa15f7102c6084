import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { ROLES } from '../../catalog';

export interface UserDirectoryProps {
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The default token issuer when no external one is configured: a Cognito
 * user pool with one group per role (the handlers read the role from
 * `cognito:groups`) and an app client without a secret. The HTTP API's JWT
 * authorizer trusts the pool's issuer URL with the client id as audience.
 */
export class UserDirectory extends Construct {
  readonly userPool: cognito.UserPool;
  readonly client: cognito.UserPoolClient;

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
      featurePlan: cognito.FeaturePlan.PLUS,
      standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
      deletionProtection: props.removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason:
        'MFA is optional by design: end users of the messaging app sign in with its own account flow; TOTP is offered ' +
        'and threat protection (ENFORCED) adds adaptive challenges for risky sign-ins.',
    });

    for (const role of ROLES) {
      new cognito.CfnUserPoolGroup(this, `Group-${role}`, {
        userPoolId: this.userPool.userPoolId,
        groupName: role,
        description: `Callers with the ${role} role`,
      });
    }

    this.client = this.userPool.addClient('Client', {
      generateSecret: false,
      // Native sign-in (SRP) only: no hosted UI, so no OAuth flows or callback URLs to guard.
      authFlows: { userSrp: true },
      disableOAuth: true,
      preventUserExistenceErrors: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
    });
  }

  /** The issuer URL the JWT authorizer trusts (`iss` of the pool's tokens). */
  get issuer(): string {
    return this.userPool.userPoolProviderUrl;
  }
}
