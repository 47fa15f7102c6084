import { PublishBatchCommand, SNSClient } from '@aws-sdk/client-sns';
import { BatchGetCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as publish } from '../../functions/publish-account-events/handler';
import { handler as applyMatchIndex } from '../../functions/apply-match-index/handler';
import { handler as applySuggestions } from '../../functions/apply-suggestions/handler';
import { accountMatchKeys } from '../../functions/core/identifiers';
import { stateKey } from '../../functions/tables/consent-states';
import { identityKey } from '../../functions/tables/identities';
import { outboxEventKey, receiptKey } from '../../functions/tables/ledger';
import { appliedKey, indexKey } from '../../functions/tables/match-index';
import { suggestionKey } from '../../functions/tables/suggestions';
import { lambdaContext, sqsEvent, sqsRecord, streamEvent, streamRecord } from '../support/events';

const ddb = mockClient(DynamoDBDocumentClient);
const sns = mockClient(SNSClient);
afterEach(() => {
  ddb.reset();
  sns.reset();
});

type Item = Record<string, unknown>;
/**
 * Items BatchGetItem finds, by table: the consumers read a batch's users in
 * BatchGetItem calls, answered from these (GetItem, used on retries, is mocked per test).
 */
function givenItems(items: Record<string, Item[]>) {
  ddb.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, { Keys: Item[] }> }) => ({
    Responses: Object.fromEntries(
      Object.entries(input.RequestItems).map(([table, { Keys }]) => [
        table,
        (items[table] ?? []).filter((item) => Keys.some((key) => Object.entries(key).every(([name, value]) => item[name] === value))),
      ]),
    ),
  }));
}
/** The keys each table was asked for in BatchGetItem calls. */
const batchReads = (table: string): Item[] =>
  ddb.commandCalls(BatchGetCommand).flatMap((c) => (c.args[0].input.RequestItems?.[table]?.Keys as Item[] | undefined) ?? []);

const pepper = Buffer.from(process.env.LOCAL_PEPPER!, 'utf8');
const purposes = { ads_targeting: 'denied', friend_suggestions: 'granted' };
const consentChanged = (version: number, userId = 'u-1') => ({
  type: 'ConsentChanged',
  eventId: `r-${version}`,
  userId,
  version,
  policyVersion: 'p1',
  purposes,
  occurredAt: '2026-11-25T00:00:00.000Z',
});

