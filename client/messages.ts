/**
 * Business messages through the typed API client (`client/api`), for users
 * and businesses alike: the calls themselves (keys, recipients' keys, send,
 * inbox, acknowledgements, blocks, status), and the two steps that need the
 * library's HPKE around them:
 *
 * - a business seals a payload to the recipient's current key and sends it
 *   (`sendSealed`): the plaintext never leaves the sender's process;
 * - a user opens their inbox with their private key (`openInbox`).
 *
 * Every call takes the `Api` from `createApi` and, optionally, per-request
 * options for openapi-fetch (`fetch`: a sender with its own retries, say).
 * A 4xx or 5xx answer throws an `ApiError` with its problem document.
 */
import { ApiError, type Api, ok, type Schemas } from './api';
import { ClientCryptoError, type ClientCryptoErrorCode } from './errors';
import { open, seal, type MessagePayload, type RecipientKey } from './hpke';

export type MessageCategory = Schemas['MessageCategory'];
export type InboxMessage = Schemas['InboxMessage'];
export type MessageKey = Schemas['MessageKey'];
export type RecipientPublicKey = Schemas['RecipientKey'];
export type MessageAccepted = Schemas['MessageAccepted'];
export type MessageStatus = Schemas['MessageStatus'];
export type Block = Schemas['Block'];

/** Per-request options of openapi-fetch that the calls pass on. */
export interface CallOptions {
  /** Sends the request (e.g. a sender with retries); the client's own otherwise. */
  readonly fetch?: (request: Request) => Promise<Response>;
}

/** The contract's most message ids one acknowledgement takes. */
export const MAX_ACK_IDS = 100;

// ------------------------------------------------------------------ users

/** PUT /v1/me/keys: publishes the caller's public key (the contract's base64url); answers with its `keyId`. */
export const publishKey = (api: Api, publicKey: string, options: CallOptions = {}) => ok(api.PUT('/v1/me/keys', { body: { publicKey }, ...options }));

/** GET /v1/me/messages: one page of the caller's undelivered messages, oldest first. */
export const inboxPage = (api: Api, query: { limit?: number; nextToken?: string } = {}, options: CallOptions = {}) =>
  ok(api.GET('/v1/me/messages', { params: { query }, ...options }));

