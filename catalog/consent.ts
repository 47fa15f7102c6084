import type { CryptoKeySpec, FunctionSpec, QueueSpec, SecretSpec, SettingSpec, TableSpec, TopicSpec } from './types';

/** Accounts, consent, policies and the consumers of consent changes. */

export const consentTables = {
  /**
   * The identity table, the only place phone numbers and emails are stored:
   * each user's identifiers and the claims that bind each value to one user
   * (functions/tables/identities.ts). Only the functions that bind, erase,
   * export or look up identifiers, and the one that turns them into match
   * keys, are granted anything on it.
   */
  identities: {
    env: 'IDENTITIES_TABLE',
    partitionKey: { name: 'pk', type: 'S' },
    ttlAttribute: 'expiresAt',
    dataClass: 'identity',
  },
  /**
   * Account state without identifiers: each user's current consent and
   * erasure, and the stored answers of idempotent decisions (TTL)
   * (functions/tables/consent-states.ts).
   */
  consentStates: {
    env: 'CONSENT_STATES_TABLE',
    partitionKey: { name: 'pk', type: 'S' },
    ttlAttribute: 'expiresAt',
    dataClass: 'consent',
  },
  /**
   * The consent ledger, append-only, and the outbox: one receipt a recorded
   * decision, kept as proof, and other account events, kept a week (TTL).
   * Its stream feeds the publisher (functions/tables/ledger.ts).
   */
  ledger: {
    env: 'LEDGER_TABLE',
    partitionKey: { name: 'userId', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    ttlAttribute: 'expiresAt',
    stream: 'NEW_IMAGE',
    dataClass: 'consent',
    appendOnly: true,
  },
  /** Every published policy version and the current one (functions/tables/policies.ts). */
  policies: {
    env: 'POLICIES_TABLE',
    partitionKey: { name: 'pk', type: 'S' },
    dataClass: 'config',
  },
  /**
   * Keyed identifiers of the users whose `ads_targeting` is granted, and what
   * was applied for each user (functions/tables/match-index.ts).
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
  /** `ConsentChanged`, `IdentifiersChanged`, `IdentifierLost` and `AccountErased` events. */
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
  /**
   * The verification outbox: one message a code to send, carrying only the
   * verification id (never the code, the number or the address); the sender
   * reads the destination from the identity table and derives the code.
   */
  verificationOutbox: {
    env: 'VERIFICATION_OUTBOX_QUEUE_URL',
    visibilityTimeoutSeconds: 60,
    maxReceiveCount: 5,
  },
  /**
   * On-failure records of the ledger stream (pointers to the records the
   * publisher gave up on), replayed by `replayAccountEvents`: ten tries a
   * minute apart, then its dead-letter queue and `npm run redrive`.
   */
  ledgerStreamFailures: {
    env: 'LEDGER_STREAM_FAILURES_QUEUE_URL',
    visibilityTimeoutSeconds: 60,
    maxReceiveCount: 10,
  },
  /**
   * Global Privacy Control signals seen by user routes that do not record
   * decisions themselves (user id and the consent version they saw, nothing
   * else), for `applyGpc`, which records the denial.
   */
  gpcSignals: {
    env: 'GPC_SIGNALS_QUEUE_URL',
    visibilityTimeoutSeconds: 60,
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
  /** Key of the one-time codes (derived per verification) and of the rate counters of numbers and addresses. */
  verificationKey: {
    env: 'VERIFICATION_KEY_SECRET_ARN',
    localEnv: 'LOCAL_VERIFICATION_KEY',
    description: 'HMAC-SHA256 key that derives one-time codes and keys per-identifier rate counters; never logged',
  },
} as const satisfies Record<string, SecretSpec>;

export const consentKeys = {
  /**
   * Signs consent receipts (ES256, compact JWS). Deployed: an asymmetric
   * ECC_NIST_P256 key in AWS KMS whose private half never leaves it; only the
   * functions that record decisions may sign with it.
   */
  receiptSigning: {
    env: 'RECEIPT_SIGNING_KEY_ARN',
    localEnv: 'LOCAL_RECEIPT_SIGNING_JWK',
    usage: 'sign',
    description: 'ES256 key that signs consent receipts',
  },
} as const satisfies Record<string, CryptoKeySpec>;

export const consentSettings = {
  retiredReceiptKeys: {
    env: 'RETIRED_RECEIPT_KEYS',
    description:
      'Public JWKs (a JSON array) of the receipt signing keys used before the current one: still published, so receipts they signed keep verifying (README, "Rotating the receipt key")',
    default: '[]',
  },
  idempotencyTtlSeconds: {
    env: 'IDEMPOTENCY_TTL_SECONDS',
    description: 'How long an Idempotency-Key answer is replayed',
    default: '86400',
  },
  verificationAccountLimit: {
    env: 'VERIFICATION_ACCOUNT_LIMIT',
    description: 'Verifications (phone and email) one account may start per verificationAccountWindowSeconds',
    default: '5',
  },
  verificationAccountWindowSeconds: {
    env: 'VERIFICATION_ACCOUNT_WINDOW_SECONDS',
    description: 'The rolling window of verificationAccountLimit, in seconds',
    default: '3600',
  },
  verificationIdentifierLimit: {
    env: 'VERIFICATION_IDENTIFIER_LIMIT',
    description: 'Codes sent to one number or address per verificationIdentifierWindowSeconds, whoever asks',
    default: '10',
  },
  verificationIdentifierWindowSeconds: {
    env: 'VERIFICATION_IDENTIFIER_WINDOW_SECONDS',
    description: 'The rolling window of verificationIdentifierLimit, in seconds',
    default: '86400',
  },
  verificationEmailFrom: {
    env: 'VERIFICATION_EMAIL_FROM',
    description: 'The From address of verification emails (an address of verificationEmailIdentity)',
    default: 'no-reply@example.com',
  },
  verificationEmailIdentity: {
    env: 'VERIFICATION_EMAIL_IDENTITY',
    description: 'The verified Amazon SES identity (domain or address) the sender may send from; its ARN is the only SES grant',
    default: 'example.com',
  },
} as const satisfies Record<string, SettingSpec>;

const anyone = ['user', 'business', 'operator'] as const;
const verificationLimits = [
  'verificationAccountLimit',
  'verificationAccountWindowSeconds',
  'verificationIdentifierLimit',
  'verificationIdentifierWindowSeconds',
] as const;

export const consentFunctions = {
  startPhoneVerification: {
    entry: 'functions/start-phone-verification/handler.ts',
    side: 'consent',
    description: 'POST /v1/me/phone/verification: send a one-time code to a number',
    trigger: { kind: 'http', method: 'POST', path: '/v1/me/phone/verification', auth: ['user'] },
    tables: { identities: 'readWrite', consentStates: 'read' },
    queues: ['verificationOutbox', 'gpcSignals'],
    secrets: ['verificationKey'],
    settings: verificationLimits,
  },
  startEmailVerification: {
    entry: 'functions/start-email-verification/handler.ts',
    side: 'consent',
    description: 'POST /v1/me/email/verification: send a one-time code to an address',
    trigger: { kind: 'http', method: 'POST', path: '/v1/me/email/verification', auth: ['user'] },
    tables: { identities: 'readWrite', consentStates: 'read' },
    queues: ['verificationOutbox', 'gpcSignals'],
    secrets: ['verificationKey'],
    settings: verificationLimits,
  },
  putPhone: {
    entry: 'functions/put-phone/handler.ts',
    side: 'consent',
    description: 'PUT /v1/me/phone: bind a verified number to the caller (it moves from an earlier holder)',
    trigger: { kind: 'http', method: 'PUT', path: '/v1/me/phone', auth: ['user'] },
    tables: { identities: 'readWrite', ledger: 'append', consentStates: 'read' },
    secrets: ['verificationKey'],
    queues: ['gpcSignals'],
  },
  putEmail: {
    entry: 'functions/put-email/handler.ts',
    side: 'consent',
    description: 'PUT /v1/me/email: bind a verified address to the caller (it moves from an earlier holder)',
    trigger: { kind: 'http', method: 'PUT', path: '/v1/me/email', auth: ['user'] },
    tables: { identities: 'readWrite', ledger: 'append', consentStates: 'read' },
    secrets: ['verificationKey'],
    queues: ['gpcSignals'],
  },
  sendVerification: {
    entry: 'functions/send-verification/handler.ts',
    side: 'consent',
    description: 'Sends the one-time codes of the verification outbox by SMS (Amazon SNS) and email (Amazon SES)',
    timeoutSeconds: 10,
    trigger: { kind: 'queue', queue: 'verificationOutbox', batchSize: 10 },
    tables: { identities: 'read' },
    secrets: ['verificationKey'],
    settings: ['verificationEmailFrom', 'verificationEmailIdentity'],
    delivers: ['sms', 'email'],
  },
  createPolicy: {
    entry: 'functions/create-policy/handler.ts',
    side: 'consent',
    description: 'POST /v1/policies: publish a privacy policy version',
    trigger: { kind: 'http', method: 'POST', path: '/v1/policies', auth: ['operator'] },
    tables: { policies: 'readWrite' },
  },
  getCurrentPolicy: {
    entry: 'functions/get-current-policy/handler.ts',
    side: 'consent',
    description: 'GET /v1/policies/current',
    trigger: { kind: 'http', method: 'GET', path: '/v1/policies/current', auth: anyone },
    tables: { policies: 'read' },
  },
  getConsent: {
    entry: 'functions/get-consent/handler.ts',
    side: 'consent',
    description: 'GET /v1/me/consent',
    trigger: { kind: 'http', method: 'GET', path: '/v1/me/consent', auth: ['user'] },
    tables: { consentStates: 'read', policies: 'read' },
    queues: ['gpcSignals'],
  },
  putConsent: {
    entry: 'functions/put-consent/handler.ts',
    side: 'consent',
    description: 'PUT /v1/me/consent: record a decision and its receipt',
    trigger: { kind: 'http', method: 'PUT', path: '/v1/me/consent', auth: ['user'] },
    tables: { consentStates: 'readWrite', ledger: 'append', policies: 'read' },
    keys: { receiptSigning: 'sign' },
    settings: ['idempotencyTtlSeconds'],
  },
  getConsentHistory: {
    entry: 'functions/get-consent-history/handler.ts',
    side: 'consent',
    description: 'GET /v1/me/consent/history',
    trigger: { kind: 'http', method: 'GET', path: '/v1/me/consent/history', auth: ['user'] },
    tables: { ledger: 'read', consentStates: 'read' },
    queues: ['gpcSignals'],
  },
  exportMe: {
    entry: 'functions/export-me/handler.ts',
    side: 'consent',
    description: 'GET /v1/me/export: everything stored about the caller',
    trigger: { kind: 'http', method: 'GET', path: '/v1/me/export', auth: ['user'] },
    dataSubjectAccess: true,
    tables: {
      identities: 'read',
      consentStates: 'read',
      ledger: 'read',
      policies: 'read',
      audienceMemberships: 'read',
      audiences: 'read',
      messages: 'read',
      recipients: 'read',
    },
    queues: ['gpcSignals'],
    keys: { receiptSigning: 'publish' },
    settings: ['retiredReceiptKeys'],
  },
  eraseMe: {
    entry: 'functions/erase-me/handler.ts',
    side: 'consent',
    description: "DELETE /v1/me: erase the caller's phone and email; every consumer forgets them",
    trigger: { kind: 'http', method: 'DELETE', path: '/v1/me', auth: ['user'] },
    tables: { identities: 'readWrite', consentStates: 'readWrite', ledger: 'append' },
    queues: ['gpcSignals'],
  },
  getJwks: {
    entry: 'functions/get-jwks/handler.ts',
    side: 'consent',
    description: 'GET /.well-known/jwks.json: the public keys that sign consent receipts, past ones included',
    trigger: { kind: 'http', method: 'GET', path: '/.well-known/jwks.json', auth: 'public' },
    keys: { receiptSigning: 'publish' },
    settings: ['retiredReceiptKeys'],
  },
  applyGpc: {
    entry: 'functions/apply-gpc/handler.ts',
    side: 'consent',
    description: 'Records the ads_targeting denial of a Global Privacy Control signal, once, unless a newer decision came first',
    trigger: { kind: 'queue', queue: 'gpcSignals', batchSize: 10 },
    tables: { consentStates: 'readWrite', ledger: 'append' },
    keys: { receiptSigning: 'sign' },
  },
  openapi: {
    entry: 'functions/openapi/handler.ts',
    side: 'consent',
    description: 'GET /openapi.json: the OpenAPI 3.1 document',
    trigger: { kind: 'http', method: 'GET', path: '/openapi.json', auth: 'public' },
  },
  notFound: {
    entry: 'functions/not-found/handler.ts',
    side: 'consent',
    description: 'Every unknown route: a 404 problem document',
    trigger: { kind: 'http-default' },
  },
  publishAccountEvents: {
    entry: 'functions/publish-account-events/handler.ts',
    side: 'consent',
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
  replayAccountEvents: {
    entry: 'functions/replay-account-events/handler.ts',
    side: 'consent',
    description: "Replays the ledger stream records the publisher gave up on, so no account event waits for the user's next change",
    trigger: { kind: 'queue', queue: 'ledgerStreamFailures', batchSize: 1 },
    streams: ['ledger'],
    topics: ['accountEvents'],
  },
  applyMatchIndex: {
    entry: 'functions/apply-match-index/handler.ts',
    side: 'consent',
    description: 'Keeps the match index to the users who granted ads_targeting',
    timeoutSeconds: 10,
    // Batches of up to 100 (a second's window at most): 3 BatchGetItems and a conditional write or two a user (README, "Consent consumers").
    trigger: { kind: 'queue', queue: 'matchIndexEvents', batchSize: 100, maxBatchingWindowSeconds: 1, maxConcurrency: 4 },
    tables: { identities: 'read', consentStates: 'read', matchIndex: 'readWrite' },
    secrets: ['pepper'],
  },
  applySuggestions: {
    entry: 'functions/apply-suggestions/handler.ts',
    side: 'consent',
    description: 'Keeps the set of users who allow friend suggestions',
    timeoutSeconds: 10,
    trigger: { kind: 'queue', queue: 'suggestionsEvents', batchSize: 100, maxBatchingWindowSeconds: 1, maxConcurrency: 4 },
    tables: { consentStates: 'read', suggestions: 'readWrite' },
  },
} as const satisfies Record<string, FunctionSpec>;
