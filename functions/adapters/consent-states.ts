import { tableName } from '../shared/config';
import { batchGetAll } from './batch';

const ACCOUNTS = tableName('accounts');

export interface ConsentNow {
  /** `ads_targeting` granted and the account not erased. */
  readonly granted: boolean;
  readonly version: number;
}

/**
 * The current ads-targeting consent of users, from the accounts table (the
 * source of truth, which a decision is committed to before its event is
 * published), strongly consistent, 100 users a call. Only the consent
 * attributes are read: never a phone number or email. Keys as in
 * adapters/accounts.ts (`user#<id>`), which is not imported because it
 * also binds the ledger table.
 */
export async function consentOf(userIds: readonly string[]): Promise<Map<string, ConsentNow>> {
  const items = await batchGetAll(
    ACCOUNTS,
    userIds.map((u) => ({ pk: `user#${u}` })),
    {
      consistent: true,
      projection: '#pk, consentVersion, purposes, erasedAt',
      names: { '#pk': 'pk' },
    },
  );
  const states = new Map<string, ConsentNow>(userIds.map((u) => [u, { granted: false, version: 0 }]));
  for (const item of items) {
    const userId = (item.pk as string).slice('user#'.length);
    const purposes = item.purposes as Record<string, string> | undefined;
    states.set(userId, { granted: !item.erasedAt && purposes?.ads_targeting === 'granted', version: (item.consentVersion as number | undefined) ?? 0 });
  }
  return states;
}
