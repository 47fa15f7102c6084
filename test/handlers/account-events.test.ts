import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as publish } from '../../functions/publish-account-events/handler';
import { handler as applyMatchIndex } from '../../functions/apply-match-index/handler';
import { handler as applySuggestions } from '../../functions/apply-suggestions/handler';
import { accountMatchKeys } from '../../functions/core/identifiers';
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
      userId: 'u-1',
      sk: 'c#0000000002',
      kind: 'receipt',
      receiptId: 'r-2',
      version: 2,
      policyVersion: 'p1',
      purposes,
      source: 'settings',
      recordedAt: 't',
    };
    // Act
    const result = await publish(streamEvent([streamRecord('INSERT', { keys: { userId: 'u-1', sk: receipt.sk }, newImage: receipt })]), lambdaContext());
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
    const event = { userId: 'u-1', sk: 'e#t#1', kind: 'event', eventType: 'IdentifiersChanged', eventId: 'e-1', occurredAt: 't', expiresAt: 1 };
    await publish(
      streamEvent([
        streamRecord('INSERT', { keys: { userId: 'u-1', sk: event.sk }, newImage: event }),
        streamRecord('REMOVE', { keys: { userId: 'u-1', sk: event.sk }, oldImage: event }),
      ]),
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
      userId: 'u-1',
      sk: `c#${v}`,
      kind: 'receipt',
      receiptId: `r-${v}`,
      version: v,
      policyVersion: 'p',
      purposes,
      source: 'settings',
      recordedAt: 't',
    });
    sns.on(PublishCommand).resolvesOnce({}).rejectsOnce(new Error('throttled')).resolves({});
    const records = [1, 2, 3].map((v) => streamRecord('INSERT', { keys: { userId: 'u-1', sk: `c#${v}` }, newImage: item(v) }));
    const result = await publish(streamEvent(records), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: records[1]!.dynamodb!.SequenceNumber }] });
  });
});

