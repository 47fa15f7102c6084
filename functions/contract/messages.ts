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
import { IdParam, IsoTime, ProblemSchema, authErrors, bodyErrors, rateLimited } from './common';

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

export const MAX_ACK_IDS = 100;
export const MAX_LIST_LIMIT = 100;

export const sendMessage = {
  summary: 'Send an end-to-end encrypted transactional message to a registered phone number',
  body: z
    .strictObject({
      to: z.string().min(1).max(64).meta({ description: "The recipient's phone number, international format (E.164 or with separators)" }),
      category: MessageCategory,
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
    404: { description: 'The recipient is not registered', schema: ProblemSchema },
    429: rateLimited('The business sent too many messages; see the Retry-After header (seconds)'),
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

/** Request and response schemas of the messages routes, by catalog function name. */
export const messageContracts: Partial<Record<FunctionName, RouteContract>> = {
  sendMessage,
  getMessageStatus,
  listMessages,
  ackMessages,
};
