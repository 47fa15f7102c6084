import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchGetCommand, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as applyConsent, withdraw } from '../../functions/apply-audience-consent/handler';
import { cleanup } from '../../functions/cleanup-audience/handler';
import { chunkId } from '../../functions/core/audiences';
import { attemptId, leaseIdAt } from '../../functions/core/matching';
import { lambdaContext, sqsEvent, sqsRecord } from '../support/events';
import { audienceNow, givenAudience, givenConsent, givenMembership, membershipsOfAudience, membershipsOfUser } from './support/audiences';
import { tableOf } from './support/store';
import { functionCalls, isCall, newAudienceId, onCall, passThrough, uniqueId } from './support/db';

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

// Each test has audiences, businesses and users of its own.
let A1: string;
let A2: string;
let B1: string;
let B2: string;
let U1: string;
let U2: string;
beforeEach(() => {
  [A1, A2] = [newAudienceId(), newAudienceId()];
  [B1, B2] = [uniqueId('b1'), uniqueId('b2')];
  [U1, U2] = [uniqueId('u1'), uniqueId('u2')];
});

const day = Math.floor(Date.now() / 86_400_000) + 400;
/** An attempt that committed long ago: the items it wrote are what they say. */
const committed = attemptId(chunkId(1, 1, 0), leaseIdAt(Date.now() - 86_400_000, 'committed'));
const audience = (id: string, businessId: string, extra: Record<string, unknown> = {}) =>
  givenAudience(businessId, id, { expiring: { [day]: 10 }, revision: 4, ...extra });
const membership = (
  userId: string,
  audienceId: string,
  businessId: string,
  extra: { consentVersion?: number; lastChunk?: string; prevExpiresAt?: number } = {},
) => givenMembership({ userId, audienceId, businessId, expiresAt: day * 86_400, consentVersion: 1, lastChunk: committed, prevExpiresAt: 0, ...extra });
const account = (userId: string, ads: 'granted' | 'denied', version: number, erased = false) =>
  givenConsent(userId, { granted: ads === 'granted', version, erased });
const consentChanged = (userId: string, ads: 'granted' | 'denied', version: number) => ({
  type: 'ConsentChanged' as const,
  eventId: `r-${version}`,
  userId,
  version,
  policyVersion: 'p1',
  purposes: { ads_targeting: ads, friend_suggestions: 'denied' as const },
  occurredAt: 't',
});

