import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as createAudience } from '../../functions/create-audience/handler';
import { handler as listAudiences } from '../../functions/list-audiences/handler';
import { handler as getAudience } from '../../functions/get-audience/handler';
import { handler as deleteAudience } from '../../functions/delete-audience/handler';
import { handler as getSession } from '../../functions/get-upload-session/handler';
import { handler as userAudiences } from '../../functions/get-user-audiences/handler';
import { widthLimit } from '../../functions/core/audience-count';
import { chunkId } from '../../functions/core/audiences';
import { attemptId, leaseIdAt } from '../../functions/core/matching';
import { intSetting } from '../../functions/shared/config';
import { audienceKey, quotaKey } from '../../functions/tables/audiences';
import { chunkMatchedPart, sessionPart } from '../../functions/tables/upload-sessions';
import { invokeHttp } from '../support/events';
import { audienceNow, givenConsent, givenMembership, updateAudience } from './support/audiences';
import { functionCalls, passThrough, store, uniqueId } from './support/db';

const sqs = mockClient(SQSClient);
beforeEach(() => {
  passThrough();
  sqs.reset();
  sqs.on(SendMessageCommand).resolves({});
});
afterAll(() => {
  functionCalls.restore();
  sqs.restore();
});

// Each test has businesses and a user of its own.
let b1: { sub: string; role: string };
let b2: { sub: string; role: string };
let userId: string;
beforeEach(() => {
  b1 = { sub: uniqueId('b1'), role: 'business' };
  b2 = { sub: uniqueId('b2'), role: 'business' };
  userId = uniqueId('u');
});
const operator = { sub: 'op-1', role: 'operator' };
const today = Math.floor(Date.now() / 86_400_000);
const later = String(today + 500);

async function create(claims = b1, name = 'Flowers') {
  const res = await invokeHttp(createAudience, { method: 'POST', body: { name, customerFileSource: 'USER_PROVIDED_ONLY' }, claims });
  expect(res.status).toBe(201);
  return res.json as { id: string };
}
/** Exact counts as the matcher leaves them after one settled batch: every accepted chunk matched, the settle time passed. */
const setCount = (businessId: string, id: string, count: number, extra: Record<string, unknown> = {}) =>
  updateAudience(businessId, id, {
    expiring: { [later]: count },
    revision: 5,
    chunksExpected: 2,
    chunksMatched: 2,
    batches: 1,
    lastBatchAtMs: Date.now() - 60_000,
    settleUntilMs: Date.now() - 30_000,
    matchedAtMs: Date.now() - 50_000,
    ...extra,
  });
const get = (id: string, claims = b1) => invokeHttp(getAudience, { pathParameters: { id }, claims });

describe('POST /v1/audiences', () => {
  it('creates an empty audience', async () => {
    const res = await invokeHttp(createAudience, {
      method: 'POST',
      body: { name: ' Flower shop mailing list ', customerFileSource: 'BOTH_USER_AND_PARTNER_PROVIDED' },
      claims: b1,
    });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      id: expect.stringMatching(/^aud-[0-9a-f]{32}$/),
      name: 'Flower shop mailing list',
      customerFileSource: 'BOTH_USER_AND_PARTNER_PROVIDED',
      status: 'empty',
      approximateCount: null,
      targetable: null,
      countedAt: null,
      nextCountAt: expect.any(String),
      createdAt: expect.any(String),
    });
    expect(res.headers.location).toBe(`/v1/audiences/${res.json.id}`);
    expect(await store.get('audiences', audienceKey(b1.sub, res.json.id as string))).toEqual(
      expect.objectContaining({ name: 'Flower shop mailing list', expiring: {}, revision: 0 }),
    );
  });

  it('answers 409 once the business has created its quota of audiences, deleted ones included', async () => {
    const quota = intSetting('audienceQuota');
    await store.put('audiences', { ...quotaKey(b1.sub), businessId: b1.sub, created: quota - 1 });
    await create();
    const over = await invokeHttp(createAudience, { method: 'POST', body: { name: 'x', customerFileSource: 'USER_PROVIDED_ONLY' }, claims: b1 });
    expect(over.status).toBe(409);
    expect(over.json.type).toBe('/problems/audience-quota-exceeded');
    expect(await store.get('audiences', quotaKey(b1.sub))).toEqual(expect.objectContaining({ created: quota })); // the refused one is not counted
    expect((await create(b2)).id).toBeDefined(); // per business
  });

  it('answers 400 for an unknown source and 403 for other roles', async () => {
    expect((await invokeHttp(createAudience, { method: 'POST', body: { name: 'x', customerFileSource: 'CRM' }, claims: b1 })).status).toBe(400);
    expect((await invokeHttp(createAudience, { method: 'POST', body: { name: 'x', customerFileSource: 'USER_PROVIDED_ONLY' }, claims: operator })).status).toBe(
      403,
    );
    expect(await store.get('audiences', quotaKey(b1.sub))).toBeUndefined(); // nothing half-written
  });
});

