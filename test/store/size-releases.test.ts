/**
 * Size releases against DynamoDB Local: the routes make fresh releases
 * within the budget (stage defaults: one a day per audience, five a day and
 * twelve in 365 days per business), in one transaction with the business's
 * budget item, and show the stored release otherwise.
 */
import { handler as createAudience } from '../../functions/create-audience/handler';
import { handler as getAudience } from '../../functions/get-audience/handler';
import { handler as listAudiences } from '../../functions/list-audiences/handler';
import { clock } from '../../functions/shared/clock';
import { releaseBudgetKey } from '../../functions/tables/audiences';
import { invokeHttp } from '../support/events';
import { audienceNow, updateAudience } from './support/audiences';
import { functionCalls, passThrough, resetClock, store, uniqueId } from './support/db';

beforeEach(() => passThrough());
afterEach(resetClock);
afterAll(() => functionCalls.restore());

const DAY_MS = 86_400_000;
const later = () => String(Math.floor(clock.nowMs() / DAY_MS) + 500);

interface View {
  status: string;
  approximateCount: { lower: number; upper: number } | null;
  targetable: boolean | null;
  countedAt: string | null;
  nextCountAt: string;
}

async function create(business: { sub: string }) {
  const res = await invokeHttp(createAudience, {
    method: 'POST',
    body: { name: 'n', customerFileSource: 'USER_PROVIDED_ONLY' },
    claims: { ...business, role: 'business' },
  });
  expect(res.status).toBe(201);
  return res.json.id as string;
}
const get = async (business: { sub: string }, id: string) =>
  (await invokeHttp(getAudience, { pathParameters: { id }, claims: { ...business, role: 'business' } })).json as unknown as View;
const list = async (business: { sub: string }) =>
  ((await invokeHttp(listAudiences, { claims: { ...business, role: 'business' } })).json as unknown as { items: (View & { id: string })[] }).items;

/** One more settled batch on the audience (as the upload route and the matcher leave it), `count` members alive. */
async function settledBatch(businessId: string, id: string, count: number) {
  const now = clock.nowMs();
  const item = await audienceNow(businessId, id);
  await updateAudience(businessId, id, {
    expiring: { [later()]: count },
    chunksExpected: ((item.chunksExpected as number) ?? 0) + 1,
    chunksMatched: ((item.chunksMatched as number) ?? 0) + 1,
    batches: ((item.batches as number) ?? 0) + 1,
    lastBatchAtMs: now - 40_000,
    settleUntilMs: now - 8_000,
    matchedAtMs: now - 39_000,
  });
}

