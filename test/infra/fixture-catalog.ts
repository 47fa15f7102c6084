import { catalog } from '../../catalog';
import type { CatalogShape } from '../../catalog';

/**
 * The service catalog plus entries the stack has never seen: a TTL'd table of
 * the `messages` data class with a stream and an index, a topic, a filtered
 * subscription, a plain queue, a secret, a setting, and functions of every
 * trigger kind that use them. The stack must give all of them infrastructure
 * without a change. The setting is one a stage already has a value for
 * (`minAudienceSize`), as when a catalog setting lands after its stage value.
 */
export const extendedCatalog = {
  tables: {
    ...catalog.tables,
    fixtureInbox: {
      env: 'FIXTURE_INBOX_TABLE',
      partitionKey: { name: 'pk', type: 'S' },
      sortKey: { name: 'sk', type: 'S' },
      ttlAttribute: 'expiresAt',
      stream: 'OLD_IMAGE',
      globalIndexes: [{ name: 'bySender', partitionKey: { name: 'senderId', type: 'S' }, sortKey: { name: 'acceptedAt', type: 'N' } }],
      dataClass: 'messages',
    },
  },
  topics: { ...catalog.topics, fixtureEvents: { env: 'FIXTURE_EVENTS_TOPIC_ARN' } },
  keys: catalog.keys,
  queues: {
    ...catalog.queues,
    fixtureStatus: {
      env: 'FIXTURE_STATUS_QUEUE_URL',
      visibilityTimeoutSeconds: 120,
      maxReceiveCount: 3,
      subscription: { topic: 'fixtureEvents', eventTypes: ['FixtureExpired'] },
    },
    fixtureStreamFailures: { env: 'FIXTURE_STREAM_FAILURES_QUEUE_URL', visibilityTimeoutSeconds: 30, maxReceiveCount: 4 },
  },
  secrets: { ...catalog.secrets, fixtureKey: { env: 'FIXTURE_KEY_ARN', localEnv: 'FIXTURE_LOCAL_KEY', description: 'fixture' } },
  settings: {
    ...catalog.settings,
    minAudienceSize: { env: 'FIXTURE_MIN_AUDIENCE_SIZE', description: 'fixture', default: '5' },
  },
  functions: {
    ...catalog.functions,
    fixtureSend: {
      entry: 'functions/fixture-send/handler.ts',
      side: 'messages',
      description: 'fixture: POST /fixture/send',
      memoryMB: 512,
      timeoutSeconds: 6,
      trigger: { kind: 'http', method: 'POST', path: '/fixture/send', auth: ['business'] },
      tables: { fixtureInbox: 'readWrite', identities: 'read' },
      topics: ['fixtureEvents'],
      queues: ['fixtureStatus'],
      secrets: ['fixtureKey'],
      settings: ['minAudienceSize'],
    },
    fixtureList: {
      entry: 'functions/fixture-list/handler.ts',
      side: 'messages',
      description: 'fixture: GET /fixture/list',
      trigger: { kind: 'http', method: 'GET', path: '/fixture/list', auth: ['user'] },
      tables: { fixtureInbox: 'read' },
    },
    fixtureRemovals: {
      entry: 'functions/fixture-removals/handler.ts',
      side: 'messages',
      description: 'fixture: inbox stream, removals and changes',
      trigger: { kind: 'stream', table: 'fixtureInbox', batchSize: 50, retryAttempts: 3, eventNames: ['REMOVE', 'MODIFY'], onFailure: 'fixtureStreamFailures' },
      topics: ['fixtureEvents'],
    },
    fixtureStatus: {
      entry: 'functions/fixture-status/handler.ts',
      side: 'messages',
      description: 'fixture: status updates',
      timeoutSeconds: 20,
      trigger: { kind: 'queue', queue: 'fixtureStatus', batchSize: 25, maxBatchingWindowSeconds: 2 },
      tables: { fixtureInbox: 'write' },
    },
  },
} as const satisfies CatalogShape;