describe('publish-account-events (the outbox publisher)', () => {
  it('publishes a receipt as ConsentChanged with a type attribute, and nothing personal', async () => {
    // Prepare
    sns.on(PublishBatchCommand).resolves({ Successful: [{ Id: '0', MessageId: 'm-1' }] });
    const receipt = {
      ...receiptKey('u-1', 2),
      kind: 'receipt',
      receiptId: 'r-2',
      version: 2,
      policyVersion: 'p1',
      purposes,
      source: 'settings',
      recordedAt: 't',
    };
    // Act
    const result = await publish(streamEvent([streamRecord('INSERT', { keys: receiptKey('u-1', 2), newImage: receipt })]), lambdaContext());
    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    const [entry, ...more] = sns.commandCalls(PublishBatchCommand)[0]!.args[0].input.PublishBatchRequestEntries!;
    expect(more).toEqual([]);
    const input = entry!;
    expect(JSON.parse(input.Message!)).toEqual({
      type: 'ConsentChanged',
      eventId: 'r-2',
      userId: 'u-1',
      version: 2,
      policyVersion: 'p1',
      purposes,
      occurredAt: 't',
    });
    expect(input.MessageAttributes).toEqual({ type: { DataType: 'String', StringValue: 'ConsentChanged' } });
  });

  it('publishes other outbox events by their type and ignores removals', async () => {
    sns.on(PublishBatchCommand).resolves({});
    const key = outboxEventKey('u-1', 't', 'e-1');
    const event = { ...key, kind: 'event', eventType: 'IdentifiersChanged', eventId: 'e-1', occurredAt: 't', expiresAt: 1 };
    await publish(
      streamEvent([streamRecord('INSERT', { keys: key, newImage: event }), streamRecord('REMOVE', { keys: key, oldImage: event })]),
      lambdaContext(),
    );
    const entries = sns.commandCalls(PublishBatchCommand).flatMap((c) => c.args[0].input.PublishBatchRequestEntries!);
    expect(entries).toHaveLength(1);
    expect(JSON.parse(entries[0]!.Message!)).toEqual({
      type: 'IdentifiersChanged',
      eventId: 'e-1',
      userId: 'u-1',
      occurredAt: 't',
    });
  });

  it('reports the record that failed to publish so the stream retries from it', async () => {
    const item = (v: number) => ({
      ...receiptKey('u-1', v),
      kind: 'receipt',
      receiptId: `r-${v}`,
      version: v,
      policyVersion: 'p',
      purposes,
      source: 'settings',
      recordedAt: 't',
    });
    sns.on(PublishBatchCommand).resolves({ Successful: [{ Id: '0' }, { Id: '2' }], Failed: [{ Id: '1', Code: 'Throttled', SenderFault: false }] });
    const records = [1, 2, 3].map((v) => streamRecord('INSERT', { keys: receiptKey('u-1', v), newImage: item(v) }));
    const result = await publish(streamEvent(records), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: records[1]!.dynamodb!.SequenceNumber }] });
  });

  it('publishes a batch 10 events a call, and fails every record of a call that failed', async () => {
    const item = (v: number) => ({
      ...receiptKey('u-1', v),
      kind: 'receipt',
      receiptId: `r-${v}`,
      version: v,
      policyVersion: 'p',
      purposes,
      source: 'settings',
      recordedAt: 't',
    });
    const records = Array.from({ length: 25 }, (_, i) => streamRecord('INSERT', { keys: receiptKey('u-1', i + 1), newImage: item(i + 1) }));
    sns.on(PublishBatchCommand).callsFake((input: { PublishBatchRequestEntries: { Message: string }[] }) => {
      if (input.PublishBatchRequestEntries.some((e) => (JSON.parse(e.Message) as { version: number }).version === 11)) throw new Error('throttled');
      return {};
    });
    const result = await publish(streamEvent(records), lambdaContext());
    const calls = sns
      .commandCalls(PublishBatchCommand)
      .map((c) => c.args[0].input.PublishBatchRequestEntries!.map((e) => (JSON.parse(e.Message!) as { version: number }).version));
    expect(calls.map((versions) => versions.length).sort((a, b) => b - a)).toEqual([10, 10, 5]);
    expect(calls.flat().sort((a, b) => a - b)).toEqual(records.map((_, i) => i + 1));
    // The second call (versions 11-20) failed: its records are reported, the stream retries from the first of them.
    expect(result).toEqual({ batchItemFailures: records.slice(10, 20).map((r) => ({ itemIdentifier: r.dynamodb!.SequenceNumber })) });
  });
});

