import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { SettingName } from '../catalog';

/** Per-stage values of catalog settings, by setting name. Unlisted settings keep the catalog default. */
export type StageSettingValues = Readonly<Partial<Record<SettingName, string>>>;

export interface StageConfig {
  readonly name: StageName;
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
}

export type StageName = 'dev' | 'prod';

export const stages: Readonly<Record<StageName, StageConfig>> = {
  dev: {
    name: 'dev',
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
    },
  },
  prod: {
    name: 'prod',
    removalPolicy: RemovalPolicy.RETAIN,
    tableDeletionProtection: true,
    pointInTimeRecovery: true,
    logRetention: RetentionDays.THREE_MONTHS,
    apiThrottle: { rateLimit: 1000, burstLimit: 2000 },
    settings: {
      minAudienceSize: '100',
      messageSendRatePerBusiness: '600',
    },
  },
};

export function isStageName(name: string): name is StageName {
  return Object.hasOwn(stages, name);
}

/** The stage called `name`, or an error naming the stages that exist. */
export function stageConfig(name: string): StageConfig {
  if (!isStageName(name)) throw new Error(`Unknown stage "${name}"; expected one of ${Object.keys(stages).join(', ')}`);
  return stages[name];
}
