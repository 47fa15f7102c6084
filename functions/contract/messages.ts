import * as z from 'zod';
import type { FunctionName } from '../../catalog';
import type { RouteContract } from '../shared/http';
import {
  MAX_CIPHERTEXT_BYTES,
  MAX_CIPHERTEXT_CHARS,
  MESSAGE_CATEGORIES,
  MESSAGE_STATUSES,
  ciphertextProblem,
  ciphertextProblemMessages,
} from '../core/messages';
import { PUBLIC_KEY_PATTERN, publicKeyProblem, publicKeyProblemMessages } from '../core/keys';
import { IdParam, IsoTime, PathParam, ProblemSchema, authErrors, bodyErrors, rateLimited } from './common';

export const MessageCategory = z.enum(MESSAGE_CATEGORIES).meta({ id: 'MessageCategory' });
export const MessageStatus = z.enum(MESSAGE_STATUSES).meta({ id: 'MessageStatusValue' });

/** Standard base64 of 1 to 65,536 bytes; checked by measuring, never decoded. Error messages never echo it. */
export const Ciphertext = z
  .string()
  .superRefine((text, ctx) => {
    const problem = ciphertextProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: ciphertextProblemMessages[problem] });
  })
  .meta({
    description: `The sender's end-to-end encrypted message: standard base64 (RFC 4648 section 4, padded) of 1 to ${MAX_CIPHERTEXT_BYTES} bytes. Stored and forwarded, never decoded.`,
    contentEncoding: 'base64',
    minLength: 4,
    maxLength: MAX_CIPHERTEXT_CHARS,
  });

/** Printable ASCII without spaces, bounded. */
export const ClientMessageId = z
  .string()
  .regex(/^[\x21-\x7e]{1,128}$/, 'Must be 1-128 printable ASCII characters without spaces')
  .meta({ description: 'Optional. The same clientMessageId from the same business again returns the same message, and stores nothing new.' });

/** A recipient's X25519 public key as the contract spells it: base64url, no padding, of its 32 raw bytes. */
export const PublicKey = z
  .string()
  .max(64)
  .superRefine((text, ctx) => {
    const problem = publicKeyProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: publicKeyProblemMessages[problem] });
  })
  .meta({
    description: 'An X25519 public key: base64url (RFC 4648 section 5, no padding) of its 32 raw bytes.',
    pattern: PUBLIC_KEY_PATTERN.source,
    minLength: 43,
    maxLength: 43,
  });

export const KeyId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,128}$/, 'Must be a keyId from GET /v1/recipients/{phoneNumber}/key')
  .meta({ description: "The id the service gave a recipient's public key" });

/** A business id as it appears in `from`: the sending business's token subject. */
export const BusinessIdParam = z
  .string()
  .regex(/^[\x21-\x2e\x30-\x7e]{1,128}$/, 'Must be a business id as messages show it in "from" (1-128 printable characters, no "/")')
  .meta({ description: 'The business, as the `from` of its messages names it.' });

export const MAX_ACK_IDS = 100;
export const MAX_LIST_LIMIT = 100;

export const sendMessage = {
  summary: 'Send an end-to-end encrypted transactional message to a registered phone number',
  body: z
    .strictObject({
      to: z.string().min(1).max(64).meta({ description: "The recipient's phone number, international format (E.164 or with separators)" }),
      category: MessageCategory,
      keyId: KeyId.meta({ description: 'The recipient key the message was sealed to (GET /v1/recipients/{phoneNumber}/key); not the current one: 409' }),
      ciphertext: Ciphertext,
      clientMessageId: ClientMessageId.optional(),
    })
    .meta({ id: 'MessageSend' }),
  responses: {
    202: {
      description: 'Accepted: stored for the recipient until acknowledged, at most 30 days',
      schema: z.object({ messageId: z.string(), status: z.literal('accepted'), acceptedAt: IsoTime, expiresAt: IsoTime }).meta({ id: 'MessageAccepted' }),
    },
    ...bodyErrors,
    ...authErrors,
    404: { description: 'The recipient is not registered, or has published no key', schema: ProblemSchema },
    409: { description: "keyId is not the recipient's current key: fetch the key again, seal again", schema: ProblemSchema },
    429: rateLimited(
      'A sending limit is reached (messages per minute, new recipients per rolling 24 hours, messages to this recipient per day: the problem type says which); see the Retry-After header (seconds)',
    ),
  },
} satisfies RouteContract;

export const getMessageStatus = {
  summary: "The delivery status of one of the caller's messages",
  params: z.object({ id: IdParam }),
  responses: {
    200: {
      description: "The message's status",
      schema: z
        .object({ messageId: z.string(), status: MessageStatus, acceptedAt: IsoTime, expiresAt: IsoTime, updatedAt: IsoTime })
        .meta({ id: 'MessageStatus' }),
    },
    400: { description: 'The id is not an id', schema: ProblemSchema },
    ...authErrors,
    404: { description: "No such message among the caller's", schema: ProblemSchema },
  },
} satisfies RouteContract;

