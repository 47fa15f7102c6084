import * as z from 'zod';
import type { RouteContract } from '../shared/http';
import { IsoTime, authErrors } from './common';
import { ConsentView, Jwks, Receipt } from './consent';

export const AccountExport = z
  .object({
    userId: z.string(),
    exportedAt: IsoTime,
    account: z.object({
      phoneNumber: z.string().nullable(),
      email: z.string().nullable(),
      createdAt: IsoTime.nullable(),
      erasedAt: IsoTime.nullable(),
    }),
    consent: ConsentView,
    consentHistory: z.array(Receipt).meta({ description: 'Every receipt, newest first: each one chains to the next one in the list by prevHash' }),
    receiptKeys: Jwks.meta({ description: 'The public keys that sign receipts, as GET /.well-known/jwks.json serves them, so the export verifies offline' }),
    audiences: z.object({ count: z.number().int().meta({ description: 'How many custom audiences the user is in now (not which businesses)' }) }),
    pendingMessages: z.array(
      z.object({
        messageId: z.string(),
        from: z.string(),
        category: z.string(),
        keyId: z.string(),
        acceptedAt: IsoTime,
        expiresAt: IsoTime,
      }),
    ),
    withheldMessages: z
      .array(
        z.object({
          messageId: z.string(),
          from: z.string(),
          reason: z.enum(['blocked', 'erased']),
          acceptedAt: IsoTime,
          expiresAt: IsoTime,
        }),
      )
      .meta({ description: 'Messages never delivered (the sender was blocked, or the account erased): no content is kept, only this until their expiry' }),
    messageKey: z
      .object({ keyId: z.string(), publicKey: z.string(), createdAt: IsoTime })
      .nullable()
      .meta({ description: 'The public key the user published for messages (PUT /v1/me/keys); the private key never leaves their device' }),
    blocks: z.array(z.object({ businessId: z.string(), blockedAt: IsoTime })),
  })
  .meta({ id: 'AccountExport' });

export const exportMe = {
  summary: 'Everything stored about the caller',
  responses: { 200: { description: 'The export', schema: AccountExport }, ...authErrors },
} satisfies RouteContract;

export const eraseMe = {
  summary: "Erase the caller's phone number and email; they leave every audience, their pending messages are deleted, and their message key and blocks",
  responses: {
    202: {
      description: 'Erased; the consumers follow within seconds',
      schema: z.object({ status: z.literal('erasing'), requestedAt: IsoTime }).meta({ id: 'ErasureReceipt' }),
    },
    ...authErrors,
  },
} satisfies RouteContract;
