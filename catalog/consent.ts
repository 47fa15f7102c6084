import type { FunctionSpec, QueueSpec, SecretSpec, SettingSpec, TableSpec, TopicSpec } from './types';

/** Accounts, consent, policies and the consumers of consent changes. */

export const consentTables = {
  /**
   * `user#<id>`: phone, email and the current consent state.
   * `phone#<e164>` / `email#<address>`: uniqueness claims.
   * `idem#<userId>#<key>`: stored answers of idempotent requests (TTL).
   */
  accounts: {
    env: 'ACCOUNTS_TABLE',
    partitionKey: { name: 'pk', type: 'S' },
    ttlAttribute: 'expiresAt',
    dataClass: 'identity',
  },
  /**
   * The consent ledger and the outbox. `c#<version>`: one consent receipt a
   * decision, kept as proof. `e#<time>#<id>`: other account events (TTL).
   * Its stream feeds the publisher.
   */
  ledger: {
    env: 'LEDGER_TABLE',
    partitionKey: { name: 'userId', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    ttlAttribute: 'expiresAt',
    stream: 'NEW_IMAGE',
    dataClass: 'consent',
  },
  /** `policy#<version>` and the `current` pointer. */
  policies: {
    env: 'POLICIES_TABLE',
    partitionKey: { name: 'pk', type: 'S' },
    dataClass: 'config',
  },
  /**
   * `k#<keyed identifier>` → user id, only for users whose `ads_targeting` is
   * granted; `u#<userId>`: the version and keys applied for that user.
   */
  matchIndex: {
    env: 'MATCH_INDEX_TABLE',
    partitionKey: { name: 'pk', type: 'S' },
    dataClass: 'audience',
  },
  /** One item a user: whether friend suggestions may use their number. */
  suggestions: {
    env: 'SUGGESTIONS_TABLE',
    partitionKey: { name: 'userId', type: 'S' },
    dataClass: 'consent',
  },
} as const satisfies Record<string, TableSpec>;

export const consentTopics = {
  /** `ConsentChanged`, `IdentifiersChanged` and `AccountErased` events. */
  accountEvents: { env: 'ACCOUNT_EVENTS_TOPIC_ARN' },
} as const satisfies Record<string, TopicSpec>;

export const consentQueues = {
  matchIndexEvents: {
    env: 'MATCH_INDEX_EVENTS_QUEUE_URL',
    visibilityTimeoutSeconds: 60,
    maxReceiveCount: 5,
    subscription: { topic: 'accountEvents' },
  },
  suggestionsEvents: {
    env: 'SUGGESTIONS_EVENTS_QUEUE_URL',
    visibilityTimeoutSeconds: 60,
    maxReceiveCount: 5,
    subscription: { topic: 'accountEvents', eventTypes: ['ConsentChanged', 'AccountErased'] },
  },
  /** Records of the ledger stream that the publisher could not publish. */
  ledgerStreamFailures: {
    env: 'LEDGER_STREAM_FAILURES_QUEUE_URL',
    visibilityTimeoutSeconds: 30,
    maxReceiveCount: 5,
  },
} as const satisfies Record<string, QueueSpec>;

export const consentSecrets = {
  /** Key of the HMAC that turns identifiers into match keys. */
  pepper: {
    env: 'PEPPER_SECRET_ARN',
    localEnv: 'LOCAL_PEPPER',
    description: 'HMAC-SHA256 key for match keys; never logged',
  },
} as const satisfies Record<string, SecretSpec>;

export const consentSettings = {
  idempotencyTtlSeconds: {
    env: 'IDEMPOTENCY_TTL_SECONDS',
    description: 'How long an Idempotency-Key answer is replayed',
    default: '86400',
  },
} as const satisfies Record<string, SettingSpec>;

const anyone = ['user', 'business', 'operator'] as const;

export const consentFunctions = {
  putPhone: {
    entry: 'functions/put-phone/handler.ts',
    description: "PUT /v1/me/phone: bind the caller's phone number",
    trigger: { kind: 'http', method: 'PUT', path: '/v1/me/phone', auth: ['user'] },
    tables: { accounts: 'readWrite', ledger: 'write' },
  },
  putEmail: {
    entry: 'functions/put-email/handler.ts',
    description: "PUT /v1/me/email: bind the caller's email address",
    trigger: { kind: 'http', method: 'PUT', path: '/v1/me/email', auth: ['user'] },
    tables: { accounts: 'readWrite', ledger: 'write' },
  },
  createPolicy: {
    entry: 'functions/create-policy/handler.ts',
    description: 'POST /v1/policies: publish a privacy policy version',
    trigger: { kind: 'http', method: 'POST', path: '/v1/policies', auth: ['operator'] },
    tables: { policies: 'readWrite' },
  },
  getCurrentPolicy: {
    entry: 'functions/get-current-policy/handler.ts',
    description: 'GET /v1/policies/current',
    trigger: { kind: 'http', method: 'GET', path: '/v1/policies/current', auth: anyone },
    tables: { policies: 'read' },
  },
  getConsent: {
    entry: 'functions/get-consent/handler.ts',
    description: 'GET /v1/me/consent',
    trigger: { kind: 'http', method: 'GET', path: '/v1/me/consent', auth: ['user'] },
    tables: { accounts: 'read', policies: 'read' },
  },
  putConsent: {
    entry: 'functions/put-consent/handler.ts',
    description: 'PUT /v1/me/consent: record a decision and its receipt',
    trigger: { kind: 'http', method: 'PUT', path: '/v1/me/consent', auth: ['user'] },
    tables: { accounts: 'readWrite', ledger: 'write', policies: 'read' },
    settings: ['idempotencyTtlSeconds'],
  },
  getConsentHistory: {
    entry: 'functions/get-consent-history/handler.ts',
    description: 'GET /v1/me/consent/history',
    trigger: { kind: 'http', method: 'GET', path: '/v1/me/consent/history', auth: ['user'] },
    tables: { ledger: 'read' },
  },
  exportMe: {
    entry: 'functions/export-me/handler.ts',
    description: 'GET /v1/me/export: everything stored about the caller',
    trigger: { kind: 'http', method: 'GET', path: '/v1/me/export', auth: ['user'] },
    dataSubjectAccess: true,
    tables: { accounts: 'read', ledger: 'read', policies: 'read', audienceMemberships: 'read', audiences: 'read', messages: 'read' },
  },
  eraseMe: {
    entry: 'functions/erase-me/handler.ts',
    description: "DELETE /v1/me: erase the caller's phone and email; every consumer forgets them",
    trigger: { kind: 'http', method: 'DELETE', path: '/v1/me', auth: ['user'] },
    tables: { accounts: 'readWrite', ledger: 'write' },
  },
  openapi: {
    entry: 'functions/openapi/handler.ts',
    description: 'GET /openapi.json: the OpenAPI 3.1 document',
    trigger: { kind: 'http', method: 'GET', path: '/openapi.json', auth: 'public' },
  },
  notFound: {
    entry: 'functions/not-found/handler.ts',
    description: 'Every unknown route: a 404 problem document',
    trigger: { kind: 'http-default' },
  },
  publishAccountEvents: {
    entry: 'functions/publish-account-events/handler.ts',
    description: 'Ledger stream (the outbox) to the account-events topic',
    trigger: {
      kind: 'stream',
      table: 'ledger',
      batchSize: 100,
      retryAttempts: 10,
      eventNames: ['INSERT'],
      onFailure: 'ledgerStreamFailures',
    },
    topics: ['accountEvents'],
  },
  applyMatchIndex: {
    entry: 'functions/apply-match-index/handler.ts',
    description: 'Keeps the match index to the users who granted ads_targeting',
    timeoutSeconds: 10,
    trigger: { kind: 'queue', queue: 'matchIndexEvents', batchSize: 10 },
    tables: { accounts: 'read', matchIndex: 'readWrite' },
    secrets: ['pepper'],
  },
  applySuggestions: {
    entry: 'functions/apply-suggestions/handler.ts',
    description: 'Keeps the set of users who allow friend suggestions',
    timeoutSeconds: 10,
    trigger: { kind: 'queue', queue: 'suggestionsEvents', batchSize: 10 },
    tables: { accounts: 'read', suggestions: 'readWrite' },
  },
} as const satisfies Record<string, FunctionSpec>;
