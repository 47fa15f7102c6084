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
        acceptedAt: IsoTime,
        expiresAt: IsoTime,
      }),
    ),
  })
  .meta({ id: 'AccountExport' });

export const exportMe = {
  summary: 'Everything stored about the caller',
  responses: { 200: { description: 'The export', schema: AccountExport }, ...authErrors },
} satisfies RouteContract;

export const eraseMe = {
  summary: "Erase the caller's phone number and email; they leave every audience and their pending messages are deleted",
  responses: {
    202: {
      description: 'Erased; the consumers follow within seconds',
      schema: z.object({ status: z.literal('erasing'), requestedAt: IsoTime }).meta({ id: 'ErasureReceipt' }),
    },
    ...authErrors,
  },
} satisfies RouteContract;