describe('one audience', () => {
  it('is counted at once when its first batch has settled, then shows that count until a change after a day', async () => {
    // Prepare
    const business = { sub: uniqueId('b') };
    const id = await create(business);
    const created = await get(business, id);
    expect(created).toEqual(expect.objectContaining({ status: 'empty', approximateCount: null, targetable: null, countedAt: null }));
    await settledBatch(business.sub, id, 300);
    // Act: the first read after it
    const first = await get(business, id);
    // Assess
    expect(first.status).toBe('ready');
    expect(Math.abs(Date.parse(first.countedAt!) - clock.nowMs())).toBeLessThan(5_000);
    expect(first.approximateCount!.lower).toBeLessThanOrEqual(300);
    expect(first.approximateCount!.upper).toBeGreaterThan(300);
    expect(Date.parse(first.nextCountAt)).toBe(Date.parse(first.countedAt!) + DAY_MS);
    // A change the same day: still the first count, and the budget says when the next can come
    await settledBatch(business.sub, id, 301);
    const again = await get(business, id);
    expect(again).toEqual(first);
    // The exact count moves (a withdrawal, say): nothing shown moves
    await updateAudience(business.sub, id, { expiring: { [later()]: 250 } });
    expect(await get(business, id)).toEqual(first);
    // A day later the pending change is counted afresh
    clock.advance(86_401);
    const next = await get(business, id);
    expect(Date.parse(next.countedAt!)).toBeGreaterThan(Date.parse(first.countedAt!));
    expect(next.approximateCount!.lower).toBeLessThanOrEqual(250);
    expect(next.approximateCount!.upper).toBeGreaterThan(250);
    // No change since: no fresh count however often it is read
    clock.advance(2 * 86_400);
    expect((await get(business, id)).countedAt).toBe(next.countedAt);
    const budget = await store.get('audiences', releaseBudgetKey(business.sub));
    expect(budget).toEqual(expect.objectContaining({ version: 2, log: [Date.parse(first.countedAt!), Date.parse(next.countedAt!)] }));
  });

  it('waits for the settle time: a matched batch is not counted before it, whatever matched', async () => {
    const business = { sub: uniqueId('b') };
    const id = await create(business);
    await settledBatch(business.sub, id, 120);
    await updateAudience(business.sub, id, { settleUntilMs: clock.nowMs() + 20_000 });
    const settling = await get(business, id);
    expect(settling).toEqual(expect.objectContaining({ status: 'processing', countedAt: null }));
    expect(Date.parse(settling.nextCountAt)).toBe((await audienceNow(business.sub, id)).settleUntilMs);
    clock.advance(21);
    expect(await get(business, id)).toEqual(expect.objectContaining({ status: 'ready', countedAt: expect.any(String) }));
  });

  it('makes one release when two reads race for it', async () => {
    const business = { sub: uniqueId('b') };
    const id = await create(business);
    await settledBatch(business.sub, id, 500);
    const [a, b] = await Promise.all([get(business, id), get(business, id)]);
    expect(a).toEqual(b);
    expect(a.countedAt).toEqual(expect.any(String));
    expect(await store.get('audiences', releaseBudgetKey(business.sub))).toEqual(expect.objectContaining({ version: 1, log: [Date.parse(a.countedAt!)] }));
  });
});

describe("a business's audiences", () => {
  it('get at most five fresh counts a day, longest waiting first; the rest say when theirs can come', async () => {
    // Prepare: seven audiences, each with a settled batch, the first ones older
    const business = { sub: uniqueId('b') };
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const id = await create(business);
      await settledBatch(business.sub, id, 200 + i);
      await updateAudience(business.sub, id, { lastBatchAtMs: clock.nowMs() - 60_000 + i * 1_000 });
      ids.push(id);
    }
    // Act
    const items = await list(business);
    // Assess
    const counted = items.filter((a) => a.countedAt !== null).map((a) => a.id);
    expect(counted).toEqual(ids.slice(0, 5));
    const waiting = items.filter((a) => a.countedAt === null);
    expect(waiting).toHaveLength(2);
    const firstCount = Date.parse(items[0]!.countedAt!);
    for (const a of waiting) expect(Date.parse(a.nextCountAt)).toBe(firstCount + DAY_MS);
    // A read of one of them is no way around the budget
    expect((await get(business, ids[6]!)).countedAt).toBeNull();
    // A day later the two get theirs
    clock.advance(86_401);
    expect((await list(business)).every((a) => a.countedAt !== null)).toBe(true);
    expect(await store.get('audiences', releaseBudgetKey(business.sub))).toEqual(expect.objectContaining({ version: 2 }));
  });

  it('get no more than twelve fresh counts in 365 days, however the days are spent', async () => {
    const business = { sub: uniqueId('b') };
    const ids: string[] = [];
    for (let i = 0; i < 15; i++) ids.push(await create(business));
    const counts: string[] = [];
    for (let day = 0; day < 5; day++) {
      for (const id of ids) await settledBatch(business.sub, id, 150);
      for (const a of await list(business)) if (a.countedAt && !counts.includes(a.countedAt + a.id)) counts.push(a.countedAt + a.id);
      clock.advance(86_401);
    }
    expect(counts).toHaveLength(12);
    const view = await get(business, ids[0]!);
    const budget = (await store.get('audiences', releaseBudgetKey(business.sub)))!.log as number[];
    expect(Date.parse(view.nextCountAt)).toBe(budget[0]! + 365 * DAY_MS);
  });
});
