import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as applyConsent, withdraw } from '../../functions/apply-audience-consent/handler';
import { cleanup } from '../../functions/cleanup-audience/handler';
import { lambdaContext, sqsEvent, sqsRecord } from '../support/events';
import { FakeDynamo } from './audiences-fake-dynamo';

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
let db: FakeDynamo;
beforeEach(() => {
  db = new FakeDynamo();
  db.install(ddb);
  sqs.on(SendMessageCommand).resolves({});
});
afterEach(() => {
  ddb.reset();
  sqs.reset();
});

const A1 = `aud-${'1'.repeat(32)}`;
const A2 = `aud-${'2'.repeat(32)}`;
const day = Math.floor(Date.now() / 86_400_000) + 400;
const audience = (id: string, businessId: string, extra: Record<string, unknown> = {}) =>
  db.put('test-audiences', { pk: `b#${businessId}`, sk: `a#${id}`, audienceId: id, businessId, expiring: { [day]: 10 }, revision: 4, ...extra });
const audienceNow = (id: string, businessId: string) => db.get('test-audiences', { pk: `b#${businessId}`, sk: `a#${id}` })!;
const membership = (userId: string, audienceId: string, businessId: string, extra: Record<string, unknown> = {}) =>
  db.put('test-audienceMemberships', {
    pk: `u#${userId}`,
    sk: `a#${audienceId}`,
    userId,
    audienceId,
    businessId,
    expiresAt: day * 86_400,
    consentVersion: 1,
    lastChunk: '1:1:0',
    prevExpiresAt: 0,
    ...extra,
  });
const account = (userId: string, ads: 'granted' | 'denied', version: number, erasedAt?: string) =>
  db.put('test-accounts', {
    pk: `user#${userId}`,
    consentVersion: version,
    purposes: { ads_targeting: ads, friend_suggestions: 'denied' },
    ...(erasedAt ? { erasedAt } : {}),
  });
const consentChanged = (userId: string, ads: 'granted' | 'denied', version: number) => ({
  type: 'ConsentChanged' as const,
  eventId: `r-${version}`,
  userId,
  version,
  policyVersion: 'p1',
  purposes: { ads_targeting: ads, friend_suggestions: 'denied' as const },
  occurredAt: 't',
});
const membershipsOf = (userId: string) => db.items('test-audienceMemberships').filter((m) => m.userId === userId);

