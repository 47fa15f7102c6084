// Generated from catalog/ by `npm run generate:catalog`; test/unit/runtime-catalog.test.ts fails when it is stale.
// What a function reads of the catalog at run time, as plain data, so that no bundle carries the catalog itself.
import type { FunctionName, KeyName, QueueName, RuntimeRoute, SecretName, SettingName, TableName, TopicName } from '../../catalog';

/** Environment variable holding each table name. */
export const tableEnv = {
  identities: 'IDENTITIES_TABLE',
  consentStates: 'CONSENT_STATES_TABLE',
  ledger: 'LEDGER_TABLE',
  policies: 'POLICIES_TABLE',
  matchIndex: 'MATCH_INDEX_TABLE',
  suggestions: 'SUGGESTIONS_TABLE',
  audiences: 'AUDIENCES_TABLE',
  audienceMemberships: 'AUDIENCE_MEMBERSHIPS_TABLE',
  uploadSessions: 'UPLOAD_SESSIONS_TABLE',
  messages: 'MESSAGES_TABLE',
  messageStatus: 'MESSAGE_STATUS_TABLE',
  recipients: 'RECIPIENTS_TABLE',
  webhooks: 'WEBHOOKS_TABLE',
} as const satisfies Record<TableName, string>;

/** Environment variable holding each topic ARN. */
export const topicEnv = {
  accountEvents: 'ACCOUNT_EVENTS_TOPIC_ARN',
} as const satisfies Record<TopicName, string>;

/** Environment variables holding each queue's URL and its dead-letter queue's URL. */
export const queueEnv = {
  matchIndexEvents: {
    env: 'MATCH_INDEX_EVENTS_QUEUE_URL',
    deadLetterEnv: 'MATCH_INDEX_EVENTS_DEAD_LETTER_QUEUE_URL',
  },
  suggestionsEvents: {
    env: 'SUGGESTIONS_EVENTS_QUEUE_URL',
    deadLetterEnv: 'SUGGESTIONS_EVENTS_DEAD_LETTER_QUEUE_URL',
  },
  verificationOutbox: {
    env: 'VERIFICATION_OUTBOX_QUEUE_URL',
    deadLetterEnv: 'VERIFICATION_OUTBOX_DEAD_LETTER_QUEUE_URL',
  },
  ledgerStreamFailures: {
    env: 'LEDGER_STREAM_FAILURES_QUEUE_URL',
    deadLetterEnv: 'LEDGER_STREAM_FAILURES_DEAD_LETTER_QUEUE_URL',
  },
  gpcSignals: {
    env: 'GPC_SIGNALS_QUEUE_URL',
    deadLetterEnv: 'GPC_SIGNALS_DEAD_LETTER_QUEUE_URL',
  },
  audienceMatching: {
    env: 'AUDIENCE_MATCHING_QUEUE_URL',
    deadLetterEnv: 'AUDIENCE_MATCHING_DEAD_LETTER_QUEUE_URL',
  },
  audienceConsentEvents: {
    env: 'AUDIENCE_CONSENT_EVENTS_QUEUE_URL',
    deadLetterEnv: 'AUDIENCE_CONSENT_EVENTS_DEAD_LETTER_QUEUE_URL',
  },
  audienceCleanup: {
    env: 'AUDIENCE_CLEANUP_QUEUE_URL',
    deadLetterEnv: 'AUDIENCE_CLEANUP_DEAD_LETTER_QUEUE_URL',
  },
  messageAccountEvents: {
    env: 'MESSAGE_ACCOUNT_EVENTS_QUEUE_URL',
    deadLetterEnv: 'MESSAGE_ACCOUNT_EVENTS_DEAD_LETTER_QUEUE_URL',
  },
  messageStreamFailures: {
    env: 'MESSAGE_STREAM_FAILURES_QUEUE_URL',
    deadLetterEnv: 'MESSAGE_STREAM_FAILURES_DEAD_LETTER_QUEUE_URL',
  },
  webhookDeliveries: {
    env: 'WEBHOOK_DELIVERIES_QUEUE_URL',
    deadLetterEnv: 'WEBHOOK_DELIVERIES_DEAD_LETTER_QUEUE_URL',
  },
} as const satisfies Record<QueueName, { env: string; deadLetterEnv: string }>;

/** Environment variables of each secret: its ARN when deployed, its value in the local stack. */
export const secretEnv = {
  pepper: {
    env: 'PEPPER_SECRET_ARN',
    localEnv: 'LOCAL_PEPPER',
  },
  verificationKey: {
    env: 'VERIFICATION_KEY_SECRET_ARN',
    localEnv: 'LOCAL_VERIFICATION_KEY',
  },
  countNoiseKey: {
    env: 'COUNT_NOISE_KEY_SECRET_ARN',
    localEnv: 'LOCAL_COUNT_NOISE_KEY',
  },
} as const satisfies Record<SecretName, { env: string; localEnv: string }>;