describe('apply-audience-consent (the withdrawal consumer)', () => {
  it('removes a user who denies ads targeting from every audience, one exact decrement each', async () => {
    // Prepare
    await audience(A1, B1);
    await audience(A2, B2);
    await account(U1, 'denied', 2);
    await membership(U1, A1, B1);
    await membership(U1, A2, B2);
    await membership(U2, A1, B1);
    // Act
    const result = await applyConsent(sqsEvent([sqsRecord(consentChanged(U1, 'denied', 2))]), lambdaContext());
    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(await membershipsOfUser(U1)).toEqual([]);
    expect(await membershipsOfUser(U2)).toHaveLength(1);
    expect(await audienceNow(B1, A1)).toEqual(expect.objectContaining({ expiring: { [day]: 9 }, revision: 5 }));
    expect(await audienceNow(B2, A2)).toEqual(expect.objectContaining({ expiring: { [day]: 9 }, revision: 5 }));
  });

  it('is idempotent: the same event again decrements nothing', async () => {
    await audience(A1, B1);
    await account(U1, 'denied', 2);
    await membership(U1, A1, B1);
    await withdraw(consentChanged(U1, 'denied', 2));
    await withdraw(consentChanged(U1, 'denied', 2));
    expect(await audienceNow(B1, A1)).toEqual(expect.objectContaining({ expiring: { [day]: 9 }, revision: 5 }));
  });

  it('ignores grants and identifier changes', async () => {
    expect(await withdraw(consentChanged(U1, 'granted', 3))).toBe('skipped');
    expect(await withdraw({ type: 'IdentifiersChanged', eventId: 'e', userId: U1, occurredAt: 't' })).toBe('skipped');
    expect(functionCalls.calls()).toHaveLength(0);
  });

  it('after a denial and a new grant, removes only what was matched before the denial', async () => {
    await audience(A1, B1);
    await audience(A2, B1);
    await account(U1, 'granted', 3); // denied at 2, granted again at 3
    await membership(U1, A1, B1, { consentVersion: 1 });
    await membership(U1, A2, B1, { consentVersion: 3 });
    await withdraw(consentChanged(U1, 'denied', 2));
    expect((await membershipsOfUser(U1)).map((m) => m.audienceId)).toEqual([A2]);
    expect((await audienceNow(B1, A1)).expiring).toEqual({ [day]: 9 });
    expect((await audienceNow(B1, A2)).expiring).toEqual({ [day]: 10 });
  });

  it('removes every membership of an erased account', async () => {
    await audience(A1, B1);
    await account(U1, 'granted', 5, true);
    await membership(U1, A1, B1, { consentVersion: 5 });
    await withdraw({ type: 'AccountErased', eventId: 'e', userId: U1, occurredAt: 't' });
    expect(await membershipsOfUser(U1)).toEqual([]);
    expect((await audienceNow(B1, A1)).expiring).toEqual({ [day]: 9 });
  });

  it('takes off the committed state of an item a pending chunk wrote, and waits while a matcher holds the audience', async () => {
    // Prepare: the item was refreshed by a chunk that has not committed: the user counts on the old day.
    const oldDay = day - 30;
    const pending = attemptId(chunkId(9, 1, 0), leaseIdAt(Date.now(), 'matcher'));
    await audience(A1, B1, { expiring: { [oldDay]: 1 }, pending: new Set([pending]), leaseId: 'matcher', leaseUntil: Date.now() + 60_000 });
    await account(U1, 'denied', 2);
    await membership(U1, A1, B1, { lastChunk: pending, prevExpiresAt: oldDay * 86_400 });
    // The matcher releases its lease after the withdrawal first found the audience held, before it looks again.
    const readsAudience = (c: Parameters<typeof isCall>[0]) => isCall(c, GetCommand, 'audiences');
    passThrough(onCall(readsAudience, { nth: 2, before: () => audience(A1, B1, { expiring: { [oldDay]: 1 }, pending: new Set([pending]) }) }));
    // Act
    await withdraw(consentChanged(U1, 'denied', 2));
    // Assess
    expect(await membershipsOfUser(U1)).toEqual([]);
    expect((await audienceNow(B1, A1)).expiring).toEqual({ [oldDay]: 0 });
    expect(functionCalls.calls().filter((c) => readsAudience(c.args[0]))).toHaveLength(2); // held, then free
    expect(functionCalls.commandCalls(TransactWriteCommand)).toHaveLength(1); // nothing tried while the matcher held it
  });

  it("coalesces a user's events in a batch: one consent read for the batch, one pass a user, each audience decremented once", async () => {
    // Prepare: U1 denied (2), granted again (3), then denied again (4), all in one batch; U2 lost their phone number.
    await audience(A1, B1);
    await audience(A2, B2);
    await account(U1, 'denied', 4);
    await account(U2, 'granted', 1);
    await membership(U1, A1, B1, { consentVersion: 1 });
    await membership(U1, A2, B2, { consentVersion: 3 });
    await givenMembership({ userId: U2, audienceId: A1, businessId: B1, expiresAt: day * 86_400, consentVersion: 1, matchedBy: ['PHONE'] });
    await givenMembership({ userId: U2, audienceId: A2, businessId: B2, expiresAt: day * 86_400, consentVersion: 1, matchedBy: ['PHONE', 'EMAIL'] });
    const records = [
      sqsRecord(consentChanged(U1, 'denied', 2)),
      sqsRecord({ type: 'IdentifierLost', eventId: 'e', userId: U2, identifier: 'PHONE', occurredAt: 't' }),
      sqsRecord(consentChanged(U1, 'granted', 3)),
      sqsRecord(consentChanged(U1, 'denied', 4)),
      sqsRecord(consentChanged(U1, 'denied', 4)),
    ];
    // Act
    const result = await applyConsent(sqsEvent(records), lambdaContext());
    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(await membershipsOfUser(U1)).toEqual([]);
    expect((await membershipsOfUser(U2)).map((m) => m.audienceId)).toEqual([A2]); // matched through email too: stays
    expect((await audienceNow(B1, A1)).expiring).toEqual({ [day]: 8 });
    expect((await audienceNow(B2, A2)).expiring).toEqual({ [day]: 9 });
    // One BatchGetItem of consent (U1 only: a lost identifier needs none), one Query a user.
    expect(functionCalls.commandCalls(BatchGetCommand)).toHaveLength(1);
    expect(functionCalls.commandCalls(BatchGetCommand)[0]!.args[0].input.RequestItems![tableOf('consentStates')]!.Keys).toHaveLength(1);
    expect(functionCalls.commandCalls(QueryCommand)).toHaveLength(2);
  });

  it('an older denial after a newer grant removes only what was matched before that denial', async () => {
    // The batch holds the grant (3) before the older denial (2): memberships matched after the grant stay.
    await audience(A1, B1);
    await audience(A2, B1);
    await account(U1, 'granted', 3);
    await membership(U1, A1, B1, { consentVersion: 1 });
    await membership(U1, A2, B1, { consentVersion: 3 });
    const result = await applyConsent(sqsEvent([sqsRecord(consentChanged(U1, 'granted', 3)), sqsRecord(consentChanged(U1, 'denied', 2))]), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [] });
    expect((await membershipsOfUser(U1)).map((m) => m.audienceId)).toEqual([A2]);
  });

  it("fails all of a user's records when their withdrawal fails, and only theirs", async () => {
    await audience(A1, B1);
    await account(U1, 'denied', 2);
    await account(U2, 'denied', 2);
    await membership(U1, A1, B1);
    await membership(U2, A1, B1);
    // Every query of U1's memberships fails.
    passThrough((command) => {
      if (isCall(command, QueryCommand) && JSON.stringify(command.input).includes(U1)) throw new Error('unavailable');
    });
    const first = sqsRecord(consentChanged(U1, 'denied', 2));
    const other = sqsRecord(consentChanged(U2, 'denied', 2));
    const second = sqsRecord({ type: 'AccountErased', eventId: 'e', userId: U1, occurredAt: 't' });
    const result = await applyConsent(sqsEvent([first, other, second]), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: first.messageId }, { itemIdentifier: second.messageId }] });
    expect(await membershipsOfUser(U2)).toEqual([]);
    expect(await membershipsOfUser(U1)).toHaveLength(1);
  });

  it('deletes memberships of deleted audiences without touching their counts', async () => {
    await audience(A1, B1, { deletedAt: 't' });
    await account(U1, 'denied', 2);
    await membership(U1, A1, B1);
    await withdraw(consentChanged(U1, 'denied', 2));
    expect(await membershipsOfUser(U1)).toEqual([]);
    expect((await audienceNow(B1, A1)).expiring).toEqual({ [day]: 10 });
  });
});

