/**
 * Consenting users for the matching benchmarks, written straight into the
 * stack's tables through the SDK (30,000 users through the API and its
 * consumers would take minutes a run).
 *
 * The items are those the service itself writes for a user who bound a phone
 * number and granted ads_targeting, keyed by the table modules' own key
 * builders: the identity and the phone's claim (tables/identities.ts), the
 * consent state (tables/consent-states.ts), and in the match index the key
 * (HMAC-SHA256(pepper, "PHONE:" + sha256(digits)) → userId, computed with the
 * service's own `matchKey` and the stack's pepper) and the applied state
 * (tables/match-index.ts). A few users are also made through the API and its
 * consumers, and their items are compared with the seeded ones attribute
 * by attribute: a mismatch is reported with the benchmark.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { secrets } from '../../catalog';
import { accountMatchKeys } from '../../functions/core/identifiers';
import { stateKey } from '../../functions/tables/consent-states';
import { claimKey, identityKey } from '../../functions/tables/identities';
import { appliedKey, indexKey } from '../../functions/tables/match-index';
import type { BenchContext } from './context';
import { benchUserId, userPhone } from './fixtures';
import { rawBatchPut } from './raw';
import { ensurePolicy, sleep, verifyPhone, type BenchStack } from './stack';

const POLICY = '2016-08-25';

/** The stack's pepper (generated per local stack, in this process's environment). */
export function stackPepper(): Buffer {
  const value = process.env[secrets.pepper.localEnv];
  if (!value) throw new Error(`${secrets.pepper.localEnv} is not set: is the local stack running in this process?`);
  return Buffer.from(value, 'utf8');
}

type Item = Record<string, unknown>;

interface UserItems {
  identities: Item[];
  consentStates: Item[];
  matchIndex: Item[];
}

function userItems(u: number, pepper: Buffer, now: string): UserItems {
  const userId = benchUserId(u);
  const phoneNumber = userPhone(u);
  const keys = accountMatchKeys(pepper, { phoneNumber });
  return {
    identities: [
      { ...identityKey(userId), phoneNumber, createdAt: now, updatedAt: now },
      { ...claimKey('phoneNumber', phoneNumber), userId, claimedAt: now },
    ],
    consentStates: [
      {
        ...stateKey(userId),
        consentVersion: 1,
        consentPolicyVersion: POLICY,
        purposes: { ads_targeting: 'granted', friend_suggestions: 'denied' },
        consentUpdatedAt: now,
        createdAt: now,
      },
    ],
    matchIndex: [
      ...keys.map((key) => ({ ...indexKey(key), userId, consentVersion: 1 })),
      { ...appliedKey(userId), appliedVersion: 1, keys, rev: 1, updatedAt: now },
    ],
  };
}

/**
 * Attributes the seed leaves out on purpose: a seeded user stands for an
 * account whose decision predates signed receipts (the README's cut-over),
 * so its state has no `receiptHash` and its next decision starts a chain
 * (`prevHash: null`), at the same cost as any other.
 */
const UNSEEDED = new Set(['receiptHash']);

const shape = (item: Item | undefined): string[] =>
  item
    ? Object.entries(item)
        .filter(([k]) => !UNSEEDED.has(k))
        .map(([k, v]) => `${k}:${Array.isArray(v) ? 'list' : typeof v}`)
        .sort()
    : ['(missing)'];

/** Makes users through the API and compares their items with seeded ones. Returns differences (empty: same shapes). */
async function checkShapes(ctx: BenchContext, s: BenchStack): Promise<string[]> {
  const policy = await ensurePolicy(s, POLICY);
  const T = s.stack.resources.tables;
  const differences: string[] = [];
  const pepper = stackPepper();
  for (let i = 0; i < 2; i++) {
    const userId = `bench-shape-${i}`;
    const phoneNumber = userPhone(650_000 + i);
    const token = await s.token('user', userId);
    const phone = await verifyPhone(s, token, phoneNumber);
    const consent = await s.api('PUT', '/v1/me/consent', {
      token,
      body: { policyVersion: policy, purposes: { ads_targeting: 'granted', friend_suggestions: 'denied' }, source: 'notification' },
    });
    if (phone.status !== 200 || consent.status !== 200) throw new Error(`making a user through the API failed (${phone.status}, ${consent.status})`);
    const [key] = accountMatchKeys(pepper, { phoneNumber });
    let indexed: Item | undefined;
    for (let waited = 0; waited < 20_000 && !indexed; waited += 100) {
      indexed = (await s.ddb.send(new GetCommand({ TableName: T.matchIndex!.name, Key: indexKey(key!), ConsistentRead: true }))).Item;
      if (!indexed) await sleep(100);
    }
    if (!indexed) {
      differences.push('a user made through the API never reached the match index within 20 s');
      continue;
    }
    const get = async (table: string, key: Item) => (await s.ddb.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
    const seeded = userItems(0, pepper, new Date().toISOString());
    const pairs: [string, Item | undefined, Item | undefined][] = [
      ['identity', await get(T.identities!.name, identityKey(userId)), seeded.identities[0]],
      ['phone claim', await get(T.identities!.name, claimKey('phoneNumber', phoneNumber)), seeded.identities[1]],
      ['consent state', await get(T.consentStates!.name, stateKey(userId)), seeded.consentStates[0]],
      ['match index key', indexed, seeded.matchIndex[0]],
      ['match index applied state', await get(T.matchIndex!.name, appliedKey(userId)), seeded.matchIndex[1]],
    ];
    for (const [what, real, mine] of pairs) {
      const a = shape(real).join(' ');
      const b = shape(mine).join(' ');
      if (a !== b) differences.push(`${what}: service writes {${a}}, bench seeds {${b}}`);
    }
    if (i === 0 && differences.length > 0) break;
  }
  if (differences.length > 0) ctx.log(`WARNING: seeded items differ from the service's: ${differences.join('; ')}`);
  return [...new Set(differences)];
}

export interface Seeded {
  readonly users: number;
  readonly seedMs: number;
  readonly shapeDifferences: string[];
}

/** Seeds consenting users 0..count-1 (once a run; later calls add what is missing). */
export async function ensureUsers(ctx: BenchContext, s: BenchStack, count: number): Promise<Seeded> {
  const previous = ctx.shared.get('seeded') as Seeded | undefined;
  if (previous && previous.users >= count) return previous;
  const shapeDifferences = previous?.shapeDifferences ?? (await checkShapes(ctx, s));
  const from = previous?.users ?? 0;
  const started = Date.now();
  const pepper = stackPepper();
  const now = new Date().toISOString();
  const items: UserItems = { identities: [], consentStates: [], matchIndex: [] };
  for (let u = from; u < count; u++) {
    const user = userItems(u, pepper, now);
    for (const table of ['identities', 'consentStates', 'matchIndex'] as const) items[table].push(...user[table]);
  }
  const T = s.stack.resources.tables;
  const total = items.identities.length + items.consentStates.length + items.matchIndex.length;
  ctx.log(`seeding ${(count - from).toLocaleString('en-US')} consenting users (${total.toLocaleString('en-US')} items) through BatchWriteItem...`);
  for (const table of ['identities', 'consentStates', 'matchIndex'] as const) await rawBatchPut(s, T[table]!.name, items[table], 8);
  const seeded: Seeded = { users: count, seedMs: (previous?.seedMs ?? 0) + (Date.now() - started), shapeDifferences };
  ctx.shared.set('seeded', seeded);
  ctx.log(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return seeded;
}