describe('apply-match-index', () => {
  const identity = { ...identityKey('u-1'), phoneNumber: '+14155550123', email: 'ana@example.com' };
  const state = (ads: string, extra: Record<string, unknown> = {}, userId = 'u-1') => ({
    ...stateKey(userId),
    consentVersion: 3,
    consentPolicyVersion: 'p1',
    purposes: { ads_targeting: ads, friend_suggestions: 'granted' },
    consentUpdatedAt: '2026-11-20T00:00:00.000Z',
    ...extra,
  });
  const keys = accountMatchKeys(pepper, { phoneNumber: '+14155550123', email: 'ana@example.com' });
  const applied = (userId: string, appliedVersion: number, applied: string[], rev: number) => ({ ...appliedKey(userId), appliedVersion, keys: applied, rev });
  /** The user's applied state, consent state and identifiers, as the three tables hold them (read in a batch, and one by one on a retry). */
  const given = (items: { applied?: Item[]; states?: Item[]; identities?: Item[] }) => {
    givenItems({ 'test-matchIndex': items.applied ?? [], 'test-consentStates': items.states ?? [], 'test-identities': items.identities ?? [] });
    for (const [table, list] of [
      ['test-matchIndex', items.applied ?? []],
      ['test-consentStates', items.states ?? []],
      ['test-identities', items.identities ?? []],
    ] as const) {
      ddb.on(GetCommand, { TableName: table }).resolves({});
      for (const item of list) ddb.on(GetCommand, { TableName: table, Key: { pk: item.pk } }).resolves({ Item: item });
    }
  };
  const accountReads = () => [...batchReads('test-consentStates'), ...batchReads('test-identities')];

  it('puts the keyed identifiers of a user who grants ads_targeting', async () => {
    // Prepare
    given({ states: [state('granted')], identities: [identity] });
    ddb.on(PutCommand).resolves({});
    // Act
    const result = await applyMatchIndex(sqsEvent([sqsRecord(consentChanged(3))]), lambdaContext());
    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.TableName)).toEqual(['test-matchIndex', 'test-matchIndex', 'test-matchIndex']);
    expect(puts.map((p) => p.Item)).toEqual([
      { ...indexKey(keys[0]!), userId: 'u-1', consentVersion: 3 },
      { ...indexKey(keys[1]!), userId: 'u-1', consentVersion: 3 },
      expect.objectContaining({ ...appliedKey('u-1'), appliedVersion: 3, keys, rev: 1 }),
    ]);
    expect(JSON.stringify(ddb.calls().map((c) => c.args[0].input))).not.toMatch(/4155550123|ana@example/);
  });

  it('removes the keys of a user who denies it', async () => {
    given({ applied: [applied('u-1', 2, keys, 4)], states: [state('denied')], identities: [identity] });
    ddb.on(DeleteCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    await applyMatchIndex(sqsEvent([sqsRecord(consentChanged(3))]), lambdaContext());
    expect(ddb.commandCalls(DeleteCommand).map((c) => c.args[0].input.Key)).toEqual(keys.map((k) => indexKey(k)));
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual(
      expect.objectContaining({ Item: expect.objectContaining({ keys: [], appliedVersion: 3, rev: 5 }), ConditionExpression: 'rev = :rev' }),
    );
  });

  it('does not index a grant decided before the account was erased, for identifiers bound since', async () => {
    // Prepare: ads granted on 20 November, account erased on 22 November, a new number bound after
    given({ states: [state('granted', { erasedAt: '2026-11-22T00:00:00.000Z' })], identities: [identity] });
    ddb.on(PutCommand).resolves({});
    // Act
    const result = await applyMatchIndex(
      sqsEvent([sqsRecord({ type: 'IdentifiersChanged', eventId: 'e-1', userId: 'u-1', occurredAt: 't' })]),
      lambdaContext(),
    );
    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item!);
    expect(puts).toEqual([expect.objectContaining({ ...appliedKey('u-1'), keys: [] })]);
  });

  it('indexes a grant decided again after the erasure', async () => {
    given({ states: [state('granted', { erasedAt: '2026-11-19T00:00:00.000Z' })], identities: [identity] });
    ddb.on(PutCommand).resolves({});
    await applyMatchIndex(sqsEvent([sqsRecord(consentChanged(3))]), lambdaContext());
    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item!);
    expect(puts).toEqual(expect.arrayContaining([{ ...indexKey(keys[0]!), userId: 'u-1', consentVersion: 3 }]));
    expect(puts).toHaveLength(3);
  });

  it('skips a repeated or older event without reading the account', async () => {
    given({ applied: [applied('u-1', 3, keys, 4)] });
    const result = await applyMatchIndex(sqsEvent([sqsRecord(consentChanged(3)), sqsRecord(consentChanged(2))]), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [] });
    expect(batchReads('test-matchIndex')).toEqual([appliedKey('u-1')]);
    expect(accountReads()).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it("reads a batch's users in one BatchGetItem a table and reconciles each user once, however many events they have", async () => {
    // Prepare: u-1 has three events in the batch, u-2 one, u-3 only an old one (skipped without reading its account)
    given({
      applied: [applied('u-1', 1, [], 1), applied('u-3', 9, [], 2)],
      states: [state('denied'), state('granted', {}, 'u-2')],
      identities: [identity, { ...identityKey('u-2') }],
    });
    ddb.on(PutCommand).resolves({});
    // Act
    const result = await applyMatchIndex(
      sqsEvent([
        sqsRecord(consentChanged(3)),
        sqsRecord(consentChanged(2, 'u-2')),
        sqsRecord(consentChanged(2)),
        sqsRecord({ type: 'IdentifiersChanged', eventId: 'e-1', userId: 'u-1', occurredAt: 't' }),
        sqsRecord(consentChanged(4, 'u-3')),
      ]),
      lambdaContext(),
    );
    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(3);
    expect(batchReads('test-matchIndex')).toEqual([appliedKey('u-1'), appliedKey('u-2'), appliedKey('u-3')]);
    expect(batchReads('test-consentStates')).toEqual([stateKey('u-1'), stateKey('u-2')]);
    expect(batchReads('test-identities')).toEqual([identityKey('u-1'), identityKey('u-2')]);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    // One applied state a user, from the state read now (u-1 denies at version 3: no keys)
    const recorded = ddb
      .commandCalls(PutCommand)
      .map((c) => c.args[0].input.Item!)
      .filter((item) => String(item.pk).startsWith(appliedKey('').pk));
    expect(recorded).toEqual([
      expect.objectContaining({ ...appliedKey('u-1'), keys: [], appliedVersion: 3, rev: 2 }),
      expect.objectContaining({ ...appliedKey('u-2'), keys: [], appliedVersion: 3, rev: 1 }),
    ]);
  });

  it('fails only the bad record of a batch', async () => {
    given({ applied: [applied('u-1', 9, [], 1)] });
    const good = sqsRecord(consentChanged(3));
    const bad = sqsRecord('{"type":"ConsentChanged"');
    const alsoBad = sqsRecord({ type: 'Unknown', userId: 'u-1' });
    const result = await applyMatchIndex(sqsEvent([good, bad, alsoBad]), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: bad.messageId }, { itemIdentifier: alsoBad.messageId }] });
  });

  it('starts over on fresh state when a concurrent reconcile of the same user won', async () => {
    given({ applied: [applied('u-1', 2, [], 1)], states: [state('denied')], identities: [identity] });
    ddb
      .on(PutCommand)
      .rejectsOnce(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }))
      .resolves({});
    const record = sqsRecord(consentChanged(3));
    expect(await applyMatchIndex(sqsEvent([record]), lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(2);
    // The second attempt read the user afresh, one item at a time.
    expect(ddb.commandCalls(GetCommand).map((c) => c.args[0].input.TableName)).toEqual(
      expect.arrayContaining(['test-matchIndex', 'test-consentStates', 'test-identities']),
    );
  });

  it("fails all of a user's records when concurrent reconciles keep winning, so they are retried later", async () => {
    given({ applied: [applied('u-1', 2, [], 1), applied('u-2', 9, [], 1)], states: [state('denied')], identities: [identity] });
    ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    const record = sqsRecord(consentChanged(3));
    const again = sqsRecord({ type: 'IdentifiersChanged', eventId: 'e-1', userId: 'u-1', occurredAt: 't' });
    const skipped = sqsRecord(consentChanged(3, 'u-2'));
    expect(await applyMatchIndex(sqsEvent([record, skipped, again]), lambdaContext())).toEqual({
      batchItemFailures: [{ itemIdentifier: record.messageId }, { itemIdentifier: again.messageId }],
    });
    // A batch in which every record fails is thrown, so the whole batch is retried.
    await expect(applyMatchIndex(sqsEvent([record]), lambdaContext())).rejects.toThrow();
  });

  it('fails the whole batch when its batched read fails', async () => {
    ddb.on(BatchGetCommand).rejects(new Error('unavailable'));
    await expect(applyMatchIndex(sqsEvent([sqsRecord(consentChanged(3)), sqsRecord(consentChanged(3, 'u-2'))]), lambdaContext())).rejects.toThrow();
  });
});

