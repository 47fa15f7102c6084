import { DeleteCommand, DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as eraseMe } from '../../functions/erase-me/handler';
import { handler as eraseMessages } from '../../functions/erase-messages/handler';
import { stateKey } from '../../functions/tables/consent-states';
import { claimKey, identityKey } from '../../functions/tables/identities';
import { messageKey } from '../../functions/tables/messages';
import { blockKey, recipientKeyKey } from '../../functions/tables/recipients';
import { invokeHttp, lambdaContext, sqsEvent, sqsRecord } from '../support/events';

const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => ddb.reset());

describe('DELETE /v1/me', () => {
  it('removes phone and email, releases their claims, marks the account erased and puts AccountErased in the outbox, in one transaction', async () => {
    // Prepare
    ddb
      .on(GetCommand, { TableName: 'test-identities', Key: identityKey('u-1') })
      .resolves({ Item: { ...identityKey('u-1'), phoneNumber: '+14155550123', email: 'ana@example.com' } });
    ddb.on(TransactWriteCommand).resolves({});
    // Act
    const res = await invokeHttp(eraseMe, { method: 'DELETE' });
    // Assess
    expect(res.status).toBe(202);
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items).toHaveLength(5);
    expect(items[0]!.Update).toEqual(
      expect.objectContaining({
        TableName: 'test-identities',
        Key: identityKey('u-1'),
        UpdateExpression: expect.stringContaining('REMOVE phoneNumber, email'),
        ConditionExpression: 'phoneNumber = :phoneNumber AND email = :email',
      }),
    );
    expect(items[1]!.Delete).toEqual(expect.objectContaining({ TableName: 'test-identities', Key: claimKey('phoneNumber', '+14155550123') }));
    expect(items[2]!.Delete).toEqual(expect.objectContaining({ TableName: 'test-identities', Key: claimKey('email', 'ana@example.com') }));
    expect(items[3]!.Update).toEqual(
      expect.objectContaining({ TableName: 'test-consentStates', Key: stateKey('u-1'), UpdateExpression: expect.stringContaining('erasedAt = :now') }),
    );
    expect(items[4]!.Put).toEqual(expect.objectContaining({ TableName: 'test-ledger', Item: expect.objectContaining({ eventType: 'AccountErased' }) }));
    // Only the identity table's items may name the identifiers.
    expect(JSON.stringify(items.slice(3))).not.toMatch(/4155550123|ana@/);
  });

  it('erases an account that never bound anything, still marking it erased and telling the consumers', async () => {
    ddb.on(GetCommand, { TableName: 'test-identities', Key: identityKey('u-1') }).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    expect((await invokeHttp(eraseMe, { method: 'DELETE' })).status).toBe(202);
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items.map((i) => Object.values(i)[0]!.TableName)).toEqual(['test-identities', 'test-consentStates', 'test-ledger']);
    expect(items[0]!.Update!.ConditionExpression).toBe('attribute_not_exists(phoneNumber) AND attribute_not_exists(email)');
    expect(items[2]!.Put!.Item).toEqual(expect.objectContaining({ userId: 'u-1', eventType: 'AccountErased' }));
  });
});

describe('erase-messages', () => {
  const erasedAt = '2026-11-25T12:00:00.250Z';
  const event = { type: 'AccountErased', eventId: 'e-1', userId: 'u-1', occurredAt: erasedAt };

  it('withholds the pending messages accepted by the erasure (their content deleted by an update, never a removal), then deletes the key and blocks made by then', async () => {
    // Prepare
    ddb.on(QueryCommand, { TableName: 'test-messages' }).resolves({ Items: [{ messageId: 'm-1' }, { messageId: 'm-2' }] });
    ddb.on(UpdateCommand, { TableName: 'test-messages' }).resolves({});
    ddb.on(DeleteCommand, { TableName: 'test-recipients' }).resolves({});
    ddb.on(QueryCommand, { TableName: 'test-recipients' }).resolves({
      Items: [
        { ...blockKey('u-1', 'b-early'), businessId: 'b-early', blockedAt: '2026-11-20T00:00:00.000Z' },
        { ...blockKey('u-1', 'b-late'), businessId: 'b-late', blockedAt: '2026-11-25T12:00:01.000Z' },
      ],
    });
    // Act
    const result = await eraseMessages(sqsEvent([sqsRecord(event)]), lambdaContext());
    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    const query = ddb.commandCalls(QueryCommand, { TableName: 'test-messages' })[0]!.args[0].input;
    expect(query.FilterExpression).toBe('acceptedAt <= :at AND attribute_not_exists(withheld)');
    expect(query.ExpressionAttributeValues).toEqual({ ':r': 'u-1', ':at': '2026-11-25T12:00:00Z' });
    const updates = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(updates.map((u) => u.Key)).toEqual([messageKey('u-1', 'm-1'), messageKey('u-1', 'm-2')]);
    expect(updates[0]).toEqual(
      expect.objectContaining({
        UpdateExpression: 'SET withheld = :reason REMOVE ciphertext, category, keyId',
        ConditionExpression: 'attribute_exists(messageId) AND attribute_not_exists(withheld)',
        ExpressionAttributeValues: { ':reason': 'erased' },
      }),
    );
    // Nothing is removed from the messages table (a removal would read as a delivery), nor written to the status table.
    expect(ddb.commandCalls(DeleteCommand, { TableName: 'test-messages' })).toHaveLength(0);
    expect(ddb.calls().filter((c) => JSON.stringify(c.args[0].input).includes('test-messageStatus'))).toHaveLength(0);
    const deletes = ddb.commandCalls(DeleteCommand, { TableName: 'test-recipients' }).map((c) => c.args[0].input);
    expect(deletes.map((d) => d.Key)).toEqual([recipientKeyKey('u-1'), blockKey('u-1', 'b-early')]);
    expect(deletes[0]).toEqual(
      expect.objectContaining({ ConditionExpression: 'attribute_exists(keyId) AND createdAt <= :at', ExpressionAttributeValues: { ':at': erasedAt } }),
    );
  });

  it('finds nothing left to do when the event comes again', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(DeleteCommand, { TableName: 'test-recipients' }).rejects(Object.assign(new Error('failed'), { name: 'ConditionalCheckFailedException' }));
    const result = await eraseMessages(sqsEvent([sqsRecord(event)]), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [] });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });
});