describe('cleanup-audience', () => {
  const message = () => ({ v: 1 as const, businessId: B1, audienceId: A1, pass: 1 as const, requestedAtMs: Date.now() });

  it("removes a deleted audience's memberships, then schedules a second sweep", async () => {
    await audience(A1, B1, { deletedAt: 't' });
    await Promise.all(Array.from({ length: 60 }, (_, i) => membership(`${U1}-${i}`, A1, B1)));
    await membership(U2, A2, B1);
    expect(await membershipsOfAudience(A1)).toHaveLength(60);
    expect(await cleanup(message(), 1)).toBe('done');
    expect(await membershipsOfAudience(A1)).toEqual([]);
    expect((await membershipsOfAudience(A2)).map((m) => m.userId)).toEqual([U2]);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
    const next = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(JSON.parse(next.MessageBody!)).toEqual(expect.objectContaining({ pass: 2, audienceId: A1 }));
    expect(next.DelaySeconds).toBe(30);
    sqs.resetHistory();
    expect(await cleanup({ ...message(), pass: 2 }, 1)).toBe('done');
    expect(sqs.calls()).toHaveLength(0);
  });

  it('retries while the audience is not marked deleted, and drops the message once its delete clearly failed', async () => {
    await audience(A1, B1);
    await membership(U1, A1, B1);
    await expect(cleanup(message(), 1)).rejects.toThrow(/not marked deleted/);
    expect(await cleanup({ ...message(), requestedAtMs: Date.now() - 120_000 }, 3)).toBe('dropped-alive');
    expect(await membershipsOfUser(U1)).toHaveLength(1);
    expect(sqs.calls()).toHaveLength(0);
  });
});