/** Environment variables of each key: its ARN when deployed, its material in the local stack. */
export const keyEnv = {
  receiptSigning: {
    env: 'RECEIPT_SIGNING_KEY_ARN',
    localEnv: 'LOCAL_RECEIPT_SIGNING_JWK',
  },
  webhookSecrets: {
    env: 'WEBHOOK_SECRETS_KEY_ARN',
    localEnv: 'LOCAL_WEBHOOK_SECRETS_KEY',
  },
} as const satisfies Record<KeyName, { env: string; localEnv: string }>;

/** Environment variable holding each setting. */
export const settingEnv = {
  retiredReceiptKeys: 'RETIRED_RECEIPT_KEYS',
  idempotencyTtlSeconds: 'IDEMPOTENCY_TTL_SECONDS',
  verificationAccountLimit: 'VERIFICATION_ACCOUNT_LIMIT',
  verificationAccountWindowSeconds: 'VERIFICATION_ACCOUNT_WINDOW_SECONDS',
  verificationIdentifierLimit: 'VERIFICATION_IDENTIFIER_LIMIT',
  verificationIdentifierWindowSeconds: 'VERIFICATION_IDENTIFIER_WINDOW_SECONDS',
  verificationEmailFrom: 'VERIFICATION_EMAIL_FROM',
  verificationEmailIdentity: 'VERIFICATION_EMAIL_IDENTITY',
  minAudienceSize: 'MIN_AUDIENCE_SIZE',
  audienceQuota: 'AUDIENCE_QUOTA',
  sessionTimeoutMinutes: 'UPLOAD_SESSION_TIMEOUT_MINUTES',
  membershipTtlDays: 'MEMBERSHIP_TTL_DAYS',
  sizeReleasesPerAudiencePerDay: 'SIZE_RELEASES_PER_AUDIENCE_PER_DAY',
  sizeReleasesPerBusinessPerDay: 'SIZE_RELEASES_PER_BUSINESS_PER_DAY',
  sizeReleaseBudget: 'SIZE_RELEASE_BUDGET',
  sizeReleaseBudgetDays: 'SIZE_RELEASE_BUDGET_DAYS',
  uploadSettleSeconds: 'UPLOAD_SETTLE_SECONDS',
  uploadSettleSecondsPerChunk: 'UPLOAD_SETTLE_SECONDS_PER_CHUNK',
  messageSendRatePerBusiness: 'MESSAGE_SEND_RATE_PER_BUSINESS',
  messageNewRecipientsPerDay: 'MESSAGE_NEW_RECIPIENTS_PER_DAY',
  messagesPerRecipientPerDay: 'MESSAGES_PER_RECIPIENT_PER_DAY',
  webhookFirstRetrySeconds: 'WEBHOOK_FIRST_RETRY_SECONDS',
} as const satisfies Record<SettingName, string>;

/** Each HTTP route (and the default route): the roles that may call it, and whether it is a user route under /v1/me (Global Privacy Control). */
export const httpRoutes = {
  startPhoneVerification: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  startEmailVerification: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  putPhone: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  putEmail: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  createPolicy: {
    auth: ['operator'],
    userRouteOfMe: false,
  },
  getCurrentPolicy: {
    auth: ['user', 'business', 'operator'],
    userRouteOfMe: false,
  },
  getConsent: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  putConsent: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  getConsentHistory: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  exportMe: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  eraseMe: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  getJwks: {
    auth: 'public',
    userRouteOfMe: false,
  },
  openapi: {
    auth: 'public',
    userRouteOfMe: false,
  },
  notFound: {
    auth: 'public',
    userRouteOfMe: false,
  },
  createAudience: {
    auth: ['business'],
    userRouteOfMe: false,
  },
  listAudiences: {
    auth: ['business'],
    userRouteOfMe: false,
  },
  getAudience: {
    auth: ['business'],
    userRouteOfMe: false,
  },
  deleteAudience: {
    auth: ['business'],
    userRouteOfMe: false,
  },
  addAudienceUsers: {
    auth: ['business'],
    userRouteOfMe: false,
  },
  removeAudienceUsers: {
    auth: ['business'],
    userRouteOfMe: false,
  },
  getUploadSession: {
    auth: ['business'],
    userRouteOfMe: false,
  },
  getUserAudiences: {
    auth: ['operator'],
    userRouteOfMe: false,
  },
  sendMessage: {
    auth: ['business'],
    userRouteOfMe: false,
  },
  getRecipientKey: {
    auth: ['business'],
    userRouteOfMe: false,
  },
  putKey: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  listBlocks: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  putBlock: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  deleteBlock: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  getMessageStatus: {
    auth: ['business'],
    userRouteOfMe: false,
  },
  listMessages: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  ackMessages: {
    auth: ['user'],
    userRouteOfMe: true,
  },
  putWebhook: {
    auth: ['business'],
    userRouteOfMe: false,
  },
  getWebhook: {
    auth: ['business'],
    userRouteOfMe: false,
  },
  deleteWebhook: {
    auth: ['business'],
    userRouteOfMe: false,
  },
} as const satisfies Partial<Record<FunctionName, RuntimeRoute>>;