describe('apply-suggestions', () => {
  const state = (extra: Record<string, unknown> = {}, userId = 'u-1') => ({
    ...stateKey(userId),
    consentVersion: 3,
    consentPolicyVersion: 'p1',
    purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' },
    consentUpdatedAt: '2026-11-20T00:00:00.000Z',
    ...extra,
  });

  it('records whether the user allows friend suggestions, never moving back in version', async () => {
    // Prepare
    givenItems({ 'test-consentStates': [state()] });
    ddb.on(PutCommand).resolves({});
    // Act
    await applySuggestions(sqsEvent([sqsRecord(consentChanged(3))]), lambdaContext());
    // Assess
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual(
      expect.objectContaining({
        TableName: 'test-suggestions',
        Item: expect.objectContaining({ ...suggestionKey('u-1'), allowed: true, appliedVersion: 3 }),
        ConditionExpression: 'attribute_not_exists(userId) OR appliedVersion <= :v',
      }),
    );
  });

  it('does not allow suggestions on a grant decided before the account was erased', async () => {
    givenItems({ 'test-consentStates': [state({ erasedAt: '2026-11-22T00:00:00.000Z' })] });
    ddb.on(PutCommand).resolves({});
    await applySuggestions(sqsEvent([sqsRecord({ type: 'AccountErased', eventId: 'e-1', userId: 'u-1', occurredAt: 't' })]), lambdaContext());
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input.Item).toEqual(expect.objectContaining({ allowed: false, appliedVersion: 3 }));
  });

  it('skips events at or below the applied version', async () => {
    givenItems({ 'test-suggestions': [{ ...suggestionKey('u-1'), allowed: true, appliedVersion: 5, updatedAt: 't' }] });
    await applySuggestions(sqsEvent([sqsRecord(consentChanged(5)), sqsRecord(consentChanged(4))]), lambdaContext());
    expect(batchReads('test-suggestions')).toEqual([suggestionKey('u-1')]);
    expect(batchReads('test-consentStates')).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it("reads a batch's users in two BatchGetItems, puts each user once, and fails only the user whose put failed", async () => {
    // Prepare: u-1 decided twice in the batch (the state holds the later decision), u-2 once; u-2's put fails
    givenItems({
      'test-suggestions': [{ ...suggestionKey('u-1'), allowed: false, appliedVersion: 1, updatedAt: 't' }],
      'test-consentStates': [state({ consentVersion: 4 }), state({ purposes: { ads_targeting: 'denied', friend_suggestions: 'denied' } }, 'u-2')],
    });
    ddb.on(PutCommand).resolves({});
    ddb.on(PutCommand, { Item: { userId: 'u-2' } }).rejects(new Error('unavailable'));
    const u2 = sqsRecord(consentChanged(3, 'u-2'));
    // Act
    const result = await applySuggestions(sqsEvent([sqsRecord(consentChanged(4)), u2, sqsRecord(consentChanged(3))]), lambdaContext());
    // Assess
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: u2.messageId }] });
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(2);
    expect(batchReads('test-consentStates')).toEqual([stateKey('u-1'), stateKey('u-2')]);
    const items = ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item!);
    expect(items).toEqual([
      expect.objectContaining({ userId: 'u-1', allowed: true, appliedVersion: 4 }),
      expect.objectContaining({ userId: 'u-2', allowed: false, appliedVersion: 3 }),
    ]);
  });

  it('an older event after a newer one changes nothing: the put is conditional on the stored version', async () => {
    // The stored item is at version 6 (a newer decision applied by another batch meanwhile); this batch read version 5.
    givenItems({
      'test-suggestions': [{ ...suggestionKey('u-1'), allowed: true, appliedVersion: 4, updatedAt: 't' }],
      'test-consentStates': [state({ consentVersion: 5 })],
    });
    ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    const result = await applySuggestions(sqsEvent([sqsRecord(consentChanged(5))]), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [] });
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input.ExpressionAttributeValues).toEqual({ ':v': 5 });
  });
});
