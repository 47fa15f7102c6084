/**
 * The `accounts` table of the previous layout, read only by the migration
 * (scripts/migrate-accounts.ts): one table held a user's identifiers and
 * consent (`user#<userId>`), the claims of phone numbers and emails
 * (`phone#<e164>`, `email#<address>`) and idempotency answers
 * (`idem#<userId>#<key>`). No function binds it.
 */
import type { Item } from './dynamo';

export const legacyUserKey = (userId: string) => ({ pk: `user#${userId}` });
export const legacyClaimKey = (field: 'phoneNumber' | 'email', value: string) => ({ pk: `${field === 'phoneNumber' ? 'phone#' : 'email#'}${value}` });
export const legacyIdempotencyKey = (userId: string, key: string) => ({ pk: `idem#${userId}#${key}` });

export type LegacyAccountItem =
  | { readonly kind: 'user'; readonly userId: string; readonly item: Item }
  | { readonly kind: 'claim'; readonly field: 'phoneNumber' | 'email'; readonly value: string; readonly item: Item }
  | { readonly kind: 'idempotency'; readonly userId: string; readonly key: string; readonly item: Item }
  | { readonly kind: 'unknown'; readonly item: Item };

export function legacyAccountItem(item: Item): LegacyAccountItem {
  const pk = String(item.pk ?? '');
  if (pk.startsWith('user#')) return { kind: 'user', userId: pk.slice('user#'.length), item };
  if (pk.startsWith('phone#')) return { kind: 'claim', field: 'phoneNumber', value: pk.slice('phone#'.length), item };
  if (pk.startsWith('email#')) return { kind: 'claim', field: 'email', value: pk.slice('email#'.length), item };
  if (pk.startsWith('idem#')) {
    const rest = pk.slice('idem#'.length);
    const at = rest.indexOf('#');
    if (at > 0) return { kind: 'idempotency', userId: rest.slice(0, at), key: rest.slice(at + 1), item };
  }
  return { kind: 'unknown', item };
}
