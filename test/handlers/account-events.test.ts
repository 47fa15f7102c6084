import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
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
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
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
    const input = sns.commandCalls(PublishCommand)[0]!.args[0].input;
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
    sns.on(PublishCommand).resolves({});
    const key = outboxEventKey('u-1', 't', 'e-1');
    const event = { ...key, kind: 'event', eventType: 'IdentifiersChanged', eventId: 'e-1', occurredAt: 't', expiresAt: 1 };
    await publish(
      streamEvent([streamRecord('INSERT', { keys: key, newImage: event }), streamRecord('REMOVE', { keys: key, oldImage: event })]),
      lambdaContext(),
    );
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    expect(JSON.parse(sns.commandCalls(PublishCommand)[0]!.args[0].input.Message!)).toEqual({
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
    sns.on(PublishCommand).resolvesOnce({}).rejectsOnce(new Error('throttled')).resolves({});
    const records = [1, 2, 3].map((v) => streamRecord('INSERT', { keys: receiptKey('u-1', v), newImage: item(v) }));
    const result = await publish(streamEvent(records), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: records[1]!.dynamodb!.SequenceNumber }] });
  });
});

describe('apply-match-index', () => {
  const identity = { ...identityKey('u-1'), phoneNumber: '+14155550123', email: 'ana@example.com' };
  const state = (ads: string, extra: Record<string, unknown> = {}) => ({
    ...stateKey('u-1'),
    consentVersion: 3,
    consentPolicyVersion: 'p1',
    purposes: { ads_targeting: ads, friend_suggestions: 'granted' },
    consentUpdatedAt: '2026-11-20T00:00:00.000Z',
    ...extra,
  });
  const keys = accountMatchKeys(pepper, { phoneNumber: '+14155550123', email: 'ana@example.com' });
  const applied = (userId: string, appliedVersion: number, applied: string[], rev: number) => ({ ...appliedKey(userId), appliedVersion, keys: applied, rev });
  /** The user's consent state and identifiers, as the two tables hold them. */
  const givenAccount = (ads: string, extra: Record<string, unknown> = {}) => {
    ddb.on(GetCommand, { TableName: 'test-consentStates', Key: stateKey('u-1') }).resolves({ Item: state(ads, extra) });
    ddb.on(GetCommand, { TableName: 'test-identities', Key: identityKey('u-1') }).resolves({ Item: identity });
  };
  const accountReads = () => ddb.commandCalls(GetCommand).filter((c) => ['test-consentStates', 'test-identities'].includes(c.args[0].input.TableName!));

  it('puts the keyed identifiers of a user who grants ads_targeting', async () => {
    // Prepare
    ddb.on(GetCommand, { TableName: 'test-matchIndex' }).resolves({});
    givenAccount('granted');
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
    ddb.on(GetCommand, { TableName: 'test-matchIndex' }).resolves({ Item: applied('u-1', 2, keys, 4) });
    givenAccount('denied');
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
    ddb.on(GetCommand, { TableName: 'test-matchIndex' }).resolves({});
    givenAccount('granted', { erasedAt: '2026-11-22T00:00:00.000Z' });
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
    ddb.on(GetCommand, { TableName: 'test-matchIndex' }).resolves({});
    givenAccount('granted', { erasedAt: '2026-11-19T00:00:00.000Z' });
    ddb.on(PutCommand).resolves({});
    await applyMatchIndex(sqsEvent([sqsRecord(consentChanged(3))]), lambdaContext());
    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item!);
    expect(puts).toEqual(expect.arrayContaining([{ ...indexKey(keys[0]!), userId: 'u-1', consentVersion: 3 }]));
    expect(puts).toHaveLength(3);
  });

  it('skips a repeated or older event without reading the account', async () => {
    ddb.on(GetCommand, { TableName: 'test-matchIndex' }).resolves({ Item: applied('u-1', 3, keys, 4) });
    await applyMatchIndex(sqsEvent([sqsRecord(consentChanged(3)), sqsRecord(consentChanged(2))]), lambdaContext());
    expect(ddb.commandCalls(GetCommand, { TableName: 'test-matchIndex' })).toHaveLength(2);
    expect(accountReads()).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('fails only the bad record of a batch', async () => {
    ddb.on(GetCommand, { TableName: 'test-matchIndex' }).resolves({ Item: applied('u-1', 9, [], 1) });
    const good = sqsRecord(consentChanged(3));
    const bad = sqsRecord('{"type":"ConsentChanged"');
    const alsoBad = sqsRecord({ type: 'Unknown', userId: 'u-1' });
    const result = await applyMatchIndex(sqsEvent([good, bad, alsoBad]), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: bad.messageId }, { itemIdentifier: alsoBad.messageId }] });
  });

  it('starts over on fresh state when a concurrent reconcile of the same user won', async () => {
    ddb.on(GetCommand, { TableName: 'test-matchIndex' }).resolves({ Item: applied('u-1', 2, [], 1) });
    givenAccount('denied');
    ddb
      .on(PutCommand)
      .rejectsOnce(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }))
      .resolves({});
    const record = sqsRecord(consentChanged(3));
    expect(await applyMatchIndex(sqsEvent([record]), lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(2);
  });

  it('fails the record when concurrent reconciles keep winning, so it is retried later', async () => {
    ddb.on(GetCommand, { TableName: 'test-matchIndex', Key: appliedKey('u-1') }).resolves({ Item: applied('u-1', 2, [], 1) });
    ddb.on(GetCommand, { TableName: 'test-matchIndex', Key: appliedKey('u-2') }).resolves({ Item: applied('u-2', 9, [], 1) });
    givenAccount('denied');
    ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    const record = sqsRecord(consentChanged(3));
    const skipped = sqsRecord(consentChanged(3, 'u-2'));
    expect(await applyMatchIndex(sqsEvent([record, skipped]), lambdaContext())).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    // A batch in which every record fails is thrown, so the whole batch is retried.
    await expect(applyMatchIndex(sqsEvent([record]), lambdaContext())).rejects.toThrow();
  });
});