describe('GET /v1/audiences and /v1/audiences/{id}', () => {
  it("lists only the caller's audiences, without deleted ones", async () => {
    const a = await create(b1, 'a');
    const b = await create(b1, 'b');
    await create(b2, 'other');
    await invokeHttp(deleteAudience, { method: 'DELETE', pathParameters: { id: b.id }, claims: b1 });
    const res = await invokeHttp(listAudiences, { claims: b1 });
    expect((res.json.items as { id: string }[]).map((i) => i.id)).toEqual([a.id]);
  });

  it('shows nothing counted on a new audience, and when its first count can come', async () => {
    const { id } = await create();
    const res = await get(id);
    expect(res.json).toEqual(expect.objectContaining({ status: 'empty', approximateCount: null, targetable: null, countedAt: null }));
    expect(Date.parse(res.json.nextCountAt as string)).toBeLessThanOrEqual(Date.now());
  });

  it('reports a range that contains the count, never the count, and {0, 100} below the minimum', async () => {
    for (const count of [0, 40, 99, 150, 1_234, 98_765]) {
      // One business and audience each: every one gets its first count at once.
      const business = { sub: uniqueId('b'), role: 'business' };
      const { id } = await create(business);
      await setCount(business.sub, id, count);
      const res = await get(id, business);
      const { lower, upper } = res.json.approximateCount as { lower: number; upper: number };
      expect(res.json.status).toBe('ready');
      expect(lower).toBeLessThanOrEqual(count);
      expect(upper).toBeGreaterThanOrEqual(count);
      if (res.json.targetable) expect(upper - lower).toBeLessThanOrEqual(widthLimit(count));
      else expect({ lower, upper }).toEqual({ lower: 0, upper: 100 });
      if (count < 50) expect(res.json.targetable).toBe(false);
      if (count >= 100) expect(res.json.targetable).toBe(true);
      expect(res.json.countedAt).toEqual(expect.any(String));
      expect(JSON.stringify(res.json)).not.toMatch(/"(count|exact|revision|expiring|release|releaseLog|batches)"/);
    }
  });

  it('leaves expired memberships out of the count', async () => {
    const { id } = await create();
    await setCount(b1.sub, id, 0, { expiring: { [String(today - 1)]: 5_000, [later]: 10 } });
    expect((await get(id)).json).toEqual(expect.objectContaining({ approximateCount: { lower: 0, upper: 100 }, targetable: false }));
  });

  it('is processing while chunks wait for the matcher', async () => {
    const { id } = await create();
    await setCount(b1.sub, id, 10, { chunksExpected: 3, chunksMatched: 1 });
    expect((await get(id)).json.status).toBe('processing');
  });

  it("answers 404 alike for another business's, a missing, a deleted and a malformed id", async () => {
    const { id } = await create(b1);
    const answers = [await get(id, b2), await get(`aud-${'0'.repeat(32)}`), await get('not-an-id'), await get('../../x')];
    await invokeHttp(deleteAudience, { method: 'DELETE', pathParameters: { id }, claims: b1 });
    answers.push(await get(id));
    for (const res of answers) {
      expect(res.status).toBe(404);
      expect(res.json).toEqual({ type: '/problems/not-found', title: 'Not found', status: 404, detail: 'No such audience.' });
    }
  });
});

describe('DELETE /v1/audiences/{id}', () => {
  it('queues the cleanup, then marks the audience deleted: 202, then 404', async () => {
    const { id } = await create();
    const res = await invokeHttp(deleteAudience, { method: 'DELETE', pathParameters: { id }, claims: b1 });
    expect(res.status).toBe(202);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
    const message = JSON.parse(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input.MessageBody!);
    expect(message).toEqual(expect.objectContaining({ audienceId: id, businessId: b1.sub, pass: 1 }));
    expect(await audienceNow(b1.sub, id)).toEqual(expect.objectContaining({ deletedAt: expect.any(String), expiresAt: expect.any(Number) }));
    expect((await invokeHttp(deleteAudience, { method: 'DELETE', pathParameters: { id }, claims: b1 })).status).toBe(404);
  });

  it("answers 404 for another business's audience and changes nothing", async () => {
    const { id } = await create(b1);
    const before = await audienceNow(b1.sub, id);
    expect((await invokeHttp(deleteAudience, { method: 'DELETE', pathParameters: { id }, claims: b2 })).status).toBe(404);
    expect(sqs.calls()).toHaveLength(0);
    expect(await audienceNow(b1.sub, id)).toEqual(before);
    expect((await get(id)).status).toBe(200);
  });
});

