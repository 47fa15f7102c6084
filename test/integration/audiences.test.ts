/**
 * Custom audiences on the shared local stack: every route, upload sessions,
 * keyed matching of consenting users only, withdrawal, deletion, isolation
 * between businesses, and what the tables and queues hold. The clock is
 * never moved here (see audiences-private.test.ts).
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { awsClients, closeAwsClients, eventually, tableName, tokenFor } from './support';
import { createUser, ensurePolicy, emailHash, phoneHash } from './support/users';
import {
  audiencesOf,
  call,
  createAudience,
  createPeople,
  everyQueuedMessage,
  everyStoredItem,
  getAudience,
  newBusiness,
  newSessionId,
  rowOf,
  strangerRow,
  upload,
  waitForMatchIndex,
  waitForSession,
} from './audiences.helpers';
import type { Business, Person } from './audiences.helpers';
import { membershipKey } from '../../functions/tables/memberships';

const shared = {};
/** Every SHA-256 cell this file uploads: no table may ever hold one. */
const uploadedCells = new Set<string>();
const remember = (rows: readonly (readonly string[])[]) => {
  for (const row of rows) for (const cell of row) if (cell) uploadedCells.add(cell);
  return rows;
};

let consenting: Person[];
let denying: Person[];

beforeAll(async () => {
  await ensurePolicy();
  [consenting, denying] = [await createPeople(shared, 300, 'granted'), await createPeople(shared, 200, 'denied')];
  await waitForMatchIndex(shared, consenting, 'granted');
  await waitForMatchIndex(shared, denying, 'denied');
}, 240_000);
afterAll(() => closeAwsClients());

