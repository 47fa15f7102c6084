import { catalog } from '../../catalog';
import type { CatalogShape } from '../../catalog';
import { stages } from '../../infra/stages';
import { extendedCatalog } from './fixture-catalog';
import { actionsOf, arnOf, logicalId, mentions, ref, removeProjectRoot, statementsOfRole, stubProjectRoot, synth } from './synth';
import type { Synthesized } from './synth';

describe('ConsentAudiencesStack with catalog entries it has never seen', () => {
  let root: string;
  let s: Synthesized;

  beforeAll(() => {
    root = stubProjectRoot(extendedCatalog);
    s = synth({ projectRoot: root, catalog: extendedCatalog });
  });
  afterAll(() => removeProjectRoot(root));

  const props = (construct: Parameters<typeof logicalId>[0]) => s.json.Resources[logicalId(construct)]!.Properties!;
  const fn = (name: string) => s.stack.functions.get(name)!;

  it('creates the new table with TTL, stream and index', () => {
    expect(props(s.stack.tables.get('fixtureInbox')!)).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      StreamSpecification: { StreamViewType: 'OLD_IMAGE' },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'bySender',
          KeySchema: [
            { AttributeName: 'senderId', KeyType: 'HASH' },
            { AttributeName: 'acceptedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });

  it('creates the new queues with their dead-letter queues, and subscribes only the one with a subscription', () => {
    const status = s.stack.queues.get('fixtureStatus')!;
    const failures = s.stack.queues.get('fixtureStreamFailures')!;

    expect(props(status.queue)).toMatchObject({
      VisibilityTimeout: 120,
      RedrivePolicy: { deadLetterTargetArn: arnOf(status.deadLetterQueue), maxReceiveCount: 3 },
    });
    expect(props(failures.queue)).toMatchObject({ RedrivePolicy: { deadLetterTargetArn: arnOf(failures.deadLetterQueue), maxReceiveCount: 4 } });
    s.template.hasResourceProperties('AWS::SNS::Subscription', {
      Endpoint: arnOf(status.queue),
      TopicArn: ref(s.stack.topics.get('fixtureEvents')!),
      RawMessageDelivery: true,
      FilterPolicy: { type: ['FixtureExpired'] },
    });
    expect(s.template.findResources('AWS::SNS::Subscription', { Properties: { Endpoint: arnOf(failures.queue) } })).toEqual({});
  });

  it('binds every kind of resource to a new function, with stage setting values over catalog defaults', () => {
    const status = s.stack.queues.get('fixtureStatus')!;

    expect(props(fn('fixtureSend').fn)).toMatchObject({
      MemorySize: 512,
      Timeout: 6,
      Environment: {
        Variables: {
          FIXTURE_INBOX_TABLE: ref(s.stack.tables.get('fixtureInbox')!),
          IDENTITIES_TABLE: ref(s.stack.tables.get('identities')!),
          FIXTURE_EVENTS_TOPIC_ARN: ref(s.stack.topics.get('fixtureEvents')!),
          FIXTURE_STATUS_QUEUE_URL: ref(status.queue),
          FIXTURE_KEY_ARN: ref(s.stack.secrets.get('fixtureKey')!),
          FIXTURE_MIN_AUDIENCE_SIZE: stages.dev.settings.minAudienceSize,
        },
      },
    });
  });

  it('grants index access only with table access', () => {
    const inbox = logicalId(s.stack.tables.get('fixtureInbox')!);
    const indexResource = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [inbox, 'Arn'] }, '/index/*']] };
    const reads = statementsOfRole(s.json, logicalId(fn('fixtureList').role)).filter((st) => mentions(st, inbox));

    expect(reads).toEqual([expect.objectContaining({ Resource: [{ 'Fn::GetAtt': [inbox, 'Arn'] }, indexResource] })]);
    expect(reads.flatMap(actionsOf)).not.toContain('dynamodb:PutItem');
  });

  it('wires the new stream and queue triggers', () => {
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: ref(fn('fixtureRemovals').fn),
      EventSourceArn: { 'Fn::GetAtt': [logicalId(s.stack.tables.get('fixtureInbox')!), 'StreamArn'] },
      MaximumRetryAttempts: 3,
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ eventName: ['REMOVE', 'MODIFY'] }) }] },
      DestinationConfig: { OnFailure: { Destination: arnOf(s.stack.queues.get('fixtureStreamFailures')!.queue) } },
    });
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: ref(fn('fixtureStatus').fn),
      BatchSize: 25,
      MaximumBatchingWindowInSeconds: 2,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /fixture/send', AuthorizationType: 'JWT' });
  });

  it('rejects an inconsistent catalog before creating anything', () => {
    const broken: CatalogShape = {
      ...extendedCatalog,
      functions: {
        ...extendedCatalog.functions,
        orphan: { entry: 'x.ts', side: 'consent', description: 'x', trigger: { kind: 'queue', queue: 'nope', batchSize: 1 } },
      },
    };

    expect(() => synth({ projectRoot: root, catalog: broken })).toThrow(/unknown queue nope/);
  });

  it('rejects a queue whose visibility timeout is shorter than its consumer timeout', () => {
    const tooShort: CatalogShape = {
      ...extendedCatalog,
      queues: { ...extendedCatalog.queues, fixtureStatus: { ...extendedCatalog.queues.fixtureStatus, visibilityTimeoutSeconds: 10 } },
    };

    expect(() => synth({ projectRoot: root, catalog: tooShort })).toThrow(/visibility timeout 10 s is below the 20 s timeout/);
  });
});

