import { BatchGetCommand, BatchWriteCommand, GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { handler as match } from '../../functions/match-audience-batch/handler';
import { chunkId } from '../../functions/core/audiences';
import { attemptStartMs, isAttemptOf } from '../../functions/core/matching';
import { audienceKey } from '../../functions/tables/audiences';
import { stateKey } from '../../functions/tables/consent-states';
import { membershipKey } from '../../functions/tables/memberships';
import { batchKey } from '../../functions/tables/upload-sessions';
import { lambdaContext, sqsEvent, sqsRecord } from '../support/events';
import { dropIndexed } from './support/audiences';
import { commandCounts, functionCalls, isCall, onCall, passThrough, SimulatedCrash, store } from './support/db';
import type { FunctionCommand } from './support/db';
import { EXPIRY, EXPIRY_DAY, expiryBefore, matcherWorld, TTL_DAYS } from './support/matching';
import { LeaseLine, matchChunk } from '../../functions/services/matching';
import type { MatcherWorld } from './support/matching';
import { tableOf } from './support/store';

/** The matcher's lease acquire: the conditional UpdateItem of the audience that returns the item. */
const acquire = (c: FunctionCommand) => isCall(c, UpdateCommand, 'audiences') && (c.input as { ReturnValues?: string }).ReturnValues === 'ALL_NEW';

let w: MatcherWorld;
beforeEach(() => {
  passThrough();
  w = matcherWorld();
});
afterAll(() => functionCalls.restore());

describe('match-audience-batch', () => {
  it('matches 1,000 rows with batched calls only: BatchGet 100 keys, BatchWrite 25 items, a few constant calls', async () => {
    // Prepare: 300 consenting users, 200 who denied (not in the index), 500 strangers; two keys a row.
    await w.givenAudience();
    const consenting = Array.from({ length: 300 }, (_, i) => `c${i}`);
    const denying = Array.from({ length: 200 }, (_, i) => `d${i}`);
    await w.givenUsers(consenting, { indexed: true });
    await w.givenUsers(denying, { granted: false, indexed: false });
    const rows = [...consenting, ...denying].map((u) => ({ phone: w.phoneOf(u), email: w.emailOf(u) }));
    for (let i = 0; i < 500; i++) rows.push({ phone: w.stranger(`phone:${i}`), email: w.stranger(`email:${i}`) });
    const message = await w.givenBatch(rows);
    // Act
    expect(await w.match(message, 1)).toBe('matched');
    // Assess: exact count inside, in the upload's expiry bucket
    const audience = await w.audience();
    expect(audience.expiring).toEqual({ [EXPIRY_DAY]: 300 });
    expect(audience.revision).toBe(1);
    expect(audience.pending).toBeUndefined();
    expect(audience.leaseId).toBeUndefined();
    expect(await w.members()).toHaveLength(300);
    // Assess: the calls
    const counts = commandCounts();
    const keys = 2 * rows.length;
    const matched = 300;
    expect(Object.keys(counts).sort()).toEqual([
      'BatchGetCommand',
      'BatchWriteCommand',
      'GetCommand',
      'PutCommand',
      'QueryCommand',
      'TransactWriteCommand',
      'UpdateCommand',
    ]);
    expect(counts.BatchGetCommand).toBeLessThanOrEqual(Math.ceil(keys / 100) + 3 * Math.ceil(matched / 100));
    const writes = (table: 'audienceMemberships' | 'uploadSessions') =>
      functionCalls.commandCalls(BatchWriteCommand).filter((c) => isCall(c.args[0], BatchWriteCommand, table));
    expect(writes('audienceMemberships').length).toBeLessThanOrEqual(Math.ceil(matched / 25));
    // The attempt's write set: one put a page of 1,000 users before the writes, one batch delete after the commit.
    expect(counts.PutCommand).toBe(1);
    expect(writes('uploadSessions')).toHaveLength(1);
    expect((counts.GetCommand ?? 0) + (counts.UpdateCommand ?? 0) + (counts.TransactWriteCommand ?? 0) + (counts.QueryCommand ?? 0)).toBeLessThanOrEqual(8);
    expect(functionCalls.calls().length).toBeLessThanOrEqual(rows.length / 100 + rows.length / 25 + (matched / 100) * 3 + 10);
    for (const call of functionCalls.commandCalls(BatchGetCommand)) {
      for (const request of Object.values(call.args[0].input.RequestItems!)) expect(request.Keys!.length).toBeLessThanOrEqual(100);
    }
    for (const call of functionCalls.commandCalls(BatchWriteCommand)) {
      for (const requests of Object.values(call.args[0].input.RequestItems!)) expect(requests.length).toBeLessThanOrEqual(25);
    }
  });

  it('counts a user once, whether matched by phone and email in one row or in several rows', async () => {
    await w.givenAudience();
    for (const u of ['a', 'b', 'c', 'd']) await w.givenUser(u);
    const message = await w.givenBatch([
      { phone: w.phoneOf('a'), email: w.emailOf('a') },
      { phone: w.phoneOf('b') },
      { email: w.emailOf('b') },
      { phone: w.phoneOf('c'), email: w.emailOf('d') }, // one row, two people
      { phone: w.phoneOf('a') },
    ]);
    await w.match(message, 1);
    expect((await w.audience()).expiring).toEqual({ [EXPIRY_DAY]: 4 });
    const members = await w.members();
    expect(members.map((m) => m.userId)).toEqual(['a', 'b', 'c', 'd'].map(w.user));
    expect(members[0]).toEqual(
      expect.objectContaining({
        ...membershipKey(w.user('a'), w.audienceId),
        businessId: w.businessId,
        audienceId: w.audienceId,
        expiresAt: EXPIRY,
        consentVersion: 1,
      }),
    );
  });

  it("refreshes an existing member's expiry without counting them again", async () => {
    const old = expiryBefore(100);
    await w.givenAudience({ expiring: { [old.day]: 1 }, revision: 3 });
    await w.givenUser('a');
    await w.givenMember('a', { expiresAt: old.expiresAt, lastChunk: 'old', prevExpiresAt: 0 });
    await w.match(await w.givenBatch([{ phone: w.phoneOf('a') }]), 1);
    expect((await w.audience()).expiring).toEqual({ [old.day]: 0, [EXPIRY_DAY]: 1 });
    expect((await w.membership('a'))!.expiresAt).toBe(EXPIRY);
  });

  it('counts nothing twice when retried after a partial write, even for people it no longer matches', async () => {
    // Prepare: c was a member before; a first attempt writes a's, b's and c's memberships and dies before its commit.
    const old = expiryBefore(50);
    await w.givenAudience({ expiring: { [old.day]: 1 } });
    for (const u of ['a', 'b', 'c']) await w.givenUser(u);
    await w.givenMember('c', { expiresAt: old.expiresAt });
    const message = await w.givenBatch([{ phone: w.phoneOf('a') }, { phone: w.phoneOf('b') }, { phone: w.phoneOf('c') }]);
    passThrough(onCall((c) => isCall(c, TransactWriteCommand, 'audiences'), { fail: true }));
    await expect(w.match(message, 1)).rejects.toThrow(SimulatedCrash);
    const [failed, ...others] = [...((await w.audience()).pending as Set<string>)];
    expect(others).toEqual([]);
    expect(isAttemptOf(failed, chunkId(message.sessionId, message.batchSeq, message.chunk))).toBe(true);
    expect(await w.membership('c')).toEqual(expect.objectContaining({ lastChunk: failed, prevExpiresAt: old.expiresAt, expiresAt: EXPIRY }));
    // ... and c has since left the match index.
    await dropIndexed([w.phoneOf('c'), w.emailOf('c')]);
    // Act: SQS delivers the chunk again
    passThrough();
    expect(await w.match(message, 2)).toBe('matched');
    // Assess: a and b counted once; c still counts on its old day, as it did before the failed attempt
    const audience = await w.audience();
    expect(audience.expiring).toEqual({ [EXPIRY_DAY]: 2, [old.day]: 1 });
    expect(audience.pending).toEqual(new Set([failed])); // its lease has not run out: it stays pending, so what it wrote counts as before it
    expect(audience.chunksMatched).toBe(1);
  });

  it('applies a chunk once: a duplicate delivery changes no count', async () => {
    await w.givenAudience({ expiring: { [EXPIRY_DAY]: 1 }, revision: 1, chunksMatched: 1 });
    await w.givenUser('a');
    const message = await w.givenBatch([{ phone: w.phoneOf('a') }], { chunksDone: [0] });
    expect(await w.match(message, 1)).toBe('duplicate');
    const audience = await w.audience();
    expect(audience).toEqual(expect.objectContaining({ expiring: { [EXPIRY_DAY]: 1 }, revision: 1, chunksMatched: 1 }));
    expect(audience.pending).toBeUndefined();
    expect(await w.items()).toEqual([]);
  });

  it('bumps the revision even when nobody matched, so an absent person changes the answer like a present one', async () => {
    await w.givenAudience();
    await w.match(await w.givenBatch([{ phone: w.stranger('nobody') }]), 1);
    expect(await w.audience()).toEqual(expect.objectContaining({ revision: 1, chunksMatched: 1, expiring: {} }));
  });

  it('matches under the consent version the index recorded, and removes anyone who does not grant when read after the write', async () => {
    // Prepare: c is in the index but denied already (index not yet updated); b denies while the memberships are written.
    await w.givenAudience();
    await w.givenUser('a', { version: 4 });
    await w.givenUser('b');
    await w.givenUser('c', { granted: false });
    passThrough(
      onCall((c) => isCall(c, BatchWriteCommand, 'audienceMemberships'), { before: () => w.givenUser('b', { granted: false, version: 2, indexed: false }) }),
    );
    // Act
    await w.match(await w.givenBatch([{ phone: w.phoneOf('a') }, { phone: w.phoneOf('b') }, { phone: w.phoneOf('c') }]), 1);
    // Assess
    expect((await w.members()).map((m) => [m.userId, m.consentVersion])).toEqual([[w.user('a'), 4]]);
    expect((await w.items()).map((m) => m.userId)).toEqual([w.user('a')]); // b's and c's items were deleted after the commit
    expect((await w.audience()).expiring).toEqual({ [EXPIRY_DAY]: 1 });
    // The consent state is read once, after the commit, for the written users only.
    const calls = functionCalls.calls().map((c) => c.args[0]);
    const consentReads = calls.filter((c) => isCall(c, BatchGetCommand, 'consentStates'));
    expect(consentReads).toHaveLength(1);
    expect(calls.indexOf(consentReads[0]!)).toBeGreaterThan(calls.findIndex((c) => isCall(c, TransactWriteCommand, 'audiences')));
    const keys = (consentReads[0] as BatchGetCommand).input.RequestItems![tableOf('consentStates')]!.Keys!;
    expect(keys.map((k) => k.pk).sort()).toEqual(['a', 'b', 'c'].map((u) => stateKey(w.user(u)).pk).sort());
  });

  it('repeats the re-check when the chunk comes again after an attempt died between its commit and its re-check', async () => {
    // Prepare: b denies, and the attempt dies on its consent re-check, after the commit.
    await w.givenAudience();
    await w.givenUser('a');
    await w.givenUser('b');
    passThrough(
      onCall((c) => isCall(c, BatchGetCommand, 'consentStates'), {
        before: () => w.givenUser('b', { granted: false, version: 2, indexed: false }),
        fail: true,
      }),
    );
    const message = await w.givenBatch([{ phone: w.phoneOf('a') }, { phone: w.phoneOf('b') }]);
    // Act 1
    await expect(w.match(message, 1)).rejects.toThrow(SimulatedCrash);
    // Assess 1: committed, both counted, b not yet taken out
    const committed = await w.audience();
    expect(committed).toEqual(expect.objectContaining({ chunksMatched: 1, expiring: { [EXPIRY_DAY]: 2 } }));
    expect(committed.leaseId).toBeUndefined();
    // Act 2: SQS delivers the chunk again
    passThrough();
    expect(await w.match(message, 2)).toBe('duplicate');
    // Assess 2: counted once, and b is out
    expect((await w.members()).map((m) => m.userId)).toEqual([w.user('a')]);
    expect(await w.audience()).toEqual(expect.objectContaining({ chunksMatched: 1, expiring: { [EXPIRY_DAY]: 1 } }));
  });

  it('reads consent before the write for keys indexed without a version, and leaves out who does not grant', async () => {
    await w.givenAudience();
    await w.givenUser('a', { indexed: 'unversioned', version: 3 });
    await w.givenUser('d', { indexed: 'unversioned', granted: false });
    await w.givenUser('e', { version: 2 });
    await w.match(await w.givenBatch([{ phone: w.phoneOf('a') }, { email: w.emailOf('d') }, { phone: w.phoneOf('e') }]), 1);
    expect((await w.members()).map((m) => [m.userId, m.consentVersion]).sort()).toEqual(
      [
        [w.user('a'), 3],
        [w.user('e'), 2],
      ].sort(),
    );
    expect((await w.items()).map((m) => m.userId).sort()).toEqual([w.user('a'), w.user('e')].sort()); // d was never written
    expect((await w.audience()).expiring).toEqual({ [EXPIRY_DAY]: 2 });
  });

  it('removes members of a remove batch and takes them off the count', async () => {
    const { day, expiresAt } = expiryBefore(10);
    await w.givenAudience({ expiring: { [day]: 2 }, revision: 1 });
    for (const u of ['a', 'b']) {
      await w.givenUser(u);
      await w.givenMember(u, { expiresAt });
    }
    const message = await w.givenBatch([{ email: w.emailOf('a') }, { phone: w.stranger('nobody') }], { operation: 'remove' });
    await w.match(message, 1);
    expect((await w.items()).map((m) => m.userId)).toEqual([w.user('b')]);
    const audience = await w.audience();
    expect(audience.expiring).toEqual({ [day]: 1 });
    expect(audience.leaseId).toBeUndefined();
  });

  it('waits for the batch to be recorded, and drops a chunk whose batch never was', async () => {
    await w.givenAudience();
    await w.givenUser('a');
    const message = await w.givenBatch([{ phone: w.phoneOf('a') }]);
    await store.delete('uploadSessions', batchKey(w.audienceId, message.sessionId, message.batchSeq));
    // A fresh delivery fails (the whole batch failed, so Lambda lets SQS retry it) ...
    await expect(match(sqsEvent([sqsRecord(message)]), lambdaContext())).rejects.toThrow(/All records failed/);
    // ... and a third delivery of an old message is dropped.
    const old = { ...message, sentAtMs: Date.now() - 120_000 };
    const third = await match(
      sqsEvent([sqsRecord(old, { attributes: { ApproximateReceiveCount: '3', SentTimestamp: '0', SenderId: 's', ApproximateFirstReceiveTimestamp: '0' } })]),
      lambdaContext(),
    );
    expect(third).toEqual({ batchItemFailures: [] });
    expect(await w.items()).toHaveLength(0);
    expect(await w.audience()).toEqual(expect.objectContaining({ chunksMatched: 0, revision: 0 }));
  });

  it('drops chunks of another attempt (digest) and of deleted audiences', async () => {
    await w.givenAudience();
    await w.givenUser('a');
    const message = await w.givenBatch([{ phone: w.phoneOf('a') }]);
    expect(await w.match({ ...message, batchDigest: '0'.repeat(64) }, 1)).toBe('dropped-stale');
    await w.givenAudience({ deletedAt: new Date().toISOString() });
    expect(await w.match(message, 1)).toBe('dropped-deleted');
    expect(await w.items()).toHaveLength(0);
  });

  it("waits for another chunk's lease", async () => {
    await w.givenAudience({ leaseId: 'other', leaseUntil: Date.now() + 120_000 });
    await w.givenUser('a');
    const message = await w.givenBatch([{ phone: w.phoneOf('a') }]);
    // The other chunk commits and releases the lease after this one's first try, before its second.
    passThrough(onCall(acquire, { nth: 2, before: () => w.givenAudience() }));
    expect(await w.match(message, 1)).toBe('matched');
    expect(functionCalls.calls().filter((c) => acquire(c.args[0]))).toHaveLength(2);
    expect((await w.audience()).expiring).toEqual({ [EXPIRY_DAY]: 1 });
  });

  describe('chunks of one invocation (the lease line)', () => {
    const audienceRead = (c: FunctionCommand) => isCall(c, GetCommand, 'audiences');

    /** Three chunks of the audience, one user each, in batches 1 to 3. */
    async function threeChunks() {
      await w.givenAudience();
      for (const u of ['a', 'b', 'c']) await w.givenUser(u);
      const messages = [];
      for (const [i, u] of ['a', 'b', 'c'].entries()) messages.push(await w.givenBatch([{ phone: w.phoneOf(u) }], { batchSeq: i + 1 }));
      return messages;
    }

    it('polls for the lease once, then each chunk hands it to the next in the write that commits', async () => {
      const messages = await threeChunks();
      const line = new LeaseLine();
      const outcomes = await Promise.all(messages.map((m) => matchChunk(m, 1, TTL_DAYS, line)));
      expect(outcomes).toEqual(['matched', 'matched', 'matched']);
      // One acquire; the two chunks after it read the audience to see they hold the lease handed to them.
      expect(functionCalls.calls().filter((c) => acquire(c.args[0]))).toHaveLength(1);
      expect(functionCalls.calls().filter((c) => audienceRead(c.args[0]))).toHaveLength(2);
      // No release of its own: the first two commits hand it over, the last one releases it.
      const leaseWrites = functionCalls
        .calls()
        .map((c) => c.args[0])
        .filter(
          (c) => isCall(c, UpdateCommand, 'audiences') && !acquire(c) && /leaseId/.test((c.input as { UpdateExpression?: string }).UpdateExpression ?? ''),
        );
      expect(leaseWrites).toHaveLength(0);
      const audience = await w.audience();
      expect(audience.expiring).toEqual({ [EXPIRY_DAY]: 3 });
      expect(audience.chunksMatched).toBe(3);
      expect(audience.pending).toBeUndefined();
      expect(audience.leaseId).toBeUndefined();
      expect(audience.leaseUntil).toBeUndefined();
    });

    it('hands the lease over with an id of its own time, so a chunk that dies later is settled by its own start', async () => {
      const messages = await threeChunks();
      const line = new LeaseLine();
      const leaseIds: string[] = [];
      passThrough(async (c) => {
        const input = c.input as { TransactItems?: { Update?: { ExpressionAttributeValues?: Record<string, unknown> } }[] };
        const values = isCall(c, TransactWriteCommand) ? input.TransactItems?.[0]?.Update?.ExpressionAttributeValues : undefined;
        if (values?.[':lease']) leaseIds.push(String(values[':lease']));
      });
      const before = Date.now();
      await Promise.all(messages.map((m) => matchChunk(m, 1, TTL_DAYS, line)));
      expect(new Set(leaseIds).size).toBe(3);
      for (const id of leaseIds) expect(attemptStartMs(`chunk/${id}`)).toBeGreaterThanOrEqual(before);
    });

    it('gives the next chunk the lease when the one before fails after taking it, and leaves the failed attempt uncounted', async () => {
      const messages = await threeChunks();
      const line = new LeaseLine();
      // The first commit fails (the call never returns): that chunk's release hands the lease on.
      passThrough(onCall((c) => isCall(c, TransactWriteCommand, 'audiences'), { fail: true }));
      const outcomes = await Promise.allSettled(messages.map((m) => matchChunk(m, 1, TTL_DAYS, line)));
      expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'fulfilled', 'rejected']);
      expect(functionCalls.calls().filter((c) => acquire(c.args[0]))).toHaveLength(1);
      const audience = await w.audience();
      expect(audience.expiring).toEqual({ [EXPIRY_DAY]: 2 });
      expect(audience.pending?.size).toBe(1);
      expect(audience.leaseId).toBeUndefined();
    });

    it('polls for the lease itself when the audience does not show the id it was handed', async () => {
      const messages = await threeChunks();
      const line = new LeaseLine();
      // Between the hand-over and the next chunk's read, the lease was found expired, taken and released by someone else.
      const leaseGone = async () => {
        const { leaseId: _id, leaseUntil: _until, ...rest } = (await store.get('audiences', audienceKey(w.businessId, w.audienceId)))!;
        await store.put('audiences', rest);
      };
      passThrough(onCall(audienceRead, { before: leaseGone }));
      const outcomes = await Promise.all(messages.map((m) => matchChunk(m, 1, TTL_DAYS, line)));
      expect(outcomes).toEqual(['matched', 'matched', 'matched']);
      expect(functionCalls.calls().filter((c) => acquire(c.args[0]))).toHaveLength(2);
      expect((await w.audience()).expiring).toEqual({ [EXPIRY_DAY]: 3 });
    });

    it('drops the chunks in line when the audience is deleted while the first holds the lease', async () => {
      const messages = await threeChunks();
      const line = new LeaseLine();
      passThrough(onCall((c) => isCall(c, TransactWriteCommand, 'audiences'), { before: () => w.givenAudience({ deletedAt: new Date().toISOString() }) }));
      const outcomes = await Promise.all(messages.map((m) => matchChunk(m, 1, TTL_DAYS, line)));
      expect(outcomes).toEqual(['dropped-deleted', 'dropped-deleted', 'dropped-deleted']);
      expect(await w.items()).toHaveLength(0);
    });

    it('fails the chunks in line at once, without polling each, when the first cannot get the lease', async () => {
      const messages = await threeChunks();
      const line = new LeaseLine();
      passThrough(onCall(acquire, { fail: true }));
      const outcomes = await Promise.allSettled(messages.map((m) => matchChunk(m, 1, TTL_DAYS, line)));
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
      expect(functionCalls.calls().filter((c) => acquire(c.args[0]))).toHaveLength(1);
      expect(await w.items()).toHaveLength(0);
      expect((await w.audience()).leaseId).toBeUndefined();
    });

    it('hands the lease on after a remove chunk has deleted its removals', async () => {
      const { day, expiresAt } = expiryBefore(10);
      await w.givenAudience({ expiring: { [day]: 3 }, revision: 1 });
      const messages = [];
      for (const [i, u] of ['a', 'b', 'c'].entries()) {
        await w.givenUser(u);
        await w.givenMember(u, { expiresAt });
        if (u !== 'c') messages.push(await w.givenBatch([{ email: w.emailOf(u) }], { operation: 'remove', batchSeq: i + 1 }));
      }
      const line = new LeaseLine();
      expect(await Promise.all(messages.map((m) => matchChunk(m, 1, TTL_DAYS, line)))).toEqual(['matched', 'matched']);
      expect(functionCalls.calls().filter((c) => acquire(c.args[0]))).toHaveLength(1);
      expect((await w.items()).map((m) => m.userId)).toEqual([w.user('c')]);
      const audience = await w.audience();
      expect(audience.expiring).toEqual({ [day]: 1 });
      expect(audience.leaseId).toBeUndefined();
    });

    it('matches an invocation of chunks of two audiences, each audience in its own line', async () => {
      const messages = await threeChunks();
      const other = matcherWorld();
      await other.givenAudience();
      await other.givenUser('z');
      const theirs = await other.givenBatch([{ phone: other.phoneOf('z') }]);
      const result = await match(sqsEvent([...messages, theirs].map((m) => sqsRecord(m))), lambdaContext());
      expect(result).toEqual({ batchItemFailures: [] });
      expect((await w.audience()).expiring).toEqual({ [EXPIRY_DAY]: 3 });
      expect((await other.audience()).expiring).toEqual({ [EXPIRY_DAY]: 1 });
      expect(functionCalls.calls().filter((c) => acquire(c.args[0]))).toHaveLength(2);
    });
  });
});
