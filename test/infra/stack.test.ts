import { Match } from 'aws-cdk-lib/assertions';
import { catalog as serviceCatalog, deadLetterQueueEnv } from '../../catalog';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../infra/stack';
import type { CatalogShape } from '../../catalog';
import { stages } from '../../infra/stages';
import { actionsOf, arnOf, logicalId, mentions, ref, removeProjectRoot, statementsOfRole, stubProjectRoot, synth } from './synth';
import type { Synthesized } from './synth';

const READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:BatchGetItem'];
const WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];

/** The service catalog without its literal types, so expectations read optional fields the same way for every entry. */
const catalog: CatalogShape = serviceCatalog;
const fns = Object.entries(catalog.functions);
const httpFns = fns.flatMap(([name, spec]) => (spec.trigger.kind === 'http' ? [{ name, spec, trigger: spec.trigger }] : []));

describe('ConsentAudiencesStack (dev, service catalog)', () => {
  let root: string;
  let s: Synthesized;

  beforeAll(() => {
    root = stubProjectRoot();
    s = synth({ projectRoot: root });
  });
  afterAll(() => removeProjectRoot(root));

  const resource = (id: string) => {
    const r = s.json.Resources[id];
    if (!r) throw new Error(`no resource ${id}`);
    return r;
  };
  const fnOf = (name: string) => s.stack.functions.get(name)!;
  const envOf = (name: string) => (resource(logicalId(fnOf(name).fn)).Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
  const statementsOf = (name: string) => statementsOfRole(s.json, logicalId(fnOf(name).role));

  describe('tables', () => {
    it.each(Object.entries(catalog.tables))('%s: on demand, PITR, encrypted, key schema, TTL and stream as the catalog says', (name, spec) => {
      // Prepare
      const table = s.stack.tables.get(name)!;

      // Act
      const props = resource(logicalId(table)).Properties!;

      // Assess
      expect(props).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        KeySchema: [
          { AttributeName: spec.partitionKey.name, KeyType: 'HASH' },
          ...(spec.sortKey ? [{ AttributeName: spec.sortKey.name, KeyType: 'RANGE' }] : []),
        ],
      });
      expect(props.TableName).toBeUndefined();
      expect(props.TimeToLiveSpecification).toEqual(spec.ttlAttribute ? { AttributeName: spec.ttlAttribute, Enabled: true } : undefined);
      expect(props.StreamSpecification).toEqual(spec.stream ? { StreamViewType: spec.stream } : undefined);
    });

    it('has no table the catalog does not describe', () => {
      expect(Object.keys(s.template.findResources('AWS::DynamoDB::Table')).sort()).toEqual([...s.stack.tables.values()].map(logicalId).sort());
    });
  });

  describe('topics', () => {
    it.each(Object.keys(catalog.topics))('%s: KMS-encrypted and TLS-only', (name) => {
      const topic = s.stack.topics.get(name)!;

      expect(resource(logicalId(topic)).Properties!.KmsMasterKeyId).toBeDefined();
      s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [ref(topic)],
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
        },
      });
    });
  });

  describe('queues', () => {
    it.each(Object.entries(catalog.queues))('%s: SSE, TLS-only, visibility timeout, own dead-letter queue with maxReceiveCount', (name, spec) => {
      const { queue, deadLetterQueue } = s.stack.queues.get(name)!;

      expect(resource(logicalId(queue)).Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        VisibilityTimeout: spec.visibilityTimeoutSeconds,
        RedrivePolicy: { deadLetterTargetArn: arnOf(deadLetterQueue), maxReceiveCount: spec.maxReceiveCount },
      });
      expect(resource(logicalId(deadLetterQueue)).Properties).toMatchObject({ SqsManagedSseEnabled: true });
      for (const q of [queue, deadLetterQueue]) {
        s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [ref(q)],
          PolicyDocument: {
            Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
          },
        });
      }
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(deadLetterQueue), 'QueueName'] } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    });

    it.each(Object.entries(catalog.queues))(
      '%s: FIFO in high-throughput mode with a FIFO dead-letter queue when the catalog says so, else standard',
      (name, spec) => {
        const { queue, deadLetterQueue } = s.stack.queues.get(name)!;
        const main = resource(logicalId(queue)).Properties!;
        const dead = resource(logicalId(deadLetterQueue)).Properties!;

        if (!spec.fifo) {
          expect([main.FifoQueue, dead.FifoQueue]).toEqual([undefined, undefined]);
          return;
        }
        expect(main).toMatchObject({ FifoQueue: true, DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' });
        expect(main.ContentBasedDeduplication).toBeUndefined();
        expect(dead).toMatchObject({ FifoQueue: true });
        // FIFO queues take no batching window on their event source mapping; a consumer batch is at most 10.
        for (const [, fn] of fns) {
          if (fn.trigger.kind !== 'queue' || fn.trigger.queue !== name) continue;
          expect(fn.trigger.maxBatchingWindowSeconds).toBeUndefined();
          expect(fn.trigger.batchSize).toBeLessThanOrEqual(10);
        }
      },
    );

    it('matches audience chunks from a FIFO queue, ten an invocation', () => {
      expect(catalog.queues.audienceMatching!.fifo).toBe(true);
      expect(catalog.functions.matchAudienceBatch!.trigger).toEqual({ kind: 'queue', queue: 'audienceMatching', batchSize: 10 });
    });

    it.each(Object.entries(catalog.queues))('%s: subscribed to its topic with raw delivery and the catalog filter, or not at all', (name, spec) => {
      const { queue, deadLetterQueue } = s.stack.queues.get(name)!;
      const subscriptions = s.template.findResources('AWS::SNS::Subscription', { Properties: { Endpoint: arnOf(queue) } });

      if (!spec.subscription) {
        expect(subscriptions).toEqual({});
        return;
      }
      const eventTypes = spec.subscription.eventTypes;
      expect(Object.values(subscriptions).map((r) => r.Properties)).toEqual([
        {
          Protocol: 'sqs',
          Endpoint: arnOf(queue),
          TopicArn: ref(s.stack.topics.get(spec.subscription.topic)!),
          RawMessageDelivery: true,
          RedrivePolicy: { deadLetterTargetArn: arnOf(deadLetterQueue) },
          ...(eventTypes ? { FilterPolicy: { type: eventTypes } } : {}),
        },
      ]);
    });
  });

  describe('secrets', () => {
    it.each(Object.keys(catalog.secrets))('%s: a generated 64-character value', (name) => {
      expect(resource(logicalId(s.stack.secrets.get(name)!)).Properties).toMatchObject({
        GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
      });
    });
  });

  describe('functions', () => {
    it("has exactly one Lambda function per catalog function, and CDK's function that deploys the web app", () => {
      const ids = Object.keys(s.template.findResources('AWS::Lambda::Function'));
      const webDeployment = ids.filter((id) => id.startsWith('CustomCDKBucketDeployment'));

      expect(webDeployment).toHaveLength(1);
      expect(ids.filter((id) => !webDeployment.includes(id)).sort()).toEqual(fns.map(([name]) => logicalId(fnOf(name).fn)).sort());
    });

    it.each(fns)('%s: nodejs22.x on arm64, traced, with memory, timeout and its own log group', (name, spec) => {
      const fn = fnOf(name);
      const isHttp = spec.trigger.kind === 'http' || spec.trigger.kind === 'http-default';

      expect(resource(logicalId(fn.fn)).Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        MemorySize: spec.memoryMB ?? 256,
        Timeout: spec.timeoutSeconds ?? (isHttp ? 10 : 30),
        LoggingConfig: { LogGroup: ref(fn.logGroup) },
      });
      expect(resource(logicalId(fn.logGroup)).Properties).toEqual({ RetentionInDays: stages.dev.logRetention });
    });

    it.each(fns)('%s: environment holds exactly what its spec lists', (name, spec) => {
      const expected: Record<string, unknown> = {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        STAGE: 'dev',
      };
      for (const table of Object.keys(spec.tables ?? {})) expected[catalog.tables[table]!.env] = ref(s.stack.tables.get(table)!);
      for (const topic of spec.topics ?? []) expected[catalog.topics[topic]!.env] = ref(s.stack.topics.get(topic)!);
      for (const queue of spec.queues ?? []) expected[catalog.queues[queue]!.env] = ref(s.stack.queues.get(queue)!.queue);
      for (const secret of spec.secrets ?? []) expected[catalog.secrets[secret]!.env] = ref(s.stack.secrets.get(secret)!);
      for (const queue of spec.deadLetters ?? []) expected[deadLetterQueueEnv(catalog.queues[queue]!.env)] = ref(s.stack.queues.get(queue)!.deadLetterQueue);
      for (const key of Object.keys(spec.keys ?? {})) expected[catalog.keys![key]!.env] = arnOf(s.stack.keys.get(key)!);
      for (const setting of spec.settings ?? []) {
        const settingSpec = catalog.settings[setting]!;
        expected[settingSpec.env] = (stages.dev.settings as Record<string, string | undefined>)[setting] ?? settingSpec.default;
      }

      expect(envOf(name)).toEqual(expected);
    });
  });

  describe('least privilege', () => {
    it.each(fns)('%s: table grants are exactly the tables it lists, at the access it lists', (name, spec) => {
      const listed: Readonly<Record<string, string>> = spec.tables ?? {};
      const statements = statementsOf(name);

      for (const [table, t] of s.stack.tables) {
        const actions = statements.filter((st) => mentions(st, logicalId(t))).flatMap(actionsOf);
        const access = listed[table];
        const streamRead = (spec.trigger.kind === 'stream' && spec.trigger.table === table) || (spec.streams ?? []).includes(table);
        const tableActions = actions.filter((a) => !['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'].includes(a));
        if (!access) {
          expect({ table, actions: tableActions }).toEqual({ table, actions: [] });
          if (!streamRead) expect({ table, actions }).toEqual({ table, actions: [] });
          continue;
        }
        if (access === 'append') {
          // Append-only: a put, and nothing that reads, updates or deletes.
          expect({ table, actions: tableActions.filter((a) => a !== 'dynamodb:DescribeTable').sort() }).toEqual({ table, actions: ['dynamodb:PutItem'] });
          continue;
        }
        const canRead = READ_ACTIONS.every((a) => actions.includes(a));
        const canWrite = WRITE_ACTIONS.every((a) => actions.includes(a));
        const anyRead = READ_ACTIONS.some((a) => actions.includes(a));
        const anyWrite = WRITE_ACTIONS.some((a) => actions.includes(a));
        expect({ table, access, read: anyRead, write: anyWrite }).toEqual({
          table,
          access,
          read: access !== 'write' && canRead,
          write: access !== 'read' && canWrite,
        });
      }
    });

    it('createPolicy cannot touch the identities table, and getCurrentPolicy cannot write policies', () => {
      const accounts = logicalId(s.stack.tables.get('identities')!);
      const policies = logicalId(s.stack.tables.get('policies')!);

      expect(statementsOf('createPolicy').filter((st) => mentions(st, accounts))).toEqual([]);
      const getCurrent = statementsOf('getCurrentPolicy')
        .filter((st) => mentions(st, policies))
        .flatMap(actionsOf);
      expect(getCurrent).toEqual(expect.arrayContaining(READ_ACTIONS));
      expect(getCurrent.filter((a) => WRITE_ACTIONS.includes(a))).toEqual([]);
    });

    it.each(fns)('%s: topics, queues and secrets only as listed', (name, spec) => {
      const statements = statementsOf(name);
      const granted = (id: string, action: string) => statements.some((st) => mentions(st, id) && actionsOf(st).includes(action));
      const topics = spec.topics ?? [];
      const queues = spec.queues ?? [];
      const secrets = spec.secrets ?? [];
      const failureQueue = spec.trigger.kind === 'stream' ? spec.trigger.onFailure : undefined;

      for (const [topic, t] of s.stack.topics)
        expect({ topic, publish: granted(logicalId(t), 'sns:Publish') }).toEqual({ topic, publish: topics.includes(topic) });
      for (const [queue, pair] of s.stack.queues) {
        const send = granted(logicalId(pair.queue), 'sqs:SendMessage');
        expect({ queue, send }).toEqual({ queue, send: queues.includes(queue) || queue === failureQueue });
        // Only a function that gives up on messages by its own rule sends to a dead-letter queue, and only to the one it names.
        const dlqActions = statements.filter((st) => mentions(st, logicalId(pair.deadLetterQueue))).flatMap(actionsOf);
        expect({ queue, dlqAccess: dlqActions.length > 0 }).toEqual({ queue, dlqAccess: (spec.deadLetters ?? []).includes(queue) });
        expect(dlqActions.filter((a) => /^sqs:(ReceiveMessage|DeleteMessage|PurgeQueue)/.test(a))).toEqual([]);
      }
      for (const [secret, sec] of s.stack.secrets) {
        expect({ secret, read: granted(logicalId(sec), 'secretsmanager:GetSecretValue') }).toEqual({ secret, read: secrets.includes(secret) });
      }
    });

    it.each(fns)('%s: "*" resources carry only actions that have no resource-level permissions', (name, spec) => {
      const starActions = statementsOf(name)
        .filter((st) => st.Resource === '*')
        .flatMap(actionsOf)
        .sort();
      const expected = [
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
        ...(spec.trigger.kind === 'stream' || (spec.streams ?? []).length > 0 ? ['dynamodb:ListStreams'] : []),
        ...((spec.delivers ?? []).includes('sms') ? ['sns:Publish'] : []),
      ].sort();

      expect(starActions).toEqual(expected);
    });

    it.each(fns)('%s: SMS and email grants only as its catalog entry delivers, SMS kept to phone numbers, email to one SES identity', (name, spec) => {
      // Prepare
      const statements = statementsOf(name);
      const allows = (action: string) => statements.filter((st) => st.Effect === 'Allow' && actionsOf(st).includes(action));
      const delivers = spec.delivers ?? [];
      // Assess: SNS publish to "*" only for SMS senders, and then with a deny on every topic and endpoint ARN
      expect(allows('sns:Publish').filter((st) => st.Resource === '*').length > 0).toBe(delivers.includes('sms'));
      const denies = statements.filter((st) => st.Effect === 'Deny' && actionsOf(st).includes('sns:Publish'));
      expect(denies.length > 0).toBe(delivers.includes('sms'));
      for (const deny of denies) expect(JSON.stringify(deny.Resource)).toContain(':sns:*:*:*');
      // SES: SendEmail only, on the stage's identity only
      const ses = statements.filter((st) => actionsOf(st).some((a) => a.startsWith('ses:')));
      expect(ses.length > 0).toBe(delivers.includes('email'));
      for (const st of ses) {
        expect(actionsOf(st)).toEqual(['ses:SendEmail']);
        expect(JSON.stringify(st.Resource)).toContain(`:identity/${catalog.settings.verificationEmailIdentity!.default}`);
      }
    });

    it('no managed policies on function roles', () => {
      for (const [name, fn] of s.stack.functions) {
        expect({ name, managed: resource(logicalId(fn.role)).Properties!.ManagedPolicyArns }).toEqual({ name, managed: undefined });
      }
    });
  });

  describe('HTTP API', () => {
    const routes = () => Object.values(s.template.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties);
    const authorizerId = () => Object.keys(s.template.findResources('AWS::ApiGatewayV2::Authorizer'))[0]!;
    const integrationOf = (name: string) => {
      const [id] = Object.entries(s.template.findResources('AWS::ApiGatewayV2::Integration', { Properties: { IntegrationUri: arnOf(fnOf(name).fn) } }))[0]!;
      return id;
    };

    it('has one route per http trigger plus $default, and nothing else', () => {
      const expected = [...httpFns.map(({ trigger }) => `${trigger.method} ${trigger.path}`), '$default'];

      expect(
        routes()
          .map((r) => r.RouteKey)
          .sort(),
      ).toEqual(expected.sort());
    });

    it.each(httpFns)('$name: $trigger.method $trigger.path routes to its function, JWT-authorized unless public', ({ name, trigger }) => {
      const route = routes().find((r) => r.RouteKey === `${trigger.method} ${trigger.path}`)!;
      const integration = integrationOf(name);

      expect(route.Target).toEqual({ 'Fn::Join': ['', ['integrations/', { Ref: integration }]] });
      expect(s.json.Resources[integration]!.Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
      if (trigger.auth === 'public') {
        expect(route.AuthorizationType).toBe('NONE');
        expect(route.AuthorizerId).toBeUndefined();
      } else {
        expect(route).toMatchObject({ AuthorizationType: 'JWT', AuthorizerId: { Ref: authorizerId() } });
      }
    });

    it('sends unknown routes to the http-default function without a token check', () => {
      const [name] = fns.find(([, spec]) => spec.trigger.kind === 'http-default')!;
      const route = routes().find((r) => r.RouteKey === '$default')!;

      expect(route).toMatchObject({ AuthorizationType: 'NONE', Target: { 'Fn::Join': ['', ['integrations/', { Ref: integrationOf(name) }]] } });
    });

    it("trusts the stack user pool: issuer is its provider URL, audience its client and the web app's", () => {
      const [poolId] = Object.keys(s.template.findResources('AWS::Cognito::UserPool'));
      const clients = s.template.findResources('AWS::Cognito::UserPoolClient');
      const clientId = Object.keys(clients).find((id) => !clients[id]!.Properties.AllowedOAuthFlows)!;
      const webClientId = Object.keys(clients).find((id) => clients[id]!.Properties.AllowedOAuthFlows)!;

      s.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
        AuthorizerType: 'JWT',
        IdentitySource: ['$request.header.Authorization'],
        JwtConfiguration: { Issuer: { 'Fn::GetAtt': [poolId, 'ProviderURL'] }, Audience: [{ Ref: clientId }, { Ref: webClientId }] },
      });
      for (const role of ['user', 'business', 'operator']) {
        s.template.hasResourceProperties('AWS::Cognito::UserPoolGroup', { GroupName: role, UserPoolId: { Ref: poolId } });
      }
      // Threat protection (Plus) is a stage choice; stages.test.ts checks it per stage.
      s.template.hasResourceProperties('AWS::Cognito::UserPool', {
        MfaConfiguration: 'OPTIONAL',
        Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 12, RequireSymbols: true }) },
      });
      // SRP for apps; admin password sign-in (AWS credentials required) for npm run aws:user. No password flow without AWS credentials.
      s.template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
        GenerateSecret: false,
        AllowedOAuthFlows: Match.absent(),
        ExplicitAuthFlows: ['ALLOW_ADMIN_USER_PASSWORD_AUTH', 'ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      });
    });

    it('has a $default stage with throttling from the stage and JSON access logs', () => {
      const props = Object.values(s.template.findResources('AWS::ApiGatewayV2::Stage'))[0]!.Properties;

      expect(props).toMatchObject({
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: { ThrottlingRateLimit: stages.dev.apiThrottle.rateLimit, ThrottlingBurstLimit: stages.dev.apiThrottle.burstLimit },
        AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [expect.any(String), 'Arn'] } },
      });
      const format = JSON.parse(props.AccessLogSettings.Format);
      expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status', routeKey: '$context.routeKey' });
    });

    it('outputs ApiUrl and UserPoolId', () => {
      s.template.hasOutput('ApiUrl', { Value: { 'Fn::Join': ['', Match.arrayWith(['https://', { Ref: logicalId(s.stack.api.api) }])] } });
      s.template.hasOutput('UserPoolId', { Value: { Ref: Match.anyValue() } });
    });
  });

  describe('triggers', () => {
    const mappingOf = (name: string) => {
      const found = Object.values(s.template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { FunctionName: ref(fnOf(name).fn) } }));
      expect(found).toHaveLength(1);
      return found[0]!.Properties!;
    };

    it.each(fns.filter(([, spec]) => spec.trigger.kind === 'queue'))('%s: SQS mapping reports batch item failures', (name, spec) => {
      if (spec.trigger.kind !== 'queue') throw new Error('unreachable');
      const window = spec.trigger.maxBatchingWindowSeconds;

      expect(mappingOf(name)).toEqual({
        FunctionName: ref(fnOf(name).fn),
        EventSourceArn: arnOf(s.stack.queues.get(spec.trigger.queue)!.queue),
        BatchSize: spec.trigger.batchSize,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ...(window ? { MaximumBatchingWindowInSeconds: window } : {}),
        ...(spec.trigger.maxConcurrency ? { ScalingConfig: { MaximumConcurrency: spec.trigger.maxConcurrency } } : {}),
      });
    });

    it.each(fns.filter(([, spec]) => spec.trigger.kind === 'stream'))(
      '%s: stream mapping from TRIM_HORIZON, bisecting, with on-failure queue and filter',
      (name, spec) => {
        if (spec.trigger.kind !== 'stream') throw new Error('unreachable');
        const eventNames = spec.trigger.eventNames;

        expect(mappingOf(name)).toEqual({
          FunctionName: ref(fnOf(name).fn),
          EventSourceArn: { 'Fn::GetAtt': [logicalId(s.stack.tables.get(spec.trigger.table)!), 'StreamArn'] },
          StartingPosition: 'TRIM_HORIZON',
          BatchSize: spec.trigger.batchSize,
          MaximumRetryAttempts: spec.trigger.retryAttempts,
          BisectBatchOnFunctionError: true,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          DestinationConfig: { OnFailure: { Destination: arnOf(s.stack.queues.get(spec.trigger.onFailure)!.queue) } },
          ...(eventNames ? { FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ eventName: eventNames }) }] } } : {}),
        });
      },
    );

    it('http functions have no event source mapping', () => {
      for (const [name, spec] of fns) {
        if (spec.trigger.kind !== 'http' && spec.trigger.kind !== 'http-default') continue;
        expect({ name, mappings: s.template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { FunctionName: ref(fnOf(name).fn) } }) }).toEqual({
          name,
          mappings: {},
        });
      }
    });
  });

  it('an external issuer replaces the user pool', () => {
    const external = synth({ projectRoot: root, jwt: { issuer: 'https://issuer.example.com/', audience: ['consent-audiences'] } });

    external.template.resourceCountIs('AWS::Cognito::UserPool', 0);
    external.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      JwtConfiguration: { Issuer: 'https://issuer.example.com/', Audience: ['consent-audiences'] },
    });
    expect(Object.keys(external.json.Outputs ?? {})).toEqual(['WebUrl', 'ApiUrl']);
  });
});