describe.each([
  ['service catalog', catalog as CatalogShape],
  ['extended catalog', extendedCatalog as CatalogShape],
])('data classes (%s)', (_label, c) => {
  let root: string;
  let s: Synthesized;

  beforeAll(() => {
    root = stubProjectRoot(c);
    s = synth({ projectRoot: root, catalog: c });
  });
  afterAll(() => removeProjectRoot(root));

  it('no function that does not list a messages table can reach it', () => {
    const messageTables = Object.entries(c.tables).filter(([, spec]) => spec.dataClass === 'messages');
    const reach: string[] = [];
    const expected: string[] = [];

    for (const [fnName, spec] of Object.entries(c.functions)) {
      const statements = statementsOfRole(s.json, logicalId(s.stack.functions.get(fnName)!.role));
      for (const [table] of messageTables) {
        const listed =
          Object.hasOwn(spec.tables ?? {}, table) || (spec.trigger.kind === 'stream' && spec.trigger.table === table) || (spec.streams ?? []).includes(table);
        if (listed) expected.push(`${fnName}→${table}`);
        if (statements.some((st) => mentions(st, logicalId(s.stack.tables.get(table)!)))) reach.push(`${fnName}→${table}`);
      }
    }

    expect(reach.sort()).toEqual(expected.sort());
  });

  it('lets only user routes serve a data subject across data classes', () => {
    for (const [fnName, spec] of Object.entries(c.functions)) {
      if (!spec.dataSubjectAccess) continue;
      expect({ fnName, trigger: spec.trigger }).toEqual({ fnName, trigger: expect.objectContaining({ kind: 'http', auth: ['user'] }) });
    }
  });

  it('no function on the audience side has any grant on an identity or messages table', () => {
    const messageIds = Object.entries(c.tables)
      .filter(([, spec]) => spec.dataClass === 'messages' || spec.dataClass === 'identity')
      .map(([name]) => logicalId(s.stack.tables.get(name)!));
    const audienceSide = Object.entries(c.functions).filter(([, spec]) => spec.side === 'audience');
    expect(audienceSide.length).toBeGreaterThan(0);

    for (const [fnName] of audienceSide) {
      const statements = statementsOfRole(s.json, logicalId(s.stack.functions.get(fnName)!.role));
      expect({ fnName, grants: statements.filter((st) => messageIds.some((id) => mentions(st, id))) }).toEqual({ fnName, grants: [] });
    }
  });
});
