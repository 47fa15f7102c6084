import { createHash } from 'node:crypto';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as match, matchChunk } from '../../functions/match-audience-batch/handler';
import { batchDigest, chunkId, encodeRows, expiresAtOf, expiryDay } from '../../functions/core/audiences';
import type { ChunkMessage } from '../../functions/core/audiences';

/** A row by its match keys (hex). */
type KeyedRow = { phone?: string; email?: string };
import { lambdaContext, sqsEvent, sqsRecord } from '../support/events';
import { FakeDynamo } from './audiences-fake-dynamo';

const ddb = mockClient(DynamoDBDocumentClient);
let db: FakeDynamo;
beforeEach(() => {
  db = new FakeDynamo();
  db.install(ddb);
});
afterEach(() => ddb.reset());

const AUDIENCE = `aud-${'b'.repeat(32)}`;
const UPLOADED_AT = Date.UTC(2026, 10, 25, 10);
const EXPIRY = expiresAtOf(expiryDay(UPLOADED_AT, 540));
const EXPIRY_DAY = String(EXPIRY / 86_400);
const hex = (label: string) => createHash('sha256').update(label).digest('hex');
const key = hex;

/**
 * Users in the match index with both keys (indexed under their consent
 * version, or without one as keys added before the index recorded it),
 * granted unless said otherwise.
 */
function givenUser(userId: string, options: { granted?: boolean; version?: number; indexed?: boolean | 'unversioned' } = {}) {
  const indexed = options.indexed ?? true;
  if (indexed) {
    const version = indexed === 'unversioned' ? {} : { consentVersion: options.version ?? 1 };
    db.put('test-matchIndex', { pk: `k#${hex(`phone:${userId}`)}`, userId, ...version });
    db.put('test-matchIndex', { pk: `k#${hex(`email:${userId}`)}`, userId, ...version });
  }
  db.put('test-accounts', {
    pk: `user#${userId}`,
    phoneNumber: '+14155550123',
    consentVersion: options.version ?? 1,
    purposes: { ads_targeting: (options.granted ?? true) ? 'granted' : 'denied', friend_suggestions: 'denied' },
  });
}
const phoneOf = (userId: string) => key(`phone:${userId}`);
const emailOf = (userId: string) => key(`email:${userId}`);

function givenAudience(extra: Record<string, unknown> = {}) {
  db.put('test-audiences', {
    pk: 'b#b-1',
    sk: `a#${AUDIENCE}`,
    businessId: 'b-1',
    audienceId: AUDIENCE,
    name: 'n',
    customerFileSource: 'USER_PROVIDED_ONLY',
    createdAt: 't',
    expiring: {},
    revision: 0,
    chunksExpected: 1,
    chunksMatched: 0,
    ...extra,
  });
}

/** A recorded batch of one chunk and the message carrying it. */
function givenBatch(rows: KeyedRow[], options: { operation?: 'add' | 'remove'; batchSeq?: number; chunksDone?: number[] } = {}): ChunkMessage {
  const encoded = encodeRows(rows);
  const digest = batchDigest([Buffer.from(encoded, 'base64')]);
  const batchSeq = options.batchSeq ?? 1;
  const operation = options.operation ?? 'add';
  db.put('test-uploadSessions', {
    pk: `a#${AUDIENCE}`,
    sk: `b#7#${String(batchSeq).padStart(10, '0')}`,
    sessionId: 7,
    batchSeq,
    operation,
    numReceived: rows.length,
    numInvalid: 0,
    invalidSamples: [],
    chunkCount: 1,
    batchDigest: digest,
    uploadedAtMs: UPLOADED_AT,
    ...(options.chunksDone ? { chunksDone: new Set(options.chunksDone) } : {}),
  });
  if (!db.get('test-uploadSessions', { pk: `a#${AUDIENCE}`, sk: 's#7' })) {
    db.put('test-uploadSessions', { pk: `a#${AUDIENCE}`, sk: 's#7', operation, chunksExpected: 1, chunksMatched: 0 });
  }
  return {
    v: 1,
    operation,
    businessId: 'b-1',
    audienceId: AUDIENCE,
    sessionId: 7,
    batchSeq,
    chunk: 0,
    chunks: 1,
    batchDigest: digest,
    sentAtMs: Date.now(),
    rows: encoded,
  };
}

