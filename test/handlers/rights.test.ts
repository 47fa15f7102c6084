import { DeleteCommand, DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as eraseMe } from '../../functions/erase-me/handler';
import { handler as eraseMessages } from '../../functions/erase-messages/handler';
import { invokeHttp, lambdaContext, sqsEvent, sqsRecord } from '../support/events';

const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => ddb.reset());

describe('DELETE /v1/me', () => {
  it('removes phone and email, releases their claims and puts AccountErased in the outbox, in one transaction', async () => {
    // Prepare
    ddb.on(GetCommand).resolves({ Item: { pk: 'user#u-1', phoneNumber: '+14155550123', email: 'ana@example.com', consentVersion: 2 } });
    ddb.on(TransactWriteCommand).resolves({});
    // Act
    const res = await invokeHttp(eraseMe, { method: 'DELETE' });
    // Assess
    expect(res.status).toBe(202);
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items[0]!.Update).toEqual(
      expect.objectContaining({
        Key: { pk: 'user#u-1' },
        UpdateExpression: expect.stringContaining('REMOVE phoneNumber, email'),
        ConditionExpression: 'phoneNumber = :phoneNumber AND email = :email',
      }),
    );
    expect(items[1]!.Delete!.Key).toEqual({ pk: 'phone#+14155550123' });
    expect(items[2]!.Delete!.Key).toEqual({ pk: 'email#ana@example.com' });
    expect(items[3]!.Put).toEqual(expect.objectContaining({ TableName: 'test-ledger', Item: expect.objectContaining({ eventType: 'AccountErased' }) }));
    expect(JSON.stringify(items[3])).not.toMatch(/4155550123|ana@/);
  });

  it('erases an account that never bound anything, still telling the consumers', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    expect((await invokeHttp(eraseMe, { method: 'DELETE' })).status).toBe(202);
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items).toHaveLength(2);
    expect(items[0]!.Update!.ConditionExpression).toBe('attribute_not_exists(phoneNumber) AND attribute_not_exists(email)');
  });
});

describe('erase-messages', () => {
  it('marks each pending message expired for its sender before deleting it', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ messageId: 'm-1' }, { messageId: 'm-2' }] });
    ddb.on(UpdateCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});
    const event = { type: 'AccountErased', eventId: 'e-1', userId: 'u-1', occurredAt: 't' };
    expect(await eraseMessages(sqsEvent([sqsRecord(event)]), lambdaContext())).toEqual({ batchItemFailures: [] });
    const order = ddb.calls().map((c) => c.args[0].constructor.name);
    expect(order).toEqual(['QueryCommand', 'UpdateCommand', 'DeleteCommand', 'UpdateCommand', 'DeleteCommand']);
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeValues).toEqual(expect.objectContaining({ ':s': 'expired' }));
    expect(ddb.commandCalls(DeleteCommand).map((c) => c.args[0].input.Key)).toEqual([
      { recipientId: 'u-1', messageId: 'm-1' },
      { recipientId: 'u-1', messageId: 'm-2' },
    ]);
  });
});