/** Every undelivered message of the caller, oldest first, following `nextToken` across pages. */
export async function inbox(api: Api, options: CallOptions = {}): Promise<InboxMessage[]> {
  const items: InboxMessage[] = [];
  let nextToken: string | undefined;
  do {
    const page = await inboxPage(api, nextToken === undefined ? {} : { nextToken }, options);
    items.push(...page.items);
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return items;
}

/** POST /v1/me/messages/ack, in requests of at most 100 ids: how many were acknowledged (they leave the store and become `delivered`). */
export async function acknowledge(api: Api, messageIds: readonly string[], options: CallOptions = {}): Promise<number> {
  let acknowledged = 0;
  for (let i = 0; i < messageIds.length; i += MAX_ACK_IDS) {
    const answer = await ok(api.POST('/v1/me/messages/ack', { body: { messageIds: messageIds.slice(i, i + MAX_ACK_IDS) }, ...options }));
    acknowledged += answer.acknowledged;
  }
  return acknowledged;
}

/** PUT /v1/me/blocks/{businessId}: the caller receives nothing more from the business. */
export const blockBusiness = async (api: Api, businessId: string, options: CallOptions = {}): Promise<void> => {
  await ok(api.PUT('/v1/me/blocks/{businessId}', { params: { path: { businessId } }, ...options }));
};

/** DELETE /v1/me/blocks/{businessId}. */
export const unblockBusiness = async (api: Api, businessId: string, options: CallOptions = {}): Promise<void> => {
  await ok(api.DELETE('/v1/me/blocks/{businessId}', { params: { path: { businessId } }, ...options }));
};

/** GET /v1/me/blocks. */
export const blocks = async (api: Api, options: CallOptions = {}): Promise<Block[]> => (await ok(api.GET('/v1/me/blocks', { ...options }))).items;

// ------------------------------------------------------------------ businesses

/** GET /v1/recipients/{phoneNumber}/key: the recipient's current key (E.164 number). Each lookup counts toward the business's new-recipient limit. */
export const recipientKey = (api: Api, phoneNumber: string, options: CallOptions = {}) =>
  ok(api.GET('/v1/recipients/{phoneNumber}/key', { params: { path: { phoneNumber } }, ...options }));

/** POST /v1/messages with a ciphertext sealed elsewhere. */
export const sendMessage = (api: Api, body: Schemas['MessageSend'], options: CallOptions = {}) => ok(api.POST('/v1/messages', { body, ...options }));

/** GET /v1/messages/{id}: a sent message's status. */
export const messageStatus = (api: Api, messageId: string, options: CallOptions = {}) =>
  ok(api.GET('/v1/messages/{id}', { params: { path: { id: messageId } }, ...options }));

export interface SealedSend {
  /** The recipient's number in E.164. */
  readonly to: string;
  readonly category: MessageCategory;
  /** The plaintext: `{"text": "..."}`, more fields allowed. Sealed here; never sent as it is. */
  readonly payload: MessagePayload;
  readonly clientMessageId?: string;
}

export interface SealedSendOptions {
  /** For the key lookup. */
  readonly lookup?: CallOptions;
  /** For the send (with a clientMessageId it is safe to repeat). */
  readonly send?: CallOptions;
}

const isStaleKey = (error: unknown): boolean => error instanceof ApiError && error.status === 409 && (error.problem?.type ?? '').endsWith('stale-key');

/**
 * Looks up the recipient's current key, seals the payload to it (HPKE as the
 * contract names it) and sends the ciphertext with that `keyId`. When the
 * recipient replaced their key in between (409), it looks the key up again
 * and seals again, once.
 */
export async function sendSealed(api: Api, message: SealedSend, options: SealedSendOptions = {}): Promise<MessageAccepted & { keyId: string }> {
  for (let attempt = 1; ; attempt++) {
    const key = await recipientKey(api, message.to, options.lookup);
    const ciphertext = await seal(key.publicKey, message.payload);
    try {
      const accepted = await sendMessage(
        api,
        {
          to: message.to,
          category: message.category,
          keyId: key.keyId,
          ciphertext,
          ...(message.clientMessageId !== undefined && { clientMessageId: message.clientMessageId }),
        },
        options.send,
      );
      return { ...accepted, keyId: key.keyId };
    } catch (error) {
      if (attempt >= 2 || !isStaleKey(error)) throw error;
    }
  }
}

/** An inbox message and what opening it gave: its payload, or why it could not be opened. */
export type OpenedMessage = Omit<InboxMessage, 'ciphertext'> &
  ({ readonly payload: MessagePayload; readonly failure?: undefined } | { readonly payload?: undefined; readonly failure: ClientCryptoErrorCode | 'no-key' });

/**
 * The caller's undelivered messages, opened: `keyFor(keyId)` gives the
 * private key (or key pair) a message was sealed to, or undefined when the
 * caller no longer has it (`failure: 'no-key'`). A message that does not open
 * (altered, or not sealed as the contract says) carries the library's error
 * code instead of a payload. Nothing is acknowledged here (see `acknowledge`).
 */
export async function openInbox(
  api: Api,
  keyFor: (keyId: string) => RecipientKey | undefined | Promise<RecipientKey | undefined>,
  options: CallOptions = {},
): Promise<OpenedMessage[]> {
  const opened: OpenedMessage[] = [];
  for (const { ciphertext, ...message } of await inbox(api, options)) {
    const key = await keyFor(message.keyId);
    if (!key) {
      opened.push({ ...message, failure: 'no-key' });
      continue;
    }
    try {
      opened.push({ ...message, payload: await open(key, ciphertext) });
    } catch (error) {
      if (!(error instanceof ClientCryptoError)) throw error;
      opened.push({ ...message, failure: error.code });
    }
  }
  return opened;
}