describe('GET /v1/audiences/{id}/sessions/{sessionId}', () => {
  it("shows the stage and counters of one of the caller's sessions", async () => {
    const { id } = await create();
    const session = {
      operation: 'add' as const,
      firstBatchAtMs: Date.now(),
      deadlineAtMs: Date.now() + 5_400_000,
      maxSeq: 2,
      lastBatchSeq: 2,
      batchesReceived: 2,
      numReceived: 1_500,
      numInvalid: 3,
      chunksExpected: 2,
      chunksMatched: 0,
      rev: 2,
    };
    await store.transact([sessionPart(b1.sub, id, 42, { ...session, settleUntilMs: Date.now() - 1_000 }, 0, Math.floor(Date.now() / 1000) + 86_400)]);
    await store.transact([chunkMatchedPart(id, 42, Date.now())]); // one of its two chunks matched
    const res = await invokeHttp(getSession, { pathParameters: { id, sessionId: '42' }, claims: b1 });
    expect(res.json).toEqual({ sessionId: 42, stage: 'processing', batchesReceived: 2, numReceived: 1_500, numInvalid: 3 });
    expect((await invokeHttp(getSession, { pathParameters: { id, sessionId: '42' }, claims: b2 })).status).toBe(404);
    expect((await invokeHttp(getSession, { pathParameters: { id, sessionId: '43' }, claims: b1 })).status).toBe(404);
    expect((await invokeHttp(getSession, { pathParameters: { id, sessionId: 'x' }, claims: b1 })).status).toBe(404);
  });
});

describe('GET /v1/ops/users/{userId}/audiences', () => {
  const membership = (audienceId: string, businessId: string, extra: { expiresAt?: number; lastChunk?: string; prevExpiresAt?: number } = {}) =>
    givenMembership({ userId, audienceId, businessId, expiresAt: Number(later) * 86_400, ...extra });
  const lookup = (id = userId) => invokeHttp(userAudiences, { pathParameters: { userId: id }, claims: operator });
  it('lists the audiences the user is in now, from one Query of their memberships', async () => {
    // Prepare
    await givenConsent(userId, { granted: true, version: 3 });
    const live = await create(b1, 'live');
    const other = await create(b2, 'other business');
    const deleted = await create(b1, 'deleted');
    const expired = await create(b1, 'expired');
    const uncommitted = await create(b1, 'uncommitted');
    const attempt = attemptId(chunkId(1, 1, 0), leaseIdAt(Date.now(), 'writer'));
    await membership(live.id, b1.sub);
    await membership(other.id, b2.sub);
    await membership(deleted.id, b1.sub);
    await membership(expired.id, b1.sub, { expiresAt: (today - 1) * 86_400 });
    await membership(uncommitted.id, b1.sub, { lastChunk: attempt, prevExpiresAt: 0 });
    await setCount(b1.sub, uncommitted.id, 0, { pending: new Set([attempt]) });
    await invokeHttp(deleteAudience, { method: 'DELETE', pathParameters: { id: deleted.id }, claims: b1 });
    functionCalls.resetHistory();
    // Act
    const res = await lookup();
    // Assess
    expect(res.status).toBe(200);
    expect((res.json.items as { audienceId: string }[]).map((i) => i.audienceId).sort()).toEqual([live.id, other.id].sort());
    expect(res.json.items).toContainEqual({ audienceId: other.id, businessId: b2.sub });
    const names = functionCalls.calls().map((c) => (c.args[0] as object).constructor.name);
    expect(names.filter((n) => n === 'QueryCommand')).toHaveLength(1);
    expect(names).not.toContain('ScanCommand');
  });

  it('lists none for a user who does not grant ads targeting, even before their memberships are removed', async () => {
    await givenConsent(userId, { granted: false, version: 3 });
    await membership((await create()).id, b1.sub);
    expect((await lookup()).json).toEqual({ items: [] });
  });

  it('answers an unknown user with none, a malformed id with 404, and is for operators only', async () => {
    expect((await lookup(uniqueId('nobody'))).json).toEqual({ items: [] });
    expect((await lookup('x'.repeat(200))).status).toBe(404);
    expect((await invokeHttp(userAudiences, { pathParameters: { userId }, claims: b1 })).status).toBe(403);
  });
});
