import type { FunctionSpec, QueueSpec, SecretSpec, SettingSpec, TableSpec, TopicSpec } from './types';

/**
 * Business messages: end-to-end encrypted transactional messages, stored for
 * their recipient until acknowledged or until 30 days have passed.
 *
 * Only the functions below list these tables, so no other function (least of
 * all one on the audience side) gets any grant on them.
 */

export const messagesTables = {
  /**
   * Undelivered messages, one item a message: `recipientId` (the recipient's
   * user id) and `messageId` (time-ordered, so one Query a recipient reads
   * them oldest first). Holds the sender's opaque `ciphertext`, `businessId`,
   * `category`, `acceptedAt` and `expiresAt` = accepted + 2,592,000 s, the TTL.
   * Acknowledged messages are deleted. Its stream (keys only: the status
   * function needs nothing but the message id, so the ciphertext never flows
   * through it) tells deliveries from TTL expiries.
   */
  messages: {
    env: 'MESSAGES_TABLE',
    partitionKey: { name: 'recipientId', type: 'S' },
    sortKey: { name: 'messageId', type: 'S' },
    ttlAttribute: 'expiresAt',
    stream: 'KEYS_ONLY',
    dataClass: 'messages',
  },
  /**
   * What senders may know about their messages, no content: status records
   * (kept 90 days after the message's expiry), the message each
   * clientMessageId stands for, and the counters of the sending limits
   * (functions/tables/message-status.ts), each with its TTL.
   */
  messageStatus: {
    env: 'MESSAGE_STATUS_TABLE',
    partitionKey: { name: 'pk', type: 'S' },
    ttlAttribute: 'expiresAt',
    dataClass: 'messages',
  },
  /**
   * What each user set up for receiving messages (functions/tables/recipients.ts):
   * their current X25519 public key, and the businesses they block. A public
   * key is no identifier, but it belongs to one user, so the table is of the
   * messages class: the messages side and the user's own export only.
   */
  recipients: {
    env: 'RECIPIENTS_TABLE',
    partitionKey: { name: 'userId', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    dataClass: 'messages',
  },
} as const satisfies Record<string, TableSpec>;

export const messagesTopics = {} as const satisfies Record<string, TopicSpec>;

export const messagesQueues = {
  /** The messages side's consumer of account events: an erased account's pending messages are withheld, its key and blocks deleted. */
  messageAccountEvents: {
    env: 'MESSAGE_ACCOUNT_EVENTS_QUEUE_URL',
    visibilityTimeoutSeconds: 180,
    maxReceiveCount: 5,
    subscription: { topic: 'accountEvents', eventTypes: ['AccountErased'] },
  },
  /** On-failure records of the messages stream (pointers to the records the status function gave up on), replayed by `replayMessageRemovals`. */
  messageStreamFailures: {
    env: 'MESSAGE_STREAM_FAILURES_QUEUE_URL',
    visibilityTimeoutSeconds: 60,
    maxReceiveCount: 10,
  },
} as const satisfies Record<string, QueueSpec>;

export const messagesSecrets = {} as const satisfies Record<string, SecretSpec>;

export const messagesSettings = {
  messageSendRatePerBusiness: {
    env: 'MESSAGE_SEND_RATE_PER_BUSINESS',
    description:
      'Messages one business may send per minute (fixed one-minute windows), a burst limit beside the two below; more get 429 with Retry-After. 0 stops sending.',
    default: '600',
  },
  messageNewRecipientsPerDay: {
    env: 'MESSAGE_NEW_RECIPIENTS_PER_DAY',
    description:
      'New recipients (not reached in the last 30 days) one business may reach per rolling 24 hours, key lookups included; more get 429 with Retry-After.',
    default: '1000',
  },
  messagesPerRecipientPerDay: {
    env: 'MESSAGES_PER_RECIPIENT_PER_DAY',
    description: 'Messages one business may send one recipient per UTC day; more get 429 with Retry-After.',
    default: '20',
  },
} as const satisfies Record<string, SettingSpec>;

export const messagesFunctions = {
  sendMessage: {
    entry: 'functions/send-message/handler.ts',
    side: 'messages',
    description: "POST /v1/messages: accept a business's encrypted message for a recipient",
    trigger: { kind: 'http', method: 'POST', path: '/v1/messages', auth: ['business'] },
    tables: { identities: 'read', recipients: 'read', messages: 'write', messageStatus: 'readWrite' },
    settings: ['messageSendRatePerBusiness', 'messageNewRecipientsPerDay', 'messagesPerRecipientPerDay'],
  },
  getRecipientKey: {
    entry: 'functions/get-recipient-key/handler.ts',
    side: 'messages',
    description: "GET /v1/recipients/{phoneNumber}/key: a registered user's public key, for sealing a message to them",
    trigger: { kind: 'http', method: 'GET', path: '/v1/recipients/{phoneNumber}/key', auth: ['business'] },
    tables: { identities: 'read', recipients: 'read', messageStatus: 'readWrite' },
    settings: ['messageNewRecipientsPerDay'],
  },
  putKey: {
    entry: 'functions/put-key/handler.ts',
    side: 'messages',
    description: "PUT /v1/me/keys: publish the caller's X25519 public key, replacing the previous one",
    trigger: { kind: 'http', method: 'PUT', path: '/v1/me/keys', auth: ['user'] },
    tables: { recipients: 'readWrite', consentStates: 'read' },
    queues: ['gpcSignals'],
  },
  listBlocks: {
    entry: 'functions/list-blocks/handler.ts',
    side: 'messages',
    description: 'GET /v1/me/blocks: the businesses the caller blocks',
    trigger: { kind: 'http', method: 'GET', path: '/v1/me/blocks', auth: ['user'] },
    tables: { recipients: 'read', consentStates: 'read' },
    queues: ['gpcSignals'],
  },
  putBlock: {
    entry: 'functions/put-block/handler.ts',
    side: 'messages',
    description: 'PUT /v1/me/blocks/{businessId}: the caller receives nothing more from that business',
    trigger: { kind: 'http', method: 'PUT', path: '/v1/me/blocks/{businessId}', auth: ['user'] },
    tables: { recipients: 'write', consentStates: 'read' },
    queues: ['gpcSignals'],
  },
  deleteBlock: {
    entry: 'functions/delete-block/handler.ts',
    side: 'messages',
    description: 'DELETE /v1/me/blocks/{businessId}: unblock a business (messages sent meanwhile stay undelivered)',
    trigger: { kind: 'http', method: 'DELETE', path: '/v1/me/blocks/{businessId}', auth: ['user'] },
    tables: { recipients: 'write', consentStates: 'read' },
    queues: ['gpcSignals'],
  },
  getMessageStatus: {
    entry: 'functions/get-message-status/handler.ts',
    side: 'messages',
    description: "GET /v1/messages/{id}: the status of one of the caller's messages",
    trigger: { kind: 'http', method: 'GET', path: '/v1/messages/{id}', auth: ['business'] },
    tables: { messageStatus: 'read', messages: 'read' },
  },
  listMessages: {
    entry: 'functions/list-messages/handler.ts',
    side: 'messages',
    description: "GET /v1/me/messages: the caller's undelivered, unexpired messages, oldest first",
    trigger: { kind: 'http', method: 'GET', path: '/v1/me/messages', auth: ['user'] },
    tables: { messages: 'read', consentStates: 'read' },
    queues: ['gpcSignals'],
  },
  ackMessages: {
    entry: 'functions/ack-messages/handler.ts',
    side: 'messages',
    description: 'POST /v1/me/messages/ack: delete delivered messages of the caller',
    trigger: { kind: 'http', method: 'POST', path: '/v1/me/messages/ack', auth: ['user'] },
    tables: { messages: 'write', consentStates: 'read' },
    queues: ['gpcSignals'],
  },
  trackMessageStatus: {
    entry: 'functions/track-message-status/handler.ts',
    side: 'messages',
    description: 'Messages stream: removals become delivered (acknowledged) or expired (TTL)',
    trigger: {
      kind: 'stream',
      table: 'messages',
      batchSize: 100,
      retryAttempts: 10,
      eventNames: ['REMOVE'],
      onFailure: 'messageStreamFailures',
    },
    tables: { messageStatus: 'readWrite', webhooks: 'read' },
    queues: ['webhookDeliveries'],
  },
  replayMessageRemovals: {
    entry: 'functions/replay-message-removals/handler.ts',
    side: 'messages',
    description: 'Replays the messages stream records the status function gave up on, so every removal becomes a status',
    trigger: { kind: 'queue', queue: 'messageStreamFailures', batchSize: 1 },
    streams: ['messages'],
    tables: { messageStatus: 'readWrite', webhooks: 'read' },
    queues: ['webhookDeliveries'],
  },
  eraseMessages: {
    entry: 'functions/erase-messages/handler.ts',
    side: 'messages',
    description: "AccountErased: withhold the erased user's pending messages (deleting their content), delete their key and blocks",
    timeoutSeconds: 30,
    trigger: { kind: 'queue', queue: 'messageAccountEvents', batchSize: 10 },
    tables: { messages: 'readWrite', recipients: 'readWrite' },
  },
} as const satisfies Record<string, FunctionSpec>;