export const InboxMessage = z
  .object({
    messageId: z.string(),
    from: z.string().meta({ description: "The sending business's id" }),
    category: MessageCategory,
    keyId: z.string().meta({ description: "The recipient's key the ciphertext was sealed to" }),
    ciphertext: z.string().meta({ contentEncoding: 'base64' }),
    acceptedAt: IsoTime,
    expiresAt: IsoTime,
  })
  .meta({ id: 'InboxMessage' });

export const listMessages = {
  summary: "The caller's undelivered and unexpired messages, oldest first",
  query: z.object({
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_LIST_LIMIT)
      .optional()
      .meta({ description: `Optional. At most this many messages (1-${MAX_LIST_LIMIT}, default ${MAX_LIST_LIMIT}).` }),
    nextToken: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'Must be a nextToken from an earlier answer')
      .optional()
      .meta({ description: 'Optional. Continue after an answer that carried nextToken.' }),
  }),
  responses: {
    200: {
      description: 'Messages, oldest first. nextToken is present only when more are waiting than one answer holds.',
      schema: z.object({ items: z.array(InboxMessage), nextToken: z.string().optional() }).meta({ id: 'InboxPage' }),
    },
    400: { description: 'A query parameter is not valid', schema: ProblemSchema },
    ...authErrors,
  },
} satisfies RouteContract;

export const ackMessages = {
  summary: 'Acknowledge messages: they leave the store and their status becomes delivered',
  body: z.strictObject({ messageIds: z.array(IdParam).max(MAX_ACK_IDS) }).meta({ id: 'MessageAck' }),
  responses: {
    200: {
      description: "How many of the caller's stored, unexpired messages were acknowledged; unknown or foreign ids are ignored",
      schema: z.object({ acknowledged: z.number().int() }).meta({ id: 'MessageAckResult' }),
    },
    ...bodyErrors,
    ...authErrors,
  },
} satisfies RouteContract;

export const MessageKey = z.object({ keyId: z.string(), publicKey: z.string(), createdAt: IsoTime }).meta({ id: 'MessageKey' });

export const putKey = {
  summary: "Publish the caller's X25519 public key for messages, replacing the previous one",
  body: z.strictObject({ publicKey: PublicKey }).meta({ id: 'MessageKeyPublish' }),
  responses: {
    200: {
      description: "The caller's current key. Publishing the current public key again answers with it unchanged.",
      schema: MessageKey,
    },
    ...bodyErrors,
    ...authErrors,
  },
} satisfies RouteContract;

export const getRecipientKey = {
  summary: "A registered user's current public key, to seal a message to them",
  params: z.object({ phoneNumber: PathParam('The recipient\'s number in E.164 ("+14155550123"), URL-encoded ("%2B14155550123").') }),
  responses: {
    200: {
      description: 'The key to seal to, and its keyId to send with',
      schema: z.object({ keyId: z.string(), publicKey: z.string() }).meta({ id: 'RecipientKey' }),
    },
    400: { description: 'Not a valid phone number', schema: ProblemSchema },
    ...authErrors,
    404: { description: 'No account holds the number, or its holder has published no key', schema: ProblemSchema },
    429: rateLimited('Each lookup counts toward the new recipients the business may reach per rolling 24 hours; see the Retry-After header (seconds)'),
  },
} satisfies RouteContract;

export const Block = z.object({ businessId: z.string(), blockedAt: IsoTime }).meta({ id: 'Block' });

export const listBlocks = {
  summary: 'The businesses the caller blocks',
  responses: {
    200: { description: 'Blocked businesses, by id', schema: z.object({ items: z.array(Block) }).meta({ id: 'BlockList' }) },
    ...authErrors,
  },
} satisfies RouteContract;

export const putBlock = {
  summary: 'Block a business: its messages are accepted and never delivered, and to it the caller looks like a recipient who stays offline',
  params: z.object({ businessId: BusinessIdParam }),
  responses: {
    204: { description: 'Blocked (blocking again keeps the first blockedAt)' },
    400: { description: 'Not a business id', schema: ProblemSchema },
    ...authErrors,
  },
} satisfies RouteContract;

export const deleteBlock = {
  summary: 'Unblock a business; what it sent meanwhile stays undelivered',
  params: z.object({ businessId: BusinessIdParam }),
  responses: {
    204: { description: 'Not blocked (any more)' },
    400: { description: 'Not a business id', schema: ProblemSchema },
    ...authErrors,
  },
} satisfies RouteContract;

/** Request and response schemas of the messages routes, by catalog function name. */
export const messageContracts: Partial<Record<FunctionName, RouteContract>> = {
  putKey,
  getRecipientKey,
  sendMessage,
  getMessageStatus,
  listMessages,
  ackMessages,
  listBlocks,
  putBlock,
  deleteBlock,
};