const audience = () => db.get('test-audiences', { pk: 'b#b-1', sk: `a#${AUDIENCE}` })!;
const members = () => db.items('test-audienceMemberships').filter((m) => !m.removing);
const commandCounts = () => {
  const counts: Record<string, number> = {};
  for (const call of ddb.calls()) {
    const name = call.args[0].constructor.name;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
};

describe('match-audience-batch', () => {
  it('matches 1,000 rows with batched calls only: BatchGet 100 keys, BatchWrite 25 items, a few constant calls', async () => {
    // Prepare: 300 consenting users, 200 who denied (not in the index), 500 strangers; two keys a row.
    givenAudience();
    const rows: KeyedRow[] = [];
    for (let i = 0; i < 300; i++) {
      givenUser(`c${i}`);
      rows.push({ phone: phoneOf(`c${i}`), email: emailOf(`c${i}`) });
    }
    for (let i = 0; i < 200; i++) {
      givenUser(`d${i}`, { granted: false, indexed: false });
      rows.push({ phone: phoneOf(`d${i}`), email: emailOf(`d${i}`) });
    }
    for (let i = 0; i < 500; i++) rows.push({ phone: key(`stranger-phone:${i}`), email: key(`stranger-email:${i}`) });
    const message = givenBatch(rows);
    // Act
    expect(await matchChunk(message, 1)).toBe('matched');
    // Assess: exact count inside, in the upload's expiry bucket
    expect(audience().expiring).toEqual({ [EXPIRY_DAY]: 300 });
    expect(audience().revision).toBe(1);
    expect(audience().pending).toBeUndefined();
    expect(audience().leaseId).toBeUndefined();
    expect(members()).toHaveLength(300);
    // Assess: the calls
    const counts = commandCounts();
    const keys = 2 * rows.length;
    const matched = 300;
    expect(Object.keys(counts).sort()).toEqual(['BatchGetCommand', 'BatchWriteCommand', 'GetCommand', 'TransactWriteCommand', 'UpdateCommand']);
    expect(counts.BatchGetCommand).toBeLessThanOrEqual(Math.ceil(keys / 100) + 3 * Math.ceil(matched / 100));
    expect(counts.BatchWriteCommand).toBeLessThanOrEqual(Math.ceil(matched / 25));
    expect((counts.GetCommand ?? 0) + (counts.UpdateCommand ?? 0) + (counts.TransactWriteCommand ?? 0)).toBeLessThanOrEqual(8);
    expect(ddb.calls().length).toBeLessThanOrEqual(rows.length / 100 + rows.length / 25 + (matched / 100) * 3 + 10);
    for (const call of ddb.commandCalls(BatchGetCommand)) {
      for (const request of Object.values(call.args[0].input.RequestItems!)) expect(request.Keys!.length).toBeLessThanOrEqual(100);
    }
    for (const call of ddb.commandCalls(BatchWriteCommand)) {
      for (const requests of Object.values(call.args[0].input.RequestItems!)) expect(requests.length).toBeLessThanOrEqual(25);
    }
  });

  it('counts a user once, whether matched by phone and email in one row or in several rows', async () => {
    givenAudience();
    for (const u of ['a', 'b', 'c', 'd']) givenUser(u);
    const message = givenBatch([
      { phone: phoneOf('a'), email: emailOf('a') },
      { phone: phoneOf('b') },
      { email: emailOf('b') },
      { phone: phoneOf('c'), email: emailOf('d') }, // one row, two people
      { phone: phoneOf('a') },
    ]);
    await matchChunk(message, 1);
    expect(audience().expiring).toEqual({ [EXPIRY_DAY]: 4 });
    expect(
      members()
        .map((m) => m.userId)
        .sort(),
    ).toEqual(['a', 'b', 'c', 'd']);
    expect(members()[0]).toEqual(
      expect.objectContaining({
        pk: expect.stringMatching(/^u#/),
        sk: `a#${AUDIENCE}`,
        businessId: 'b-1',
        audienceId: AUDIENCE,
        expiresAt: EXPIRY,
        consentVersion: 1,
      }),
    );
  });

  it("refreshes an existing member's expiry without counting them again", async () => {
    const oldExpiry = EXPIRY - 100 * 86_400;
    givenAudience({ expiring: { [String(oldExpiry / 86_400)]: 1 }, revision: 3 });
    givenUser('a');
    db.put('test-audienceMemberships', {
      pk: 'u#a',
      sk: `a#${AUDIENCE}`,
      userId: 'a',
      audienceId: AUDIENCE,
      businessId: 'b-1',
      expiresAt: oldExpiry,
      lastChunk: 'old',
      prevExpiresAt: 0,
    });
    await matchChunk(givenBatch([{ phone: phoneOf('a') }]), 1);
    expect(audience().expiring).toEqual({ [String(oldExpiry / 86_400)]: 0, [EXPIRY_DAY]: 1 });
    expect(members()[0]!.expiresAt).toBe(EXPIRY);
  });

  it('counts nothing twice when retried after a partial write, even for people it no longer matches', async () => {
    // Prepare: a first attempt wrote a's and c's memberships and died before committing (it stays pending);
    // c was a member before it, and has since left the match index.
    const failed = `${chunkId(7, 1, 0)}/dead-attempt`;
    const oldExpiry = EXPIRY - 50 * 86_400;
    givenAudience({ pending: new Set([failed]), expiring: { [String(oldExpiry / 86_400)]: 1 } });
    givenUser('a');
    givenUser('b');
    const item = { sk: `a#${AUDIENCE}`, audienceId: AUDIENCE, businessId: 'b-1', expiresAt: EXPIRY, lastChunk: failed };
    db.put('test-audienceMemberships', { ...item, pk: 'u#a', userId: 'a', prevExpiresAt: 0 });
    db.put('test-audienceMemberships', { ...item, pk: 'u#c', userId: 'c', prevExpiresAt: oldExpiry });
    // Act
    await matchChunk(givenBatch([{ phone: phoneOf('a') }, { phone: phoneOf('b') }, { phone: key('c-old-phone') }]), 2);
    // Assess: a and b counted once; c still counts on its old day, as it did before the failed attempt
    expect(audience().expiring).toEqual({ [EXPIRY_DAY]: 2, [String(oldExpiry / 86_400)]: 1 });
    expect(audience().pending).toEqual(new Set([failed]));
    expect(audience().chunksMatched).toBe(1);
  });

  it('applies a chunk once: a duplicate delivery changes no count', async () => {
    givenAudience({ expiring: { [EXPIRY_DAY]: 1 }, revision: 1, chunksMatched: 1 });
    givenUser('a');
    const message = givenBatch([{ phone: phoneOf('a') }], { chunksDone: [0] });
    expect(await matchChunk(message, 1)).toBe('duplicate');
    expect(audience()).toEqual(expect.objectContaining({ expiring: { [EXPIRY_DAY]: 1 }, revision: 1, chunksMatched: 1 }));
    expect(audience().pending).toBeUndefined();
  });

  it('bumps the revision even when nobody matched, so an absent person changes the answer like a present one', async () => {
    givenAudience();
    await matchChunk(givenBatch([{ phone: key('nobody') }]), 1);
    expect(audience()).toEqual(expect.objectContaining({ revision: 1, chunksMatched: 1, expiring: {} }));
  });

  it('matches under the consent version the index recorded, and removes anyone who does not grant when read after the write', async () => {
    // Prepare: c is in the index but denied already (index not yet updated); b denies while the memberships are written.
    givenAudience();
    givenUser('a', { version: 4 });
    givenUser('b');
    givenUser('c', { granted: false });
    let writes = 0;
    ddb.on(BatchWriteCommand).callsFake(async (input: Parameters<typeof db.batchWrite>[0]) => {
      if (++writes === 1) givenUser('b', { granted: false, version: 2, indexed: false });
      return db.batchWrite(input);
    });
    // Act
    await matchChunk(givenBatch([{ phone: phoneOf('a') }, { phone: phoneOf('b') }, { phone: phoneOf('c') }]), 1);
    // Assess
    expect(members().map((m) => [m.userId, m.consentVersion])).toEqual([['a', 4]]);
    expect(db.items('test-audienceMemberships').map((m) => m.userId)).toEqual(['a']); // b's and c's items were deleted after the commit
    expect(audience().expiring).toEqual({ [EXPIRY_DAY]: 1 });
    // The accounts table is read once, after the write, for the written users only.
    const accountReads = ddb.commandCalls(BatchGetCommand).filter((c) => 'test-accounts' in c.args[0].input.RequestItems!);
    expect(accountReads).toHaveLength(1);
    expect(accountReads[0]!.args[0].input.RequestItems!['test-accounts']!.Keys!.map((k) => k.pk).sort()).toEqual(['user#a', 'user#b', 'user#c']);
  });

  it('repeats the re-check when the chunk comes again after an attempt died between its commit and its re-check', async () => {
    // Prepare: b denies, and the attempt dies on its consent re-check, after the commit.
    givenAudience();
    givenUser('a');
    givenUser('b');
    let accountReads = 0;
    ddb.on(BatchGetCommand).callsFake(async (input: Parameters<typeof db.batchGet>[0]) => {
      if ('test-accounts' in input.RequestItems && ++accountReads === 1) {
        givenUser('b', { granted: false, version: 2, indexed: false });
        throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
      }
      return db.batchGet(input);
    });
    const message = givenBatch([{ phone: phoneOf('a') }, { phone: phoneOf('b') }]);
    // Act 1
    await expect(matchChunk(message, 1)).rejects.toThrow(/socket hang up/);
    // Assess 1: committed, both counted, b not yet taken out
    expect(audience()).toEqual(expect.objectContaining({ chunksMatched: 1, expiring: { [EXPIRY_DAY]: 2 } }));
    expect(audience().leaseId).toBeUndefined();
    // Act 2: SQS delivers the chunk again
    expect(await matchChunk(message, 2)).toBe('duplicate');
    // Assess 2: counted once, and b is out
    expect(members().map((m) => m.userId)).toEqual(['a']);
    expect(audience()).toEqual(expect.objectContaining({ chunksMatched: 1, expiring: { [EXPIRY_DAY]: 1 } }));
  });

  it('reads consent before the write for keys indexed without a version, and leaves out who does not grant', async () => {
    givenAudience();
    givenUser('a', { indexed: 'unversioned', version: 3 });
    givenUser('d', { indexed: 'unversioned', granted: false });
    givenUser('e', { version: 2 });
    await matchChunk(givenBatch([{ phone: phoneOf('a') }, { email: emailOf('d') }, { phone: phoneOf('e') }]), 1);
    expect(
      members()
        .map((m) => [m.userId, m.consentVersion])
        .sort(),
    ).toEqual([
      ['a', 3],
      ['e', 2],
    ]);
    expect(
      db
        .items('test-audienceMemberships')
        .map((m) => m.userId)
        .sort(),
    ).toEqual(['a', 'e']); // d was never written
    expect(audience().expiring).toEqual({ [EXPIRY_DAY]: 2 });
  });

  it('removes members of a remove batch and takes them off the count', async () => {
    const day = String(EXPIRY / 86_400 - 10);
    givenAudience({ expiring: { [day]: 2 }, revision: 1 });
    for (const u of ['a', 'b']) {
      givenUser(u);
      db.put('test-audienceMemberships', {
        pk: `u#${u}`,
        sk: `a#${AUDIENCE}`,
        userId: u,
        audienceId: AUDIENCE,
        businessId: 'b-1',
        expiresAt: Number(day) * 86_400,
      });
    }
    const message = givenBatch([{ email: emailOf('a') }, { phone: key('nobody') }], { operation: 'remove' });
    await matchChunk(message, 1);
    expect(db.items('test-audienceMemberships').map((m) => m.userId)).toEqual(['b']);
    expect(audience().expiring).toEqual({ [day]: 1 });
    expect(audience().leaseId).toBeUndefined();
  });

  it('waits for the batch to be recorded, and drops a chunk whose batch never was', async () => {
    givenAudience();
    givenUser('a');
    const message = givenBatch([{ phone: phoneOf('a') }]);
    db.delete('test-uploadSessions', { pk: `a#${AUDIENCE}`, sk: 'b#7#0000000001' });
    // A fresh delivery fails (the whole batch failed, so Lambda lets SQS retry it) ...
    await expect(match(sqsEvent([sqsRecord(message)]), lambdaContext())).rejects.toThrow(/All records failed/);
    // ... and a third delivery of an old message is dropped.
    const old = { ...message, sentAtMs: Date.now() - 120_000 };
    const third = await match(
      sqsEvent([sqsRecord(old, { attributes: { ApproximateReceiveCount: '3', SentTimestamp: '0', SenderId: 's', ApproximateFirstReceiveTimestamp: '0' } })]),
      lambdaContext(),
    );
    expect(third).toEqual({ batchItemFailures: [] });
    expect(members()).toHaveLength(0);
  }, 20_000);

  it('drops chunks of another attempt (digest) and of deleted audiences', async () => {
    givenAudience();
    givenUser('a');
    const message = givenBatch([{ phone: phoneOf('a') }]);
    expect(await matchChunk({ ...message, batchDigest: '0'.repeat(64) }, 1)).toBe('dropped-stale');
    givenAudience({ deletedAt: 't' });
    expect(await matchChunk(message, 1)).toBe('dropped-deleted');
    expect(members()).toHaveLength(0);
  });

  it("waits for another chunk's lease", async () => {
    givenAudience({ leaseId: 'other', leaseUntil: Date.now() + 120_000 });
    givenUser('a');
    const message = givenBatch([{ phone: phoneOf('a') }]);
    setTimeout(() => givenAudience(), 500); // the other chunk commits and releases
    expect(await matchChunk(message, 1)).toBe('matched');
    expect(audience().expiring).toEqual({ [EXPIRY_DAY]: 1 });
  });
});
