/**
 * Matcher attempts against the real database: an attempt that dies after
 * writing stays pending until its lease has run out, then the next chunk of
 * the audience settles it; a retry counts a chunk exactly once; the consent
 * re-check runs after the commit. Deaths are simulated by failing one
 * DynamoDB call of the functions (the call never reaches the table and
 * nothing after it runs); lease expiry by moving the functions' clock.
 */
import { BatchGetCommand, BatchWriteCommand, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { chunkId } from '../../functions/core/audiences';
import type { ChunkMessage } from '../../functions/core/audiences';
import { isAttemptOf } from '../../functions/core/matching';
import { audiencesOfUserNow } from '../../functions/services/user-audiences';
import { clock } from '../../functions/shared/clock';
import type { Item } from '../../functions/tables/dynamo';
import { LEASE_MS } from '../../functions/tables/audiences';
import { membershipKey } from '../../functions/tables/memberships';
import { batchNow, givenConsent, sessionNow, updateAudience } from './support/audiences';
import { all, functionCalls, isCall, onCall, passThrough, resetClock, SimulatedCrash } from './support/db';
import type { FunctionCommand, Interceptor } from './support/db';
import { EXPIRY, EXPIRY_DAY, expiryBefore, matcherWorld } from './support/matching';
import type { MatcherWorld } from './support/matching';

let w: MatcherWorld;
beforeEach(() => {
  passThrough();
  w = matcherWorld();
});
afterEach(resetClock);
afterAll(() => functionCalls.restore());

/** The commit of a chunk: the one transaction on the audience and its batch. */
const isCommit = (c: FunctionCommand) => isCall(c, TransactWriteCommand, 'uploadSessions');
/** A withdrawal: a membership deleted and its count taken off, in one transaction. */
const isWithdrawal = (c: FunctionCommand) => isCall(c, TransactWriteCommand, 'audienceMemberships');
const isConsentRead = (c: FunctionCommand) => isCall(c, BatchGetCommand, 'consentStates');
const isAudienceRead = (c: FunctionCommand) => isCall(c, GetCommand, 'audiences');
const dieAtCommit = (): Interceptor => onCall(isCommit, { fail: true });
/** The functions' clock moves past the lease of any attempt started until now. */
const leaseRunsOut = () => clock.advance(LEASE_MS / 1000 + 1);
const callIndex = (matches: (c: FunctionCommand) => boolean) => functionCalls.calls().findIndex((c) => matches(c.args[0]));

/** The one attempt the audience has pending, an attempt of the message's chunk. */
async function onlyPending(message: ChunkMessage): Promise<string> {
  const pending = [...(((await w.audience()).pending as Set<string> | undefined) ?? [])];
  expect(pending).toHaveLength(1);
  expect(isAttemptOf(pending[0], chunkId(message.sessionId, message.batchSeq, message.chunk))).toBe(true);
  return pending[0]!;
}

/** Whether the ops lookup finds the user in the audience now. */
const inAudienceNow = async (label: string) =>
  (await audiencesOfUserNow(w.user(label), clock.nowSeconds())).some((a) => a.audienceId === w.audienceId && a.businessId === w.businessId);

/** A membership in its committed state only: no writer, no previous expiry, not being removed. */
const committedItem = (label: string, expiresAt: number): Item => ({
  ...membershipKey(w.user(label), w.audienceId),
  userId: w.user(label),
  audienceId: w.audienceId,
  businessId: w.businessId,
  expiresAt,
  consentVersion: 1,
  matchedAt: expect.any(String),
});

/** Another chunk of the audience, matching nobody: it changes no count, so whatever it settles shows alone. */
const otherChunk = async (batchSeq: number) => {
  passThrough();
  expect(await w.match(await w.givenBatch([{ phone: w.stranger(`other-${batchSeq}`) }], { sessionId: 8, batchSeq }), 1)).toBe('matched');
};

describe('an attempt that dies after writing', () => {
  it('stays pending, counting as before it, and once its lease has run out the next chunk puts its items back', async () => {
    // Prepare: x is a member, counted on an old day; the chunk matches x and y.
    const old = expiryBefore(100);
    await w.givenAudience({ expiring: { [old.day]: 1 }, revision: 3, chunksExpected: 3 });
    for (const u of ['x', 'y']) await w.givenUser(u);
    await w.givenMember('x', { expiresAt: old.expiresAt });
    const message = await w.givenBatch([{ phone: w.phoneOf('x') }, { phone: w.phoneOf('y') }]);

    // Act 1: the attempt writes both memberships, then dies at its commit.
    passThrough(dieAtCommit());
    await expect(w.match(message, 1)).rejects.toThrow(SimulatedCrash);

    // Assess 1: pending, its items written, nothing counted, the lease free; x is in, y is not.
    const dead = await onlyPending(message);
    const audience = await w.audience();
    expect(audience).toEqual(expect.objectContaining({ expiring: { [old.day]: 1 }, revision: 3, chunksMatched: 0 }));
    expect(audience.leaseId).toBeUndefined();
    expect(await w.membership('x')).toEqual(expect.objectContaining({ lastChunk: dead, prevExpiresAt: old.expiresAt, expiresAt: EXPIRY }));
    expect(await w.membership('y')).toEqual(expect.objectContaining({ lastChunk: dead, prevExpiresAt: 0, expiresAt: EXPIRY }));
    expect(((await w.writeSet(dead))!.userIds as string[]).sort()).toEqual([w.user('x'), w.user('y')].sort());
    expect(await inAudienceNow('x')).toBe(true);
    expect(await inAudienceNow('y')).toBe(false);

    // Act 2: another chunk while the dead attempt's lease could still be running leaves it alone.
    await otherChunk(1);
    expect((await w.audience()).pending).toEqual(new Set([dead]));
    expect(await w.membership('y')).toEqual(expect.objectContaining({ lastChunk: dead }));
    expect(await w.writeSet(dead)).toBeDefined();

    // Act 3: once its lease has run out, the next chunk settles it.
    leaseRunsOut();
    await otherChunk(2);

    // Assess 3: its items are back in their committed state, it is out of pending, its write set is gone, the counts are as they were.
    const settled = await w.audience();
    expect(settled.pending).toBeUndefined();
    expect(settled).toEqual(expect.objectContaining({ expiring: { [old.day]: 1 }, revision: 5, chunksMatched: 2 }));
    expect(await w.membership('x')).toEqual(committedItem('x', old.expiresAt));
    expect(await w.membership('y')).toBeUndefined();
    expect(await w.writeSet(dead)).toBeUndefined();
    expect((await w.items()).map((m) => m.userId)).toEqual([w.user('x')]);
    expect(await inAudienceNow('x')).toBe(true);
  });

  it('stays pending when it was a removal, the member still counted, and the next chunk after its lease puts the item back', async () => {
    // Prepare: x and y are members; the chunk removes x.
    const { day, expiresAt } = expiryBefore(10);
    await w.givenAudience({ expiring: { [day]: 2 }, revision: 1, chunksExpected: 2 });
    for (const u of ['x', 'y']) {
      await w.givenUser(u);
      await w.givenMember(u, { expiresAt });
    }
    const message = await w.givenBatch([{ email: w.emailOf('x') }], { operation: 'remove' });

    // Act 1: the attempt marks x's item as being removed, then dies at its commit.
    passThrough(dieAtCommit());
    await expect(w.match(message, 1)).rejects.toThrow(SimulatedCrash);

    // Assess 1: pending; x's item marked but x still counted and still in the audience.
    const dead = await onlyPending(message);
    const audience = await w.audience();
    expect(audience).toEqual(expect.objectContaining({ expiring: { [day]: 2 }, revision: 1, chunksMatched: 0 }));
    expect(audience.leaseId).toBeUndefined();
    expect(await w.membership('x')).toEqual(expect.objectContaining({ removing: true, lastChunk: dead, prevExpiresAt: expiresAt, expiresAt }));
    expect((await w.writeSet(dead))!.userIds).toEqual([w.user('x')]);
    expect(await inAudienceNow('x')).toBe(true);

    // Act 2: once its lease has run out, the next chunk settles it.
    leaseRunsOut();
    await otherChunk(1);

    // Assess 2
    const settled = await w.audience();
    expect(settled.pending).toBeUndefined();
    expect(settled).toEqual(expect.objectContaining({ expiring: { [day]: 2 }, revision: 2, chunksMatched: 1 }));
    expect(await w.membership('x')).toEqual(committedItem('x', expiresAt));
    expect(await w.membership('y')).toEqual(committedItem('y', expiresAt));
    expect(await w.writeSet(dead)).toBeUndefined();
    expect(await inAudienceNow('x')).toBe(true);
  });
});

describe('a retry of a chunk whose attempt died', () => {
  /** x is a member counted on an old day; the chunk matches x, y and z. */
  async function prepare() {
    const old = expiryBefore(100);
    await w.givenAudience({ expiring: { [old.day]: 1 }, revision: 2 });
    for (const u of ['x', 'y', 'z']) await w.givenUser(u);
    await w.givenMember('x', { expiresAt: old.expiresAt });
    const message = await w.givenBatch(['x', 'y', 'z'].map((u) => ({ phone: w.phoneOf(u) })));
    passThrough(dieAtCommit());
    await expect(w.match(message, 1)).rejects.toThrow(SimulatedCrash);
    return { old, message, dead: await onlyPending(message) };
  }

  it('soon after the death counts the chunk once; the dead attempt is settled later without touching what the retry wrote', async () => {
    const { old, message, dead } = await prepare();
    // Act 1: SQS delivers the chunk again while the dead attempt's lease could still be running.
    passThrough();
    expect(await w.match(message, 2)).toBe('matched');
    // Assess 1: counted once (x moved from the old day, y and z new)
    const audience = await w.audience();
    expect(audience).toEqual(expect.objectContaining({ expiring: { [old.day]: 0, [EXPIRY_DAY]: 3 }, revision: 3, chunksMatched: 1 }));
    expect(audience.pending).toEqual(new Set([dead]));
    expect(await batchNow(w.audienceId, message.sessionId, message.batchSeq)).toEqual(expect.objectContaining({ chunksDone: new Set([0]) }));
    expect(await sessionNow(w.audienceId, message.sessionId)).toEqual(expect.objectContaining({ chunksMatched: 1 }));
    const written = await w.items();
    expect(written.map((m) => m.userId)).toEqual(['x', 'y', 'z'].map(w.user));
    const retry = written[0]!.lastChunk as string;
    expect(retry).not.toBe(dead);
    for (const m of written) expect(m).toEqual(expect.objectContaining({ lastChunk: retry, expiresAt: EXPIRY }));
    expect(await w.writeSet(retry)).toBeUndefined(); // deleted with its commit

    // Act 2: a third delivery is a duplicate
    expect(await w.match(message, 3)).toBe('duplicate');
    expect(await w.audience()).toEqual(expect.objectContaining({ expiring: { [old.day]: 0, [EXPIRY_DAY]: 3 }, revision: 3, chunksMatched: 1 }));

    // Act 3: once the dead attempt's lease has run out, the next chunk settles it.
    leaseRunsOut();
    await otherChunk(1);
    // Assess 3: out of pending, its write set gone, the retry's items and the counts untouched
    const settled = await w.audience();
    expect(settled.pending).toBeUndefined();
    expect(settled.expiring).toEqual({ [old.day]: 0, [EXPIRY_DAY]: 3 });
    expect(await w.writeSet(dead)).toBeUndefined();
    expect(await w.items()).toEqual(written);
  });

  it('after the lease ran out settles the dead attempt first, then counts the chunk once', async () => {
    const { old, message, dead } = await prepare();
    // Act
    leaseRunsOut();
    passThrough();
    expect(await w.match(message, 2)).toBe('matched');
    // Assess: counted once, nothing pending, no write set left
    const audience = await w.audience();
    expect(audience).toEqual(expect.objectContaining({ expiring: { [old.day]: 0, [EXPIRY_DAY]: 3 }, revision: 3, chunksMatched: 1 }));
    expect(audience.pending).toBeUndefined();
    expect(await w.writeSet(dead)).toBeUndefined();
    // The retry started from the settled (committed) state: x was a member on the old day, y and z were not.
    expect(await w.membership('x')).toEqual(expect.objectContaining({ prevExpiresAt: old.expiresAt, expiresAt: EXPIRY }));
    expect(await w.membership('y')).toEqual(expect.objectContaining({ prevExpiresAt: 0, expiresAt: EXPIRY }));
    const retry = (await w.membership('x'))!.lastChunk as string;
    expect(retry).not.toBe(dead);
    expect(await w.writeSet(retry)).toBeUndefined();
  });

  it('removes a member once when the removal died at its commit', async () => {
    const { day, expiresAt } = expiryBefore(10);
    await w.givenAudience({ expiring: { [day]: 2 }, revision: 1 });
    for (const u of ['x', 'y']) {
      await w.givenUser(u);
      await w.givenMember(u, { expiresAt });
    }
    const message = await w.givenBatch([{ email: w.emailOf('x') }], { operation: 'remove' });
    passThrough(dieAtCommit());
    await expect(w.match(message, 1)).rejects.toThrow(SimulatedCrash);
    const dead = await onlyPending(message);
    // Act
    passThrough();
    expect(await w.match(message, 2)).toBe('matched');
    // Assess
    expect(await w.audience()).toEqual(expect.objectContaining({ expiring: { [day]: 1 }, revision: 2, chunksMatched: 1, pending: new Set([dead]) }));
    expect((await w.items()).map((m) => m.userId)).toEqual([w.user('y')]);
    expect(await inAudienceNow('x')).toBe(false);
  });

  it('finishes a removal that died after its commit, before deleting its items: counted once, the item deleted', async () => {
    const { day, expiresAt } = expiryBefore(10);
    await w.givenAudience({ expiring: { [day]: 2 }, revision: 1 });
    for (const u of ['x', 'y']) {
      await w.givenUser(u);
      await w.givenMember(u, { expiresAt });
    }
    const message = await w.givenBatch([{ email: w.emailOf('x') }], { operation: 'remove' });
    // The removal marks x's item (first write to the memberships), commits, then dies deleting it (second write).
    passThrough(onCall((c) => isCall(c, BatchWriteCommand, 'audienceMemberships'), { nth: 2, fail: true }));
    await expect(w.match(message, 1)).rejects.toThrow(SimulatedCrash);
    // Assess 1: counted, committed, the lease free; x's item left, marked, and no member
    const committed = await w.audience();
    expect(committed).toEqual(expect.objectContaining({ expiring: { [day]: 1 }, revision: 2, chunksMatched: 1 }));
    expect(committed.pending).toBeUndefined();
    expect(committed.leaseId).toBeUndefined();
    expect(await w.membership('x')).toEqual(expect.objectContaining({ removing: true }));
    expect(await inAudienceNow('x')).toBe(false);
    // Act 2: SQS delivers the chunk again
    passThrough();
    expect(await w.match(message, 2)).toBe('duplicate');
    // Assess 2
    expect((await w.items()).map((m) => m.userId)).toEqual([w.user('y')]);
    expect(await w.audience()).toEqual(expect.objectContaining({ expiring: { [day]: 1 }, revision: 2, chunksMatched: 1 }));
  });
});

describe('the consent re-check after the commit', () => {
  it('takes out, with one exact decrement, a member whose denial landed between the commit and the re-check', async () => {
    // Prepare: x, y and z grant and are matched; after the commit y denies, and z denies and grants again.
    await w.givenAudience();
    for (const u of ['x', 'y', 'z']) await w.givenUser(u);
    const message = await w.givenBatch(['x', 'y', 'z'].map((u) => ({ phone: w.phoneOf(u) })));
    passThrough(
      onCall(isConsentRead, {
        before: async () => {
          await givenConsent(w.user('y'), { granted: false, version: 2 });
          await givenConsent(w.user('z'), { granted: false, version: 2 });
          await givenConsent(w.user('z'), { granted: true, version: 3 });
        },
      }),
    );
    // Act
    expect(await w.match(message, 1)).toBe('matched');
    // Assess: y is out and off the count; x and z (who grants now) stay
    expect((await w.items()).map((m) => m.userId)).toEqual([w.user('x'), w.user('z')]);
    expect(await w.audience()).toEqual(expect.objectContaining({ expiring: { [EXPIRY_DAY]: 2 }, revision: 2, chunksMatched: 1 }));
    // The calls: the commit, then one consistent consent read of the written users, then y's withdrawal only.
    expect(functionCalls.calls().filter((c) => isConsentRead(c.args[0]))).toHaveLength(1);
    expect(functionCalls.calls().filter((c) => isWithdrawal(c.args[0]))).toHaveLength(1);
    expect(callIndex(isCommit)).toBeLessThan(callIndex(isConsentRead));
    expect(callIndex(isConsentRead)).toBeLessThan(callIndex(isWithdrawal));
    const read = functionCalls.calls()[callIndex(isConsentRead)]!.args[0] as BatchGetCommand;
    const request = Object.values(read.input.RequestItems!)[0]!;
    expect(request.ConsistentRead).toBe(true);
    expect(request.Keys).toHaveLength(3);
  });

  it('waits while another chunk holds the audience, then takes the member out', async () => {
    await w.givenAudience();
    for (const u of ['x', 'y']) await w.givenUser(u);
    const message = await w.givenBatch(['x', 'y'].map((u) => ({ phone: w.phoneOf(u) })));
    // After the commit y denies and another chunk takes the lease; it releases it after the re-check first found the audience held.
    passThrough(
      all(
        onCall(isConsentRead, {
          before: async () => {
            await givenConsent(w.user('y'), { granted: false, version: 2 });
            await updateAudience(w.businessId, w.audienceId, { leaseId: 'other', leaseUntil: clock.nowMs() + LEASE_MS });
          },
        }),
        onCall(isAudienceRead, { nth: 2, before: () => updateAudience(w.businessId, w.audienceId, { leaseId: undefined, leaseUntil: undefined }) }),
      ),
    );
    // Act
    expect(await w.match(message, 1)).toBe('matched');
    // Assess: held, then free; y out with one decrement, tried only once the audience was free
    expect(functionCalls.calls().filter((c) => isAudienceRead(c.args[0]))).toHaveLength(2);
    expect(functionCalls.calls().filter((c) => isWithdrawal(c.args[0]))).toHaveLength(1);
    expect((await w.items()).map((m) => m.userId)).toEqual([w.user('x')]);
    expect(await w.audience()).toEqual(expect.objectContaining({ expiring: { [EXPIRY_DAY]: 1 }, revision: 2, chunksMatched: 1 }));
  });

  it('is not done for a removal', async () => {
    const { day, expiresAt } = expiryBefore(10);
    await w.givenAudience({ expiring: { [day]: 1 }, revision: 1 });
    await w.givenUser('x', { granted: false, version: 2 });
    await w.givenMember('x', { expiresAt });
    await w.match(await w.givenBatch([{ phone: w.phoneOf('x') }], { operation: 'remove' }), 1);
    expect(await w.items()).toEqual([]);
    expect((await w.audience()).expiring).toEqual({ [day]: 0 });
    expect(functionCalls.calls().filter((c) => isConsentRead(c.args[0]))).toHaveLength(0);
  });
});
