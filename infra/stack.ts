import * as path from 'node:path';
import { CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { AttributeType, BillingMode, StreamViewType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Alias, Key, KeySpec as KmsKeySpec, KeyUsage } from 'aws-cdk-lib/aws-kms';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { SubscriptionFilter, Topic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { JWK } from 'jose';
import { catalog as serviceCatalog, checkCatalog, functionPlan } from '../catalog';
import type { CatalogShape, CryptoKeySpec, FunctionPlan, KeySpec, QueueSpec, SecretSpec, TableSpec, Trigger } from '../catalog';
import { RestServiceApi } from './constructs/rest-service-api';
import { ServiceApi } from './constructs/service-api';
import type { JwtIssuer } from './constructs/service-api';
import { ServiceFunction } from './constructs/service-function';
import { UserDirectory } from './constructs/user-directory';
import { WebApp, type WebAppConfig } from './constructs/web-app';
import type { StageConfig } from './stages';

export interface ConsentAudiencesStackProps extends StackProps {
  readonly stage: StageConfig;
  /** Defaults to the service catalog. */
  readonly catalog?: CatalogShape;
  /** External token issuer. Without one the stack creates a Cognito user pool and trusts it. */
  readonly jwt?: JwtIssuer;
  /** Repository root: catalog entries are relative to it and it holds `package-lock.json`. */
  readonly projectRoot?: string;
  /** The development issuer's public key, for a stage whose identity is `development-issuer` (LocalStack). */
  readonly developmentIssuer?: { readonly publicJwk: JWK };
  /** The built web app (default: `dist/web` under the project root, which `npm ci` and the CDK app build). Stages on AWS serve it. */
  readonly webAssets?: string;
}

export { METRICS_NAMESPACE, SERVICE_NAME } from '../catalog';

interface QueuePair {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
}

const pascal = (name: string): string => name.charAt(0).toUpperCase() + name.slice(1);
const attribute = (key: KeySpec) => ({ name: key.name, type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER });

/**
 * Everything the catalog describes, and nothing it does not: one resource per
 * table, topic, queue (with its dead-letter queue) and secret, and one
 * function per catalog function with its trigger and exactly the grants and
 * environment its spec lists. A new catalog entry needs no change here.
 */
export class ConsentAudiencesStack extends Stack {
  readonly tables: ReadonlyMap<string, Table>;
  readonly topics: ReadonlyMap<string, Topic>;
  readonly queues: ReadonlyMap<string, QueuePair>;
  readonly secrets: ReadonlyMap<string, Secret>;
  readonly keys: ReadonlyMap<string, Key>;
  readonly functions: ReadonlyMap<string, ServiceFunction>;
  readonly api: ServiceApi | RestServiceApi;
  /** The web app on S3 and CloudFront (stages on AWS; LocalStack's free plan has no CloudFront). */
  readonly web?: WebApp;

  private readonly stage: StageConfig;
  private directory?: UserDirectory;
  private readonly catalog: CatalogShape;

  constructor(scope: Construct, id: string, props: ConsentAudiencesStackProps) {
    super(scope, id, { description: 'Consent-aware custom audiences and business messages', ...props });
    this.stage = props.stage;
    this.catalog = props.catalog ?? serviceCatalog;
    const problems = checkCatalog(this.catalog);
    if (problems.length > 0) throw new Error(`The catalog is inconsistent:\n- ${problems.join('\n- ')}`);

    this.tables = this.build(this.catalog.tables, (name, spec) => this.table(name, spec));
    this.topics = this.build(this.catalog.topics, (name) => this.topic(name));
    this.queues = this.build(this.catalog.queues, (name, spec) => this.queue(name, spec));
    this.secrets = this.build(this.catalog.secrets, (name, spec) => this.secret(name, spec));
    this.keys = this.build(this.catalog.keys ?? {}, (name, spec) => this.key(name, spec));

    const projectRoot = props.projectRoot ?? path.resolve(__dirname, '..');
    if (this.stage.target === 'aws') {
      this.web = new WebApp(this, 'Web', {
        assetDir: props.webAssets ?? path.join(projectRoot, 'dist', 'web'),
        logRetention: this.stage.logRetention,
        logRemovalPolicy: this.stage.removalPolicy,
      });
      new CfnOutput(this, 'WebUrl', { value: this.web.url, description: 'The web app (CloudFront)' });
    }
    this.api = this.apiFor(props, projectRoot);
    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the API, without a trailing slash' });
    if (this.web) this.web.deploy(this.webConfig(props));

    this.functions = this.build(this.catalog.functions, (name, spec) => {
      const fn = this.function(functionPlan(this.catalog, name, { stage: this.stage.name, settings: this.stage.settings }), projectRoot);
      this.trigger(name, spec.trigger, fn);
      return fn;
    });
  }

  private build<S, R>(specs: Readonly<Record<string, S>>, make: (name: string, spec: S) => R): Map<string, R> {
    return new Map(Object.entries(specs).map(([name, spec]) => [name, make(name, spec)]));
  }

  private table(name: string, spec: TableSpec): Table {
    const table = new Table(this, `${pascal(name)}Table`, {
      partitionKey: attribute(spec.partitionKey),
      sortKey: spec.sortKey && attribute(spec.sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: this.stage.pointInTimeRecovery },
      timeToLiveAttribute: spec.ttlAttribute,
      stream: spec.stream && StreamViewType[spec.stream],
      deletionProtection: this.stage.tableDeletionProtection,
      removalPolicy: this.stage.removalPolicy,
    });
    for (const index of spec.globalIndexes ?? []) {
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: attribute(index.partitionKey),
        sortKey: index.sortKey && attribute(index.sortKey),
      });
    }
    return table;
  }

  private topic(name: string): Topic {
    return new Topic(this, `${pascal(name)}Topic`, {
      enforceSSL: true,
      // The AWS managed key: publishers need no key grant and SNS delivers to SSE-SQS queues.
      masterKey: Alias.fromAliasName(this, `${pascal(name)}TopicKey`, 'alias/aws/sns'),
    });
  }

  private queue(name: string, spec: QueueSpec): QueuePair {
    const id = `${pascal(name)}Queue`;
    // A FIFO queue's dead-letter queue is FIFO too; high-throughput mode: deduplication and throughput per message group.
    const fifo = spec.fifo
      ? { fifo: true, deduplicationScope: DeduplicationScope.MESSAGE_GROUP, fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID }
      : {};
    const deadLetterQueue = new Queue(this, `${id}Dlq`, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      ...(spec.fifo ? { fifo: true } : {}),
    });
    Validations.of(deadLetterQueue).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason: `This is the dead-letter queue of ${name}; its messages wait (14 days, alarmed) for inspection and redrive, not for another queue.`,
    });
    const queue = new Queue(this, id, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(spec.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: spec.maxReceiveCount },
      ...fifo,
    });
    this.alarmOnMessages(`${id}DlqAlarm`, deadLetterQueue, `Messages of queue ${name} failed ${spec.maxReceiveCount} times`);

    if (spec.subscription) {
      const eventTypes = spec.subscription.eventTypes;
      this.lookup(this.topics, spec.subscription.topic).addSubscription(
        new SqsSubscription(queue, {
          rawMessageDelivery: true,
          filterPolicy: eventTypes && { type: SubscriptionFilter.stringFilter({ allowlist: [...eventTypes] }) },
          // Messages SNS cannot deliver to the queue land where the queue's failures do.
          deadLetterQueue,
        }),
      );
    }
    return { queue, deadLetterQueue };
  }

  private alarmOnMessages(id: string, queue: Queue, description: string): void {
    new Alarm(this, id, {
      alarmDescription: description,
      metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  private secret(name: string, spec: SecretSpec): Secret {
    const secret = new Secret(this, `${pascal(name)}Secret`, {
      description: spec.description,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: this.stage.removalPolicy,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Catalog secrets are keys of stored derivations: the pepper keys every match-index entry (rotating it without ' +
        're-keying the index would silently break matching) and the count-noise key seeds every released audience size ' +
        '(rotating it would redraw every range at once, a fresh release of every audience). Rotation is a planned migration, not a schedule.',
    });
    return secret;
  }

  /**
   * A catalog key in AWS KMS: an asymmetric ECC_NIST_P256 key for `sign`
   * (its private half never leaves KMS), a symmetric key with yearly
   * rotation for `encrypt`. A new generation (the stage's `keyGenerations`)
   * is a new key: asymmetric keys cannot rotate in place.
   */
  private key(name: string, spec: CryptoKeySpec): Key {
    const generation = this.stage.keyGenerations?.[name as keyof NonNullable<StageConfig['keyGenerations']>] ?? 1;
    const id = `${pascal(name)}Key${generation > 1 ? `Gen${generation}` : ''}`;
    if (spec.usage === 'encrypt') {
      return new Key(this, id, { description: spec.description, enableKeyRotation: true, removalPolicy: this.stage.removalPolicy });
    }
    const key = new Key(this, id, {
      description: spec.description,
      keySpec: KmsKeySpec.ECC_NIST_P256,
      keyUsage: KeyUsage.SIGN_VERIFY,
      removalPolicy: this.stage.removalPolicy,
    });
    Validations.of(key).acknowledge({
      id: 'AwsSolutions-KMS5',
      reason:
        'An asymmetric signing key cannot rotate automatically (KMS rotates symmetric keys only); it is rotated by a new key generation, ' +
        'and the public keys of earlier generations stay published (README, "Rotating the receipt key").',
    });
    return key;
  }

  /**
   * The API and who may call it, as the stage says (infra/stages.ts `api` and
   * `identity`): an HTTP API trusting the stack's user pool or an external
   * issuer, or, where HTTP APIs and Cognito are missing (LocalStack's free
   * plan), a REST API whose authorizer trusts the development issuer.
   */
  private apiFor(props: ConsentAudiencesStackProps, projectRoot: string): ServiceApi | RestServiceApi {
    const common = { throttle: this.stage.apiThrottle, logRetention: this.stage.logRetention, logRemovalPolicy: this.stage.removalPolicy };
    if (this.stage.api === 'rest') {
      if (this.stage.identity.kind !== 'development-issuer' || !props.developmentIssuer) {
        throw new Error(`The ${this.stage.name} stage's REST API needs the development issuer's public key (developmentIssuer)`);
      }
      return new RestServiceApi(this, 'Api', {
        ...common,
        issuerPublicJwk: props.developmentIssuer.publicJwk,
        projectRoot,
        activeTracing: this.stage.activeTracing,
      });
    }
    return new ServiceApi(this, 'Api', { ...common, jwt: props.jwt ?? this.userDirectory(), ...(this.web && { corsOrigins: [this.web.url] }) });
  }

  /** The web app's /config.json: this API, and sign-in through the user pool's hosted UI (or the external issuer). */
  private webConfig(props: ConsentAudiencesStackProps): WebAppConfig {
    const directory = this.directory;
    if (directory?.webClient) {
      return {
        apiUrl: this.api.url,
        signIn: {
          kind: 'oidc',
          authority: directory.issuer,
          clientId: directory.webClient.userPoolClientId,
          ...(directory.logoutUrl && { logoutUrl: directory.logoutUrl }),
        },
      };
    }
    const jwt = props.jwt;
    if (!jwt?.audience[0]) throw new Error('The web app needs a sign-in client: a user pool, or an external issuer with an audience');
    // An external issuer: its first audience is the web app's client, which must allow the app's address as a redirect URI.
    return { apiUrl: this.api.url, signIn: { kind: 'oidc', authority: jwt.issuer, clientId: jwt.audience[0] } };
  }

  private userDirectory(): JwtIssuer {
    const identity = this.stage.identity;
    if (identity.kind !== 'cognito') throw new Error(`The ${this.stage.name} stage has no Cognito user pool; give the stack an issuer (jwt)`);
    const directory = new UserDirectory(this, 'Users', {
      removalPolicy: this.stage.removalPolicy,
      featurePlan: identity.featurePlan,
      ...(this.web && { webUrl: this.web.url }),
    });
    this.directory = directory;
    new CfnOutput(this, 'UserPoolId', {
      value: directory.userPool.userPoolId,
      description: 'The Cognito user pool of callers (npm run aws:user creates users in it)',
    });
    new CfnOutput(this, 'UserPoolClientId', {
      value: directory.client.userPoolClientId,
      description: 'The app client whose ID tokens the API accepts (their aud)',
    });
    if (directory.webClient) {
      new CfnOutput(this, 'WebClientId', {
        value: directory.webClient.userPoolClientId,
        description: "The web app's app client (hosted UI, code flow with PKCE)",
      });
    }
    return {
      issuer: directory.issuer,
      audience: [directory.client.userPoolClientId, ...(directory.webClient ? [directory.webClient.userPoolClientId] : [])],
    };
  }

  /** The function of a catalog entry with its environment and grants (catalog/environment.ts); its trigger is wired by `trigger`. */
  private function(plan: FunctionPlan, projectRoot: string): ServiceFunction {
    const fn = new ServiceFunction(this, `${pascal(plan.name)}Function`, {
      entry: path.join(projectRoot, plan.entry),
      projectRoot,
      description: plan.description,
      memorySize: plan.memoryMB,
      timeout: Duration.seconds(plan.timeoutSeconds),
      logRetention: this.stage.logRetention,
      logRemovalPolicy: this.stage.removalPolicy,
      activeTracing: this.stage.activeTracing,
      environment: plan.shared,
    });
    for (const binding of plan.bindings) {
      switch (binding.kind) {
        case 'table':
          fn.bindTable(this.lookup(this.tables, binding.name), binding.env, binding.access, { indexed: binding.indexed });
          break;
        case 'stream':
          fn.bindStream(this.lookup(this.tables, binding.name));
          break;
        case 'topic':
          fn.bindTopic(this.lookup(this.topics, binding.name), binding.env);
          break;
        case 'queue':
          fn.bindQueue(this.lookup(this.queues, binding.name).queue, binding.env);
          break;
        case 'deadLetterQueue':
          fn.bindQueue(this.lookup(this.queues, binding.name).deadLetterQueue, binding.env);
          break;
        case 'key':
          fn.bindKey(this.lookup(this.keys, binding.name), binding.env, binding.access);
          break;
        case 'secret':
          fn.bindSecret(this.lookup(this.secrets, binding.name), binding.env);
          break;
        case 'setting':
          fn.setEnv(binding.env, binding.value);
          break;
      }
    }
    if (plan.delivers.includes('sms')) fn.allowSms();
    if (plan.delivers.includes('email')) {
      const identity = plan.bindings.find((b) => b.kind === 'setting' && b.name === 'verificationEmailIdentity');
      // checkCatalog has vouched that an email sender binds the setting.
      if (identity?.kind !== 'setting') throw new Error(`${plan.name} sends email without the verificationEmailIdentity setting`);
      fn.allowEmail(identity.value);
    }
    return fn;
  }

  private trigger(name: string, trigger: Trigger, fn: ServiceFunction): void {
    const id = pascal(name);
    switch (trigger.kind) {
      case 'http':
        this.api.addRoute(`${id}Route`, trigger, fn.fn);
        this.acknowledgeNoAsyncInvocation(fn, 'is invoked synchronously by API Gateway, which returns its errors to the caller');
        return;
      case 'http-default':
        this.api.addDefaultRoute(`${id}Route`, fn.fn);
        this.acknowledgeNoAsyncInvocation(fn, 'is invoked synchronously by API Gateway, which returns its errors to the caller');
        return;
      case 'queue': {
        const spec = this.catalog.queues[trigger.queue]!;
        const timeout = fn.fn.timeout?.toSeconds() ?? 0;
        if (spec.visibilityTimeoutSeconds < timeout) {
          throw new Error(
            `queue ${trigger.queue}: visibility timeout ${spec.visibilityTimeoutSeconds} s is below the ${timeout} s timeout of its consumer ${name}`,
          );
        }
        fn.fn.addEventSource(
          new SqsEventSource(this.lookup(this.queues, trigger.queue).queue, {
            batchSize: trigger.batchSize,
            maxBatchingWindow: trigger.maxBatchingWindowSeconds ? Duration.seconds(trigger.maxBatchingWindowSeconds) : undefined,
            maxConcurrency: trigger.maxConcurrency,
            reportBatchItemFailures: true,
          }),
        );
        Validations.of(fn).acknowledge({
          id: 'Serverless-LambdaEventSourceMappingDestination',
          reason: `SQS event source mappings take no on-failure destination; failed messages of ${trigger.queue} move to its dead-letter queue after maxReceiveCount receives (redrive policy).`,
        });
        this.acknowledgeNoAsyncInvocation(
          fn,
          `is invoked by the event source mapping of queue ${trigger.queue}, whose failed messages go to its dead-letter queue`,
        );
        return;
      }
      case 'stream': {
        const failures = this.lookup(this.queues, trigger.onFailure).queue;
        fn.fn.addEventSource(
          new DynamoEventSource(this.lookup(this.tables, trigger.table), {
            startingPosition: StartingPosition.TRIM_HORIZON,
            batchSize: trigger.batchSize,
            retryAttempts: trigger.retryAttempts,
            bisectBatchOnError: true,
            reportBatchItemFailures: true,
            filters: trigger.eventNames && [FilterCriteria.filter({ eventName: FilterRule.or(...trigger.eventNames) })],
            onFailure: new SqsDlq(failures),
          }),
        );
        this.alarmOnMessages(`${id}StreamFailuresAlarm`, failures, `Records of the ${trigger.table} stream that ${name} gave up on`);
        this.acknowledgeNoAsyncInvocation(
          fn,
          `is invoked by the event source mapping of the ${trigger.table} stream, whose failed records go to ${trigger.onFailure}`,
        );
        return;
      }
    }
  }

  /** A Lambda DLQ catches failed asynchronous invocations only, and no catalog trigger invokes asynchronously. */
  private acknowledgeNoAsyncInvocation(fn: ServiceFunction, how: string): void {
    Validations.of(fn).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason: `A Lambda dead-letter queue only receives failed asynchronous invocations; this function ${how}.`,
    });
  }

  private lookup<R>(resources: ReadonlyMap<string, R>, name: string): R {
    const resource = resources.get(name);
    // checkCatalog has vouched for every name, so this only narrows the type.
    if (resource === undefined) throw new Error(`No resource named ${name} in the catalog`);
    return resource;
  }
}