describe('apply-suggestions', () => {
  const givenState = (extra: Record<string, unknown> = {}) =>
    ddb.on(GetCommand, { TableName: 'test-consentStates', Key: stateKey('u-1') }).resolves({
      Item: {
        ...stateKey('u-1'),
        consentVersion: 3,
        consentPolicyVersion: 'p1',
        purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' },
        consentUpdatedAt: '2026-11-20T00:00:00.000Z',
        ...extra,
      },
    });

  it('records whether the user allows friend suggestions, never moving back in version', async () => {
    // Prepare
    ddb.on(GetCommand, { TableName: 'test-suggestions', Key: suggestionKey('u-1') }).resolves({});
    givenState();
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
    ddb.on(GetCommand, { TableName: 'test-suggestions', Key: suggestionKey('u-1') }).resolves({});
    givenState({ erasedAt: '2026-11-22T00:00:00.000Z' });
    ddb.on(PutCommand).resolves({});
    await applySuggestions(sqsEvent([sqsRecord({ type: 'AccountErased', eventId: 'e-1', userId: 'u-1', occurredAt: 't' })]), lambdaContext());
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input.Item).toEqual(expect.objectContaining({ allowed: false, appliedVersion: 3 }));
  });

  it('skips events at or below the applied version', async () => {
    ddb
      .on(GetCommand, { TableName: 'test-suggestions', Key: suggestionKey('u-1') })
      .resolves({ Item: { ...suggestionKey('u-1'), allowed: true, appliedVersion: 5, updatedAt: 't' } });
    await applySuggestions(sqsEvent([sqsRecord(consentChanged(5)), sqsRecord(consentChanged(4))]), lambdaContext());
    expect(ddb.commandCalls(GetCommand, { TableName: 'test-suggestions' })).toHaveLength(2);
    expect(ddb.commandCalls(GetCommand, { TableName: 'test-consentStates' })).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });
});
