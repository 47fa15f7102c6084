import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { KeyName, SettingName } from '../catalog';

/** Per-stage values of catalog settings, by setting name. Unlisted settings keep the catalog default. */
export type StageSettingValues = Readonly<Partial<Record<SettingName, string>>>;

/**
 * Who issues the tokens the API accepts. `cognito`: a user pool in the stack,
 * on the given feature plan (Plus adds threat protection and costs more per
 * active user; see the README, "Deploying to AWS"). `development-issuer`: the
 * local stack's kind of issuer (local/identity.ts), whose key pair lives on
 * the developer's machine; for emulators that lack Cognito.
 */
export type StageIdentity = { readonly kind: 'cognito'; readonly featurePlan: UserPoolFeaturePlan } | { readonly kind: 'development-issuer' };

export type UserPoolFeaturePlan = 'essentials' | 'plus';
export const USER_POOL_FEATURE_PLANS: readonly UserPoolFeaturePlan[] = ['essentials', 'plus'];

export interface StageConfig {
  readonly name: StageName;
  /** Where deployed: AWS, or LocalStack's free plan (see `localstack` below). */
  readonly target: 'aws' | 'localstack';
  readonly identity: StageIdentity;
  /**
   * `http`: an API Gateway HTTP API with a JWT authorizer. `rest`: a REST API
   * with a Lambda authorizer, for LocalStack's free plan, which has REST APIs
   * (API Gateway v1) but not HTTP APIs. The functions take both payloads.
   */
  readonly api: 'http' | 'rest';
  /** X-Ray active tracing of every function (LocalStack's free plan has no X-Ray). */
  readonly activeTracing: boolean;
  /** What happens to tables, secrets, the user pool and log groups when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /** CloudFormation deletion protection on the tables (besides the removal policy). */
  readonly tableDeletionProtection: boolean;
  readonly pointInTimeRecovery: boolean;
  readonly logRetention: RetentionDays;
  /** Default throttling of the HTTP API's stage, requests per second and burst. */
  readonly apiThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Values of catalog settings; they reach functions as the settings' environment variables. */
  readonly settings: StageSettingValues;
  /**
   * Generation of each catalog key (default 1). Raising it replaces the KMS
   * key with a new one: how an asymmetric key is rotated (README, "Rotating
   * the receipt key").
   */
  readonly keyGenerations?: Readonly<Partial<Record<KeyName, number>>>;
}

export type StageName = 'dev' | 'prod' | 'localstack';

export const stages: Readonly<Record<StageName, StageConfig>> = {
  dev: {
    name: 'dev',
    target: 'aws',
    // Essentials: a free tier of active users each month, no threat protection.
    identity: { kind: 'cognito', featurePlan: 'essentials' },
    api: 'http',
    activeTracing: true,
    removalPolicy: RemovalPolicy.DESTROY,
    tableDeletionProtection: false,
    pointInTimeRecovery: true,
    logRetention: RetentionDays.ONE_WEEK,
    apiThrottle: { rateLimit: 50, burstLimit: 100 },
    settings: {
      // Small test lists reach a targetable size in dev.
      minAudienceSize: '20',
      // Messages a business may send per minute; low enough to see 429s in dev.
      messageSendRatePerBusiness: '60',
      // New recipients per business per rolling 24 hours, and messages to one recipient per day.
      messageNewRecipientsPerDay: '100',
      messagesPerRecipientPerDay: '20',
    },
  },
  prod: {
    name: 'prod',
    target: 'aws',
    // Plus: threat protection (compromised credentials, adaptive authentication), billed for every active user.
    identity: { kind: 'cognito', featurePlan: 'plus' },
    api: 'http',
    activeTracing: true,
    removalPolicy: RemovalPolicy.RETAIN,
    tableDeletionProtection: true,
    pointInTimeRecovery: true,
    logRetention: RetentionDays.THREE_MONTHS,
    apiThrottle: { rateLimit: 1000, burstLimit: 2000 },
    settings: {
      minAudienceSize: '100',
      messageSendRatePerBusiness: '600',
      // As messaging platforms tier new senders: 1,000 new recipients a day to start with.
      messageNewRecipientsPerDay: '1000',
      messagesPerRecipientPerDay: '20',
    },
  },
  /**
   * `npm run deploy:localstack`: the same functions, tables, topics, queues
   * and secrets on LocalStack's free (Hobby) plan, which lacks Cognito user
   * pools, API Gateway HTTP APIs (v2) and X-Ray. So this stage has a REST API
   * whose Lambda authorizer verifies tokens of a development issuer, and no
   * active tracing. test/infra/localstack.test.ts checks its template against
   * the services of that plan.
   */
  localstack: {
    name: 'localstack',
    target: 'localstack',
    identity: { kind: 'development-issuer' },
    api: 'rest',
    activeTracing: false,
    removalPolicy: RemovalPolicy.DESTROY,
    tableDeletionProtection: false,
    pointInTimeRecovery: true,
    logRetention: RetentionDays.ONE_DAY,
    apiThrottle: { rateLimit: 50, burstLimit: 100 },
    settings: {
      minAudienceSize: '20',
      messageSendRatePerBusiness: '60',
      messageNewRecipientsPerDay: '100',
      messagesPerRecipientPerDay: '20',
    },
  },
};

export function isStageName(name: string): name is StageName {
  return Object.hasOwn(stages, name);
}

/** A mistake in how the app was asked to synthesize (`-c` values): reported as one line, without a stack trace. */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/** The stage called `name`, or an error naming the stages that exist. */
export function stageConfig(name: string): StageConfig {
  if (!isStageName(name)) throw new ConfigurationError(`Unknown stage "${name}"; expected one of ${Object.keys(stages).join(', ')}`);
  return stages[name];
}

/** The stage with its user pool on another feature plan (`-c userPoolFeaturePlan=plus`). */
export function withFeaturePlan(stage: StageConfig, plan: string): StageConfig {
  if (!(USER_POOL_FEATURE_PLANS as readonly string[]).includes(plan)) {
    throw new ConfigurationError(`Unknown user pool feature plan "${plan}"; expected one of ${USER_POOL_FEATURE_PLANS.join(', ')}`);
  }
  if (stage.identity.kind !== 'cognito') throw new ConfigurationError(`The ${stage.name} stage has no Cognito user pool, so no feature plan to choose`);
  return { ...stage, identity: { kind: 'cognito', featurePlan: plan as UserPoolFeaturePlan } };
}
