import type { FunctionSpec, QueueSpec, SecretSpec, SettingSpec, TableSpec, TopicSpec } from './types';

/**
 * Custom audiences: tables, queues, settings and functions.
 *
 * Flow: the upload routes validate a batch, key every cell with the pepper
 * (the business's raw SHA-256 values exist only in the request's memory),
 * put the keyed rows on `audienceMatching` in chunks, then record the batch
 * in its session. The matcher looks the keys up in the match index, writes
 * memberships and keeps exact counts on the audience item. A third consumer
 * of the account events removes users who deny `ads_targeting` (or are
 * erased) from every audience. Deleting an audience hides it at once and
 * `audienceCleanup` removes its memberships.
 */

const pk = { name: 'pk', type: 'S' } as const;
const sk = { name: 'sk', type: 'S' } as const;

export const audiencesTables = {
  /**
   * Audiences keyed by their business (name, source, exact counts per
   * expiry day, revision, matching lease, deletion tombstone, the size
   * release shown and what the release rule records of its batches), each
   * business's audience quota and its size-release budget
   * (functions/tables/audiences.ts).
   */
  audiences: {
    env: 'AUDIENCES_TABLE',
    partitionKey: pk,
    sortKey: sk,
    ttlAttribute: 'expiresAt',
    dataClass: 'audience',
  },
  /**
   * One item a user and audience the user is in, until `expiresAt` (TTL):
   * 540 days after the upload that last matched them. One Query answers the
   * ops lookup; the `byAudience` index enumerates an audience's members when
   * it is deleted (functions/tables/memberships.ts).
   */
  audienceMemberships: {
    env: 'AUDIENCE_MEMBERSHIPS_TABLE',
    partitionKey: pk,
    sortKey: sk,
    ttlAttribute: 'expiresAt',
    globalIndexes: [{ name: 'byAudience', partitionKey: { name: 'audienceId', type: 'S' }, sortKey: { name: 'userId', type: 'S' } }],
    dataClass: 'audience',
  },
  /**
   * Upload sessions, their accepted batches and the write sets of matcher
   * attempts (functions/tables/upload-sessions.ts). Counts, row indexes and
   * user ids only: no identifier, hash or key is stored here.
   */
  uploadSessions: {
    env: 'UPLOAD_SESSIONS_TABLE',
    partitionKey: pk,
    sortKey: sk,
    ttlAttribute: 'expiresAt',
    dataClass: 'audience',
  },
} as const satisfies Record<string, TableSpec>;

export const audiencesTopics = {} as const satisfies Record<string, TopicSpec>;

export const audiencesQueues = {
  /**
   * Keyed chunks of accepted batches (match keys only, base64), for the
   * matcher. FIFO, grouped by audience: the chunks of one audience reach one
   * invocation at a time, which takes the audience's lease once and hands it
   * from chunk to chunk, while audiences are matched in parallel. Nothing
   * waits on a lease another invocation holds (SCALING.md).
   */
  audienceMatching: {
    env: 'AUDIENCE_MATCHING_QUEUE_URL',
    visibilityTimeoutSeconds: 360,
    maxReceiveCount: 10,
    fifo: true,
  },
  /** The audience side's consumer of the account events: denials and erasures leave every audience. */
  audienceConsentEvents: {
    env: 'AUDIENCE_CONSENT_EVENTS_QUEUE_URL',
    visibilityTimeoutSeconds: 180,
    maxReceiveCount: 5,
    subscription: { topic: 'accountEvents', eventTypes: ['ConsentChanged', 'AccountErased', 'IdentifierLost'] },
  },
  /** Deleted audiences whose memberships are still to be removed (one page a message). */
  audienceCleanup: {
    env: 'AUDIENCE_CLEANUP_QUEUE_URL',
    visibilityTimeoutSeconds: 180,
    maxReceiveCount: 5,
  },
} as const satisfies Record<string, QueueSpec>;

export const audiencesSecrets = {
  /** Key of the pseudorandom noise of reported audience sizes (core/audience-count.ts); only the functions that report sizes hold it. */
  countNoiseKey: {
    env: 'COUNT_NOISE_KEY_SECRET_ARN',
    localEnv: 'LOCAL_COUNT_NOISE_KEY',
    description: 'HMAC-SHA256 key seeding the noise of reported audience sizes; never logged',
  },
} as const satisfies Record<string, SecretSpec>;

