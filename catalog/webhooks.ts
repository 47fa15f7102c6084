import type { CryptoKeySpec, FunctionSpec, QueueSpec, SettingSpec, TableSpec } from './types';

/**
 * Webhooks: a business registers one HTTPS endpoint and a secret; events
 * about its own messages and audiences (`message.status`,
 * `audience.counted`) are POSTed there, signed with HMAC-SHA256 under the
 * secret, at least once, retried with backoff for 24 hours, then
 * dead-lettered for `npm run redrive`.
 *
 * Producers only send to `webhookDeliveries` (and read whether the business
 * has a webhook at all); the one function that calls out is
 * `deliverWebhooks`, the only holder of the key that decrypts secrets.
 */

export const webhooksTables = {
  /**
   * One item a business: its endpoint URL, its secret encrypted under the
   * `webhookSecrets` key (never stored or returned in clear), and when it
   * was registered (functions/tables/webhooks.ts).
   */
  webhooks: {
    env: 'WEBHOOKS_TABLE',
    partitionKey: { name: 'pk', type: 'S' },
    dataClass: 'config',
  },
} as const satisfies Record<string, TableSpec>;

export const webhooksQueues = {
  /**
   * Events on their way to a business's endpoint, one a message: the event
   * and its delivery state (attempt, retry window, when it is due). Every
   * message received is delivered and deleted, or sent again for its next
   * attempt and deleted, or dead-lettered by the deliverer once its window
   * is over; maxReceiveCount only catches a crashing deliverer.
   */
  webhookDeliveries: {
    env: 'WEBHOOK_DELIVERIES_QUEUE_URL',
    visibilityTimeoutSeconds: 180,
    maxReceiveCount: 5,
  },
} as const satisfies Record<string, QueueSpec>;

export const webhooksKeys = {
  /** Encrypts webhook secrets at rest; only `putWebhook` encrypts and only `deliverWebhooks` decrypts. */
  webhookSecrets: {
    env: 'WEBHOOK_SECRETS_KEY_ARN',
    localEnv: 'LOCAL_WEBHOOK_SECRETS_KEY',
    usage: 'encrypt',
    description: 'Symmetric key that encrypts the secrets businesses sign webhooks with',
  },
} as const satisfies Record<string, CryptoKeySpec>;

export const webhooksSettings = {
  webhookFirstRetrySeconds: {
    env: 'WEBHOOK_FIRST_RETRY_SECONDS',
    description: 'Seconds before the first retry of a failed webhook delivery; each later wait doubles, up to 6 hours, for 24 hours',
    default: '30',
  },
} as const satisfies Record<string, SettingSpec>;

const business = ['business'] as const;

export const webhooksFunctions = {
  putWebhook: {
    entry: 'functions/put-webhook/handler.ts',
    side: 'messages',
    description: "PUT /v1/webhook: register (or replace) the caller's webhook endpoint and secret",
    trigger: { kind: 'http', method: 'PUT', path: '/v1/webhook', auth: business },
    tables: { webhooks: 'readWrite' },
    keys: { webhookSecrets: 'encrypt' },
  },
  getWebhook: {
    entry: 'functions/get-webhook/handler.ts',
    side: 'messages',
    description: "GET /v1/webhook: the caller's webhook endpoint (never its secret)",
    trigger: { kind: 'http', method: 'GET', path: '/v1/webhook', auth: business },
    tables: { webhooks: 'read' },
  },
  deleteWebhook: {
    entry: 'functions/delete-webhook/handler.ts',
    side: 'messages',
    description: "DELETE /v1/webhook: remove the caller's webhook; nothing more is sent",
    trigger: { kind: 'http', method: 'DELETE', path: '/v1/webhook', auth: business },
    tables: { webhooks: 'write' },
  },
  deliverWebhooks: {
    entry: 'functions/deliver-webhooks/handler.ts',
    side: 'messages',
    description: "POSTs signed events to each business's registered endpoint; retries with backoff for 24 hours, then dead-letters",
    timeoutSeconds: 30,
    // A bound on the calls this function makes to the outside at once.
    trigger: { kind: 'queue', queue: 'webhookDeliveries', batchSize: 10, maxConcurrency: 10 },
    tables: { webhooks: 'read' },
    keys: { webhookSecrets: 'decrypt' },
    queues: ['webhookDeliveries'],
    deadLetters: ['webhookDeliveries'],
    settings: ['webhookFirstRetrySeconds'],
  },
} as const satisfies Record<string, FunctionSpec>;
