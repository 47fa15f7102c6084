/**
 * Events on the account-events topic. They carry ids, versions and choices,
 * never a phone number, email or hash. Consumers read current state from
 * the accounts table and keep the last version they applied per user, so
 * duplicates and reordering are harmless.
 */
import * as z from 'zod';
import { DECISIONS, PURPOSES } from './consent';

const Purposes = z.object(
  Object.fromEntries(PURPOSES.map((p) => [p, z.enum(DECISIONS)])) as Record<(typeof PURPOSES)[number], z.ZodEnum<{ granted: 'granted'; denied: 'denied' }>>,
);

export const ConsentChanged = z.object({
  type: z.literal('ConsentChanged'),
  eventId: z.string().min(1),
  userId: z.string().min(1),
  version: z.number().int().positive(),
  policyVersion: z.string(),
  purposes: Purposes,
  occurredAt: z.string(),
});

export const IdentifiersChanged = z.object({
  type: z.literal('IdentifiersChanged'),
  eventId: z.string().min(1),
  userId: z.string().min(1),
  occurredAt: z.string(),
});

/**
 * The account lost a phone number or email to another account that proved
 * possession of it. It names the kind of identifier only, never the value:
 * the match index reconciles from the identities, and the audience side
 * removes the memberships matched only through that kind of identifier.
 */
export const IdentifierLost = z.object({
  type: z.literal('IdentifierLost'),
  eventId: z.string().min(1),
  userId: z.string().min(1),
  identifier: z.enum(['PHONE', 'EMAIL']),
  occurredAt: z.string(),
});

export const AccountErased = z.object({
  type: z.literal('AccountErased'),
  eventId: z.string().min(1),
  userId: z.string().min(1),
  occurredAt: z.string(),
});

export const AccountEvent = z.discriminatedUnion('type', [ConsentChanged, IdentifiersChanged, IdentifierLost, AccountErased]);
export type AccountEvent = z.infer<typeof AccountEvent>;
export type AccountEventType = AccountEvent['type'];