export const audiencesSettings = {
  minAudienceSize: {
    env: 'MIN_AUDIENCE_SIZE',
    description: 'Audiences below this size report {lower: 0, upper: <size>} and are not targetable (noisy threshold, see core/audience-count.ts)',
    default: '100',
  },
  audienceQuota: {
    env: 'AUDIENCE_QUOTA',
    description: 'Audiences a business may ever create (deleted ones still count)',
    default: '500',
  },
  sessionTimeoutMinutes: {
    env: 'UPLOAD_SESSION_TIMEOUT_MINUTES',
    description: 'An upload session whose last batch never arrives closes this long after its first batch',
    default: '90',
  },
  membershipTtlDays: {
    env: 'MEMBERSHIP_TTL_DAYS',
    description: 'A membership expires this many days after the upload that last matched it (end of that UTC day)',
    default: '540',
  },
  sizeReleasesPerAudiencePerDay: {
    env: 'SIZE_RELEASES_PER_AUDIENCE_PER_DAY',
    description: 'Fresh size counts of one audience in any 24 hours (core/size-release.ts)',
    default: '1',
  },
  sizeReleasesPerBusinessPerDay: {
    env: 'SIZE_RELEASES_PER_BUSINESS_PER_DAY',
    description: "Fresh size counts of all a business's audiences in any 24 hours",
    default: '5',
  },
  sizeReleaseBudget: {
    env: 'SIZE_RELEASE_BUDGET',
    description: "Fresh size counts of all a business's audiences in any SIZE_RELEASE_BUDGET_DAYS days: what bounds membership inference (README)",
    default: '12',
  },
  sizeReleaseBudgetDays: {
    env: 'SIZE_RELEASE_BUDGET_DAYS',
    description: 'The window of SIZE_RELEASE_BUDGET, in days (36500 for a lifetime allowance)',
    default: '365',
  },
  uploadSettleSeconds: {
    env: 'UPLOAD_SETTLE_SECONDS',
    description:
      "A batch's matching shows as over this long after it was accepted (plus the per-chunk time), whatever matched; 0 with a per-chunk time of 0 shows matching when it ends (benchmarks only)",
    default: '30',
  },
  uploadSettleSecondsPerChunk: {
    env: 'UPLOAD_SETTLE_SECONDS_PER_CHUNK',
    description: 'Added to UPLOAD_SETTLE_SECONDS for each chunk of a batch',
    default: '2',
  },
} as const satisfies Record<string, SettingSpec>;

const business = ['business'] as const;

/** What the size-release rule reads (functions/services/size-releases.ts): every function that shows a size, a stage or records a batch gets all of them. */
const releaseSettings = [
  'minAudienceSize',
  'sizeReleasesPerAudiencePerDay',
  'sizeReleasesPerBusinessPerDay',
  'sizeReleaseBudget',
  'sizeReleaseBudgetDays',
  'uploadSettleSeconds',
  'uploadSettleSecondsPerChunk',
] as const;