describe('apply-audience-consent (the withdrawal consumer)', () => {
  it('removes a user who denies ads targeting from every audience, one exact decrement each', async () => {
    // Prepare
    audience(A1, 'b-1');
    audience(A2, 'b-2');
    account('u-1', 'denied', 2);
    membership('u-1', A1, 'b-1');
    membership('u-1', A2, 'b-2');
    membership('u-2', A1, 'b-1');
    // Act
    const result = await applyConsent(sqsEvent([sqsRecord(consentChanged('u-1', 'denied', 2))]), lambdaContext());
    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(membershipsOf('u-1')).toEqual([]);
    expect(membershipsOf('u-2')).toHaveLength(1);
    expect(audienceNow(A1, 'b-1')).toEqual(expect.objectContaining({ expiring: { [day]: 9 }, revision: 5 }));
    expect(audienceNow(A2, 'b-2')).toEqual(expect.objectContaining({ expiring: { [day]: 9 }, revision: 5 }));
  });

  it('is idempotent: the same event again decrements nothing', async () => {
    audience(A1, 'b-1');
    account('u-1', 'denied', 2);
    membership('u-1', A1, 'b-1');
    await withdraw(consentChanged('u-1', 'denied', 2));
    await withdraw(consentChanged('u-1', 'denied', 2));
    expect(audienceNow(A1, 'b-1').expiring).toEqual({ [day]: 9 });
  });

  it('ignores grants and identifier changes', async () => {
    expect(await withdraw(consentChanged('u-1', 'granted', 3))).toBe('skipped');
    expect(await withdraw({ type: 'IdentifiersChanged', eventId: 'e', userId: 'u-1', occurredAt: 't' })).toBe('skipped');
    expect(ddb.calls()).toHaveLength(0);
  });

  it('after a denial and a new grant, removes only what was matched before the denial', async () => {
    audience(A1, 'b-1');
    audience(A2, 'b-1');
    account('u-1', 'granted', 3); // denied at 2, granted again at 3
    membership('u-1', A1, 'b-1', { consentVersion: 1 });
    membership('u-1', A2, 'b-1', { consentVersion: 3 });
    await withdraw(consentChanged('u-1', 'denied', 2));
    expect(membershipsOf('u-1').map((m) => m.audienceId)).toEqual([A2]);
  });

  it('removes every membership of an erased account', async () => {
    audience(A1, 'b-1');
    account('u-1', 'granted', 5, 't');
    membership('u-1', A1, 'b-1', { consentVersion: 5 });
    await withdraw({ type: 'AccountErased', eventId: 'e', userId: 'u-1', occurredAt: 't' });
    expect(membershipsOf('u-1')).toEqual([]);
    expect(audienceNow(A1, 'b-1').expiring).toEqual({ [day]: 9 });
  });

  it('takes off the committed state of an item a pending chunk wrote, and waits while a matcher holds the audience', async () => {
    // Prepare: the item was refreshed by a chunk that has not committed: the user counts on the old day.
    const oldDay = day - 30;
    audience(A1, 'b-1', { expiring: { [oldDay]: 1 }, pending: new Set(['9:1:0']), leaseId: 'matcher', leaseUntil: Date.now() + 60_000 });
    account('u-1', 'denied', 2);
    membership('u-1', A1, 'b-1', { lastChunk: '9:1:0', prevExpiresAt: oldDay * 86_400 });
    setTimeout(() => audience(A1, 'b-1', { expiring: { [oldDay]: 1 }, pending: new Set(['9:1:0']) }), 400); // lease released
    // Act
    await withdraw(consentChanged('u-1', 'denied', 2));
    // Assess
    expect(membershipsOf('u-1')).toEqual([]);
    expect(audienceNow(A1, 'b-1').expiring).toEqual({ [oldDay]: 0 });
    expect(ddb.commandCalls(TransactWriteCommand).length).toBeGreaterThanOrEqual(1);
  });

  it('deletes memberships of deleted audiences without touching their counts', async () => {
    audience(A1, 'b-1', { deletedAt: 't' });
    account('u-1', 'denied', 2);
    membership('u-1', A1, 'b-1');
    await withdraw(consentChanged('u-1', 'denied', 2));
    expect(membershipsOf('u-1')).toEqual([]);
    expect(audienceNow(A1, 'b-1').expiring).toEqual({ [day]: 10 });
  });
});

describe('cleanup-audience', () => {
  const message = { v: 1 as const, businessId: 'b-1', audienceId: A1, pass: 1 as const, requestedAtMs: Date.now() };

  it("removes a deleted audience's memberships, then schedules a second sweep", async () => {
    audience(A1, 'b-1', { deletedAt: 't' });
    for (let i = 0; i < 60; i++) membership(`u-${i}`, A1, 'b-1');
    membership('u-x', A2, 'b-1');
    expect(await cleanup(message, 1)).toBe('done');
    expect(db.items('test-audienceMemberships').map((m) => m.audienceId)).toEqual([A2]);
    const next = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(JSON.parse(next.MessageBody!)).toEqual(expect.objectContaining({ pass: 2, audienceId: A1 }));
    expect(next.DelaySeconds).toBe(30);
    sqs.resetHistory();
    expect(await cleanup({ ...message, pass: 2 }, 1)).toBe('done');
    expect(sqs.calls()).toHaveLength(0);
  });

  it('retries while the audience is not marked deleted, and drops the message once its delete clearly failed', async () => {
    audience(A1, 'b-1');
    membership('u-1', A1, 'b-1');
    await expect(cleanup(message, 1)).rejects.toThrow(/not marked deleted/);
    expect(await cleanup({ ...message, requestedAtMs: Date.now() - 120_000 }, 3)).toBe('dropped-alive');
    expect(membershipsOf('u-1')).toHaveLength(1);
  }, 15_000);
});