describe('an upload of 1,000 rows: 300 consenting users, 200 who denied, 500 strangers', () => {
  let business: Business;
  let audienceId: string;
  let rows: [string, string][];

  beforeAll(async () => {
    business = await newBusiness();
    audienceId = await createAudience(shared, business);
    rows = [...consenting.map(rowOf), ...denying.map(rowOf), ...Array.from({ length: 500 }, strangerRow)];
    remember(rows);
  });

  it('matches exactly the 300 and reports a range that contains 300', async () => {
    // Act
    const sessionId = newSessionId();
    const receipt = await upload(shared, business, audienceId, { sessionId, rows });
    // Assess
    expect(receipt.status).toBe(202);
    expect(receipt.json).toEqual({ sessionId, numReceived: 1000, numInvalid: 0, invalidSamples: [] });
    await waitForSession(shared, business, audienceId, sessionId);
    const audience = await getAudience(shared, business, audienceId);
    expect(audience.json).toEqual(expect.objectContaining({ id: audienceId, status: 'ready', targetable: true }));
    const { lower, upper } = audience.json.approximateCount;
    expect(lower).toBeLessThanOrEqual(300);
    expect(upper).toBeGreaterThanOrEqual(300);
    expect(upper - lower).toBeLessThanOrEqual(200);
    // The ops lookup shows exactly the 300.
    const { ddb } = await awsClients();
    const members = await ddb.send(
      new QueryCommand({
        TableName: tableName('audienceMemberships'),
        IndexName: 'byAudience',
        KeyConditionExpression: 'audienceId = :a',
        ExpressionAttributeValues: { ':a': audienceId },
      }),
    );
    expect(new Set(members.Items!.map((m) => m.userId))).toEqual(new Set(consenting.map((p) => p.userId)));
    const sample = [...consenting.slice(0, 40), ...denying.slice(0, 40)];
    for (const person of sample) {
      const expected = consenting.includes(person) ? [{ audienceId, businessId: business.sub }] : [];
      expect(await audiencesOf(shared, person.userId)).toEqual(expected);
    }
  });

  it('drops a user who denies ads targeting within seconds, and a re-upload does not bring them back', async () => {
    // Act: one of the 300 denies
    const leaving = consenting[7]!;
    const { ddb } = await awsClients();
    const policyVersion = await ensurePolicy();
    const denied = await call(shared, 'PUT', '/v1/me/consent', leaving.token, { policyVersion, purposes: { ads_targeting: 'denied' }, source: 'settings' });
    expect(denied.status).toBe(200);
    // Assess: the ops lookup drops them, and the withdrawal consumer removes the membership
    expect(await audiencesOf(shared, leaving.userId)).toEqual([]);
    await eventually(
      async () => {
        const item = await ddb.send(
          new GetCommand({ TableName: tableName('audienceMemberships'), Key: membershipKey(leaving.userId, audienceId), ConsistentRead: true }),
        );
        expect(item.Item).toBeUndefined();
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    await waitForMatchIndex(shared, [leaving], 'denied');
    // Act: the same list again
    const sessionId = newSessionId();
    expect((await upload(shared, business, audienceId, { sessionId, rows })).status).toBe(202);
    await waitForSession(shared, business, audienceId, sessionId);
    // Assess
    expect(await audiencesOf(shared, leaving.userId)).toEqual([]);
    const item = await ddb.send(
      new GetCommand({ TableName: tableName('audienceMemberships'), Key: membershipKey(leaving.userId, audienceId), ConsistentRead: true }),
    );
    expect(item.Item).toBeUndefined();
    expect(await audiencesOf(shared, consenting[8]!.userId)).toEqual([{ audienceId, businessId: business.sub }]);
    const { lower, upper } = (await getAudience(shared, business, audienceId)).json.approximateCount;
    expect(lower).toBeLessThanOrEqual(299);
    expect(upper).toBeGreaterThanOrEqual(299);
  });

  it('removes people with DELETE /users and takes them off', async () => {
    const leaving = consenting.slice(20, 30);
    const sessionId = newSessionId();
    const res = await upload(shared, business, audienceId, {
      sessionId,
      rows: remember(leaving.map((p) => [phoneHash(p.phoneNumber), ''])),
      operation: 'remove',
    });
    expect(res.status).toBe(202);
    await waitForSession(shared, business, audienceId, sessionId);
    for (const person of leaving) expect(await audiencesOf(shared, person.userId)).toEqual([]);
    expect(await audiencesOf(shared, consenting[30]!.userId)).toHaveLength(1);
    const { lower, upper } = (await getAudience(shared, business, audienceId)).json.approximateCount;
    expect(lower).toBeLessThanOrEqual(289);
    expect(upper).toBeGreaterThanOrEqual(289);
  });
});

describe('upload sessions', () => {
  it('go receiving, then processing, then done; a repeated batchSeq is accepted once', async () => {
    // Prepare
    const business = await newBusiness();
    const audienceId = await createAudience(shared, business);
    const sessionId = newSessionId();
    const first = remember(consenting.slice(100, 150).map(rowOf));
    // Act and assess: batch 1 of 2
    const one = await upload(shared, business, audienceId, { sessionId, batchSeq: 1, lastBatch: false, rows: first });
    expect(one.json).toEqual({ sessionId, numReceived: 50, numInvalid: 0, invalidSamples: [] });
    const receiving = await call(shared, 'GET', `/v1/audiences/${audienceId}/sessions/${sessionId}`, business.token);
    expect(receiving.json).toEqual({ sessionId, stage: 'receiving', batchesReceived: 1, numReceived: 50, numInvalid: 0 });
    // The same batch again: the same receipt, nothing counted twice
    const again = await upload(shared, business, audienceId, { sessionId, batchSeq: 1, lastBatch: false, rows: first });
    expect(again.json).toEqual(one.json);
    // The last batch: a large one, so matching takes a moment
    const last = remember([...consenting.slice(150, 200).map(rowOf), ...Array.from({ length: 4_950 }, strangerRow), ['+14155550123', 'x']]);
    const two = await upload(shared, business, audienceId, { sessionId, batchSeq: 2, lastBatch: true, rows: last });
    expect(two.json).toEqual({ sessionId, numReceived: 5_001, numInvalid: 1, invalidSamples: [5_000] });
    const closed = await call(shared, 'GET', `/v1/audiences/${audienceId}/sessions/${sessionId}`, business.token);
    expect(['processing', 'done']).toContain(closed.json.stage);
    const done = await waitForSession(shared, business, audienceId, sessionId);
    expect(done).toEqual({ sessionId, stage: 'done', batchesReceived: 2, numReceived: 5_051, numInvalid: 1 });
    // Batches after the last one, or of the other operation, are refused.
    expect((await upload(shared, business, audienceId, { sessionId, batchSeq: 3, rows: [strangerRow()] })).status).toBe(409);
    expect((await upload(shared, business, audienceId, { sessionId, batchSeq: 1, rows: first, operation: 'remove' })).status).toBe(202); // a replay
    expect((await upload(shared, business, audienceId, { sessionId, batchSeq: 4, rows: first, operation: 'remove' })).status).toBe(409);
    const { lower, upper } = (await getAudience(shared, business, audienceId)).json.approximateCount;
    expect(lower).toBeLessThanOrEqual(100);
    expect(upper).toBeGreaterThanOrEqual(100);
  });

  it('refuses more than 10,000 rows with 413, and answers 400 for a repeated schema key', async () => {
    const business = await newBusiness();
    const audienceId = await createAudience(shared, business);
    const tooMany = await upload(shared, business, audienceId, {
      sessionId: newSessionId(),
      rows: Array.from({ length: 10_001 }, () => ['']),
      schema: ['EMAIL_SHA256'],
    });
    expect(tooMany.status).toBe(413);
    expect(tooMany.headers['content-type']).toBe('application/problem+json');
    const repeated = await upload(shared, business, audienceId, { sessionId: newSessionId(), rows: [['', '']], schema: ['EMAIL_SHA256', 'EMAIL_SHA256'] });
    expect(repeated.status).toBe(400);
  });
});

describe('plain identifiers and stored values', () => {
  it('counts plain phone numbers and emails as invalid and stores or queues none of them', async () => {
    // Prepare: plain identifiers nobody registered, so any copy anywhere would come from the upload.
    const business = await newBusiness();
    const audienceId = await createAudience(shared, business);
    const tag = Date.now().toString().slice(-6);
    const plain = Array.from({ length: 50 }, (_, i) => [`+1 (303) 555-${1000 + i}`, `plain.${tag}.${i}@nobody.example`]);
    const bare = Array.from({ length: 10 }, (_, i) => [`1303${tag}${i}`, '']);
    const sessionId = newSessionId();
    // Act
    const res = await upload(shared, business, audienceId, { sessionId, rows: [...plain, ...bare] });
    // Assess
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ sessionId, numReceived: 60, numInvalid: 60, invalidSamples: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
    expect(res.text).not.toMatch(/nobody\.example|555-|1303/);
    await waitForSession(shared, business, audienceId, sessionId);
    expect((await getAudience(shared, business, audienceId)).json).toEqual(
      expect.objectContaining({ status: 'empty', approximateCount: null, targetable: null, countedAt: null }),
    );
    const everywhere = [...(await everyStoredItem()), ...(await everyQueuedMessage())].join('\n');
    for (const [phone, email] of [...plain, ...bare]) {
      expect(everywhere).not.toContain(phone!);
      expect(everywhere).not.toContain(phone!.replace(/\D/g, ''));
      if (email) expect(everywhere).not.toContain(email);
    }
  });

  it('holds no value equal to any uploaded SHA-256 cell, in any table', async () => {
    expect(uploadedCells.size).toBeGreaterThan(6_000);
    const stored = await everyStoredItem();
    const found = stored.filter((item) => (item.match(/[0-9a-f]{64}/g) ?? []).some((hex) => uploadedCells.has(hex)));
    expect(found).toEqual([]);
  });
});

describe('businesses', () => {
  it("cannot see or touch each other's audiences: 404 exactly as if they did not exist", async () => {
    // Prepare
    const [owner, other] = [await newBusiness(), await newBusiness()];
    const audienceId = await createAudience(shared, owner, 'Mine');
    const sessionId = newSessionId();
    expect((await upload(shared, owner, audienceId, { sessionId, rows: remember([rowOf(consenting[0]!)]) })).status).toBe(202);
    const missing = `aud-${'0'.repeat(32)}`;
    // Act and assess
    const attempts = [
      ['GET', `/v1/audiences/${audienceId}`],
      ['DELETE', `/v1/audiences/${audienceId}`],
      ['GET', `/v1/audiences/${audienceId}/sessions/${sessionId}`],
    ] as const;
    for (const [method, path] of attempts) {
      const foreign = await call(shared, method, path, other.token);
      const absent = await call(shared, method, path.replace(audienceId, missing), other.token);
      expect(foreign.status).toBe(404);
      expect(foreign.json).toEqual(absent.json);
    }
    for (const method of ['POST', 'DELETE']) {
      const res = await call(shared, method, `/v1/audiences/${audienceId}/users`, other.token, {
        session: { id: 1, batchSeq: 1, lastBatch: true },
        schema: ['PHONE_SHA256'],
        data: [[phoneHash('1')]],
      });
      expect(res.status).toBe(404);
    }
    expect((await call(shared, 'GET', '/v1/audiences', other.token)).json).toEqual({ items: [] });
    const own = await call<{ items: { id: string; name: string }[] }>(shared, 'GET', '/v1/audiences', owner.token);
    expect(own.json.items.map((a) => a.id)).toEqual([audienceId]);
    expect((await call(shared, 'GET', `/v1/audiences/${audienceId}`, owner.token)).status).toBe(200);
    // A malformed id is a 404 too, and so is a user's or an operator's call a 403.
    expect((await call(shared, 'GET', '/v1/audiences/..%2F..%2Fetc', owner.token)).status).toBe(404);
    expect((await call(shared, 'GET', '/v1/audiences', await tokenFor('user', 'u-x'))).status).toBe(403);
  });
});

describe('deleting an audience', () => {
  it('answers 202, then 404; nobody is a member from then on, and its memberships go', async () => {
    // Prepare
    const business = await newBusiness();
    const audienceId = await createAudience(shared, business);
    const people = consenting.slice(260, 280);
    const sessionId = newSessionId();
    await upload(shared, business, audienceId, { sessionId, rows: remember(people.map(rowOf)) });
    await waitForSession(shared, business, audienceId, sessionId);
    expect(await audiencesOf(shared, people[0]!.userId)).toContainEqual({ audienceId, businessId: business.sub });
    // Act
    const res = await call(shared, 'DELETE', `/v1/audiences/${audienceId}`, business.token);
    // Assess
    expect(res.status).toBe(202);
    expect((await getAudience(shared, business, audienceId)).status).toBe(404);
    for (const person of people) expect(await audiencesOf(shared, person.userId)).not.toContainEqual(expect.objectContaining({ audienceId }));
    expect((await call(shared, 'GET', '/v1/audiences', business.token)).json).toEqual({ items: [] });
    const { ddb } = await awsClients();
    await eventually(
      async () => {
        const left = await ddb.send(
          new QueryCommand({
            TableName: tableName('audienceMemberships'),
            IndexName: 'byAudience',
            KeyConditionExpression: 'audienceId = :a',
            ExpressionAttributeValues: { ':a': audienceId },
          }),
        );
        expect(left.Items).toEqual([]);
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect((await upload(shared, business, audienceId, { sessionId: newSessionId(), rows: [strangerRow()] })).status).toBe(404);
  });
});

describe('users who never decided', () => {
  it('are never matched', async () => {
    const undecided = await createUser({ phone: true, email: true });
    const business = await newBusiness();
    const audienceId = await createAudience(shared, business);
    const sessionId = newSessionId();
    await upload(shared, business, audienceId, { sessionId, rows: remember([[phoneHash(undecided.phoneNumber!), emailHash(undecided.email!)]]) });
    await waitForSession(shared, business, audienceId, sessionId);
    expect(await audiencesOf(shared, undecided.userId)).toEqual([]);
  });
});