export const audiencesFunctions = {
  createAudience: {
    entry: 'functions/create-audience/handler.ts',
    side: 'audience',
    description: 'POST /v1/audiences: create a custom audience within the quota',
    trigger: { kind: 'http', method: 'POST', path: '/v1/audiences', auth: business },
    tables: { audiences: 'readWrite' },
    settings: ['audienceQuota', ...releaseSettings],
  },
  listAudiences: {
    entry: 'functions/list-audiences/handler.ts',
    side: 'audience',
    description: "GET /v1/audiences: the caller's audiences with their size releases (fresh ones made within the budget)",
    trigger: { kind: 'http', method: 'GET', path: '/v1/audiences', auth: business },
    tables: { audiences: 'readWrite', webhooks: 'read' },
    secrets: ['countNoiseKey'],
    queues: ['webhookDeliveries'],
    settings: releaseSettings,
  },
  getAudience: {
    entry: 'functions/get-audience/handler.ts',
    side: 'audience',
    description: 'GET /v1/audiences/{id}: one audience with its size release (a fresh one made within the budget)',
    trigger: { kind: 'http', method: 'GET', path: '/v1/audiences/{id}', auth: business },
    tables: { audiences: 'readWrite', webhooks: 'read' },
    secrets: ['countNoiseKey'],
    queues: ['webhookDeliveries'],
    settings: releaseSettings,
  },
  deleteAudience: {
    entry: 'functions/delete-audience/handler.ts',
    side: 'audience',
    description: 'DELETE /v1/audiences/{id}: hide the audience at once, remove its memberships asynchronously',
    trigger: { kind: 'http', method: 'DELETE', path: '/v1/audiences/{id}', auth: business },
    tables: { audiences: 'readWrite' },
    queues: ['audienceCleanup'],
  },
  addAudienceUsers: {
    entry: 'functions/add-audience-users/handler.ts',
    side: 'audience',
    description: 'POST /v1/audiences/{id}/users: accept a batch of hashed rows, key it, queue it for matching',
    memoryMB: 512,
    trigger: { kind: 'http', method: 'POST', path: '/v1/audiences/{id}/users', auth: business },
    tables: { audiences: 'readWrite', uploadSessions: 'readWrite' },
    queues: ['audienceMatching'],
    secrets: ['pepper'],
    settings: ['sessionTimeoutMinutes', 'membershipTtlDays', ...releaseSettings],
  },
  removeAudienceUsers: {
    entry: 'functions/remove-audience-users/handler.ts',
    side: 'audience',
    description: 'DELETE /v1/audiences/{id}/users: accept a batch of hashed rows to remove, key it, queue it',
    memoryMB: 512,
    trigger: { kind: 'http', method: 'DELETE', path: '/v1/audiences/{id}/users', auth: business },
    tables: { audiences: 'readWrite', uploadSessions: 'readWrite' },
    queues: ['audienceMatching'],
    secrets: ['pepper'],
    settings: ['sessionTimeoutMinutes', 'membershipTtlDays', ...releaseSettings],
  },
  getUploadSession: {
    entry: 'functions/get-upload-session/handler.ts',
    side: 'audience',
    description: "GET /v1/audiences/{id}/sessions/{sessionId}: an upload session's stage and counters",
    trigger: { kind: 'http', method: 'GET', path: '/v1/audiences/{id}/sessions/{sessionId}', auth: business },
    tables: { audiences: 'read', uploadSessions: 'read' },
    settings: releaseSettings,
  },
  getUserAudiences: {
    entry: 'functions/get-user-audiences/handler.ts',
    side: 'audience',
    description: 'GET /v1/ops/users/{userId}/audiences: the audiences a user is in now (ad delivery)',
    trigger: { kind: 'http', method: 'GET', path: '/v1/ops/users/{userId}/audiences', auth: ['operator'] },
    tables: { consentStates: 'read', audienceMemberships: 'read', audiences: 'read' },
  },
  matchAudienceBatch: {
    entry: 'functions/match-audience-batch/handler.ts',
    side: 'audience',
    description: 'Matches keyed chunks against the match index and writes memberships with exact counts',
    memoryMB: 1024,
    timeoutSeconds: 60,
    // Up to 10 chunks of an audience an invocation (FIFO's most): they look their keys up at once, then take the lease in turn.
    trigger: { kind: 'queue', queue: 'audienceMatching', batchSize: 10 },
    tables: { audiences: 'readWrite', uploadSessions: 'readWrite', audienceMemberships: 'readWrite', matchIndex: 'read', consentStates: 'read' },
    settings: ['membershipTtlDays'],
  },
  applyAudienceConsent: {
    entry: 'functions/apply-audience-consent/handler.ts',
    side: 'audience',
    description: 'Removes users who deny ads_targeting or are erased from every audience',
    // No batching window: an opt-out is on the clock (2 s at p99), and grants cost no read. Batches of 10, more of them at once.
    trigger: { kind: 'queue', queue: 'audienceConsentEvents', batchSize: 10, maxConcurrency: 8 },
    tables: { consentStates: 'read', audienceMemberships: 'readWrite', audiences: 'readWrite' },
  },
  cleanupAudience: {
    entry: 'functions/cleanup-audience/handler.ts',
    side: 'audience',
    description: 'Removes the memberships of deleted audiences, a page at a time',
    trigger: { kind: 'queue', queue: 'audienceCleanup', batchSize: 1 },
    tables: { audiences: 'read', audienceMemberships: 'readWrite' },
    queues: ['audienceCleanup'],
  },
} as const satisfies Record<string, FunctionSpec>;