describe('apply-match-index', () => {
  const account = (ads: string) => ({
    pk: 'user#u-1',
    phoneNumber: '+14155550123',
    email: 'ana@example.com',
    consentVersion: 3,
    consentPolicyVersion: 'p1',
    purposes: { ads_targeting: ads, friend_suggestions: 'granted' },
    consentUpdatedAt: 't',
  });
  const keys = accountMatchKeys(pepper, { phoneNumber: '+14155550123', email: 'ana@example.com' });

  it('puts the keyed identifiers of a user who grants ads_targeting', async () => {
    ddb.on(GetCommand, { TableName: 'test-matchIndex' }).resolves({});
    ddb.on(GetCommand, { TableName: 'test-accounts' }).resolves({ Item: account('granted') });
    ddb.on(PutCommand).resolves({});
    const result = await applyMatchIndex(sqsEvent([sqsRecord(consentChanged(3))]), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [] });
    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item!);
    expect(puts).toEqual([
      { pk: `k#${keys[0]}`, userId: 'u-1', consentVersion: 3 },
      { pk: `k#${keys[1]}`, userId: 'u-1', consentVersion: 3 },
      expect.objectContaining({ pk: 'u#u-1', appliedVersion: 3, keys, rev: 1 }),
    ]);
    expect(JSON.stringify(ddb.calls().map((c) => c.args[0].input))).not.toMatch(/4155550123|ana@example/);
  });

  it('removes the keys of a user who denies it', async () => {
    ddb.on(GetCommand, { TableName: 'test-matchIndex' }).resolves({ Item: { pk: 'u#u-1', appliedVersion: 2, keys, rev: 4 } });
    ddb.on(GetCommand, { TableName: 'test-accounts' }).resolves({ Item: account('denied') });
    ddb.on(DeleteCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    await applyMatchIndex(sqsEvent([sqsRecord(consentChanged(3))]), lambdaContext());
    expect(ddb.commandCalls(DeleteCommand).map((c) => c.args[0].input.Key)).toEqual(keys.map((k) => ({ pk: `k#${k}` })));
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual(
      expect.objectContaining({ Item: expect.objectContaining({ keys: [], appliedVersion: 3, rev: 5 }), ConditionExpression: 'rev = :rev' }),
    );
  });

  it('skips a repeated or older event without reading the account', async () => {
    ddb.on(GetCommand, { TableName: 'test-matchIndex' }).resolves({ Item: { pk: 'u#u-1', appliedVersion: 3, keys, rev: 4 } });
    await applyMatchIndex(sqsEvent([sqsRecord(consentChanged(3)), sqsRecord(consentChanged(2))]), lambdaContext());
    expect(ddb.commandCalls(GetCommand).filter((c) => c.args[0].input.TableName === 'test-accounts')).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('fails only the bad record of a batch', async () => {
    ddb.on(GetCommand, { TableName: 'test-matchIndex' }).resolves({ Item: { pk: 'u#u-1', appliedVersion: 9, keys: [], rev: 1 } });
    const good = sqsRecord(consentChanged(3));
    const bad = sqsRecord('{"type":"ConsentChanged"');
    const alsoBad = sqsRecord({ type: 'Unknown', userId: 'u-1' });
    const result = await applyMatchIndex(sqsEvent([good, bad, alsoBad]), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: bad.messageId }, { itemIdentifier: alsoBad.messageId }] });
  });

  it('starts over on fresh state when a concurrent reconcile of the same user won', async () => {
    ddb.on(GetCommand, { TableName: 'test-matchIndex' }).resolves({ Item: { pk: 'u#u-1', appliedVersion: 2, keys: [], rev: 1 } });
    ddb.on(GetCommand, { TableName: 'test-accounts' }).resolves({ Item: account('denied') });
    ddb
      .on(PutCommand)
      .rejectsOnce(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }))
      .resolves({});
    const record = sqsRecord(consentChanged(3));
    expect(await applyMatchIndex(sqsEvent([record]), lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(2);
  });

  it('fails the record when concurrent reconciles keep winning, so it is retried later', async () => {
    ddb.on(GetCommand, { TableName: 'test-matchIndex', Key: { pk: 'u#u-1' } }).resolves({ Item: { pk: 'u#u-1', appliedVersion: 2, keys: [], rev: 1 } });
    ddb.on(GetCommand, { TableName: 'test-matchIndex', Key: { pk: 'u#u-2' } }).resolves({ Item: { pk: 'u#u-2', appliedVersion: 9, keys: [], rev: 1 } });
    ddb.on(GetCommand, { TableName: 'test-accounts' }).resolves({ Item: account('denied') });
    ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    const record = sqsRecord(consentChanged(3));
    const skipped = sqsRecord(consentChanged(3, 'u-2'));
    expect(await applyMatchIndex(sqsEvent([record, skipped]), lambdaContext())).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    // A batch in which every record fails is thrown, so the whole batch is retried.
    await expect(applyMatchIndex(sqsEvent([record]), lambdaContext())).rejects.toThrow();
  });
});

describe('apply-suggestions', () => {
  it('records whether the user allows friend suggestions, never moving back in version', async () => {
    ddb.on(GetCommand, { TableName: 'test-suggestions' }).resolves({});
    ddb.on(GetCommand, { TableName: 'test-accounts' }).resolves({
      Item: { consentVersion: 3, consentPolicyVersion: 'p1', purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' }, consentUpdatedAt: 't' },
    });
    ddb.on(PutCommand).resolves({});
    await applySuggestions(sqsEvent([sqsRecord(consentChanged(3))]), lambdaContext());
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual(
      expect.objectContaining({
        Item: expect.objectContaining({ userId: 'u-1', allowed: true, appliedVersion: 3 }),
        ConditionExpression: 'attribute_not_exists(userId) OR appliedVersion <= :v',
      }),
    );
  });

  it('skips events at or below the applied version', async () => {
    ddb.on(GetCommand, { TableName: 'test-suggestions' }).resolves({ Item: { userId: 'u-1', allowed: true, appliedVersion: 5 } });
    await applySuggestions(sqsEvent([sqsRecord(consentChanged(5)), sqsRecord(consentChanged(4))]), lambdaContext());
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });
});
