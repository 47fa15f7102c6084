import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as getStatus } from '../../functions/get-message-status/handler';
import { handler as trackStatus } from '../../functions/track-message-status/handler';
import { EXPIRY_GRACE_SECONDS, messageIdFactory } from '../../functions/core/messages';
import { statusKey } from '../../functions/tables/message-status';
import { invokeHttp, lambdaContext, streamEvent, streamRecord } from '../support/events';

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
afterEach(() => {
  ddb.reset();
  sqs.reset();
  jest.restoreAllMocks();
});

const ACCEPTED = Date.UTC(2026, 10, 25, 12, 0, 0);
const EXPIRES = ACCEPTED / 1000 + 2_592_000;
const messageId = messageIdFactory()(ACCEPTED);
const record = (overrides: Record<string, unknown> = {}) => ({
  ...statusKey(messageId),
  messageId,
  businessId: 'b-1',
  recipientId: 'u-9',
  status: 'accepted',
  acceptedAt: '2026-11-25T12:00:00Z',
  messageExpiresAt: EXPIRES,
  updatedAt: '2026-11-25T12:00:00Z',
  expiresAt: EXPIRES + 90 * 86_400,
  ...overrides,
});
const at = (epochSeconds: number) => jest.spyOn(Date, 'now').mockReturnValue(epochSeconds * 1000);

describe('GET /v1/messages/{id}', () => {
  const get = (id: string, claims: Record<string, string> = { sub: 'b-1', role: 'business' }) =>
    invokeHttp(getStatus, { path: `/v1/messages/${id}`, pathParameters: { id }, claims });

  it("shows the sender its message's status, no content", async () => {
    // Prepare
    at(ACCEPTED / 1000 + 60);
    ddb.on(GetCommand, { TableName: 'test-messageStatus' }).resolves({ Item: record() });
    // Act
    const res = await get(messageId);
    // Assess
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      messageId,
      status: 'accepted',
      acceptedAt: '2026-11-25T12:00:00Z',
      expiresAt: '2026-12-25T12:00:00Z',
      updatedAt: '2026-11-25T12:00:00Z',
    });
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toEqual(expect.objectContaining({ Key: statusKey(messageId), ConsistentRead: true }));
    expect(ddb.commandCalls(GetCommand, { TableName: 'test-messages' })).toHaveLength(0);
  });

  it('shows a final status as recorded', async () => {
    at(EXPIRES + 86_400);
    ddb.on(GetCommand, { TableName: 'test-messageStatus' }).resolves({ Item: record({ status: 'delivered', updatedAt: '2026-12-01T00:00:00Z' }) });
    const res = await get(messageId);
    expect(res.json).toEqual(expect.objectContaining({ status: 'delivered', updatedAt: '2026-12-01T00:00:00Z' }));
    expect(ddb.commandCalls(GetCommand, { TableName: 'test-messages' })).toHaveLength(0);
  });

  it('answers another business exactly as for a message that does not exist', async () => {
    ddb.on(GetCommand, { TableName: 'test-messageStatus', Key: statusKey(messageId) }).resolves({ Item: record() });
    ddb.on(GetCommand, { TableName: 'test-messageStatus' }).resolves({});
    const foreign = await get(messageId, { sub: 'b-2', role: 'business' });
    const missing = await get('01KAZZZZZZZZZZZZZZZZZZZZZZ', { sub: 'b-2', role: 'business' });
    expect(foreign.status).toBe(404);
    expect(foreign).toEqual(missing);
  });

  it('answers 404 without a read for an id that cannot be a message id, and 400 for one that is no id at all', async () => {
    expect((await get('not-a-message-id')).status).toBe(404);
    expect(ddb.calls()).toHaveLength(0);
    expect((await get('a'.repeat(200))).status).toBe(400);
  });

  it('shows an accepted message past expiry (and the grace) that is still stored as expired since expiresAt', async () => {
    at(EXPIRES + EXPIRY_GRACE_SECONDS);
    ddb.on(GetCommand, { TableName: 'test-messageStatus' }).resolves({ Item: record() });
    ddb.on(GetCommand, { TableName: 'test-messages' }).resolves({ Item: { messageId } });
    const res = await get(messageId);
    expect(res.json).toEqual(expect.objectContaining({ status: 'expired', updatedAt: '2026-12-25T12:00:00Z' }));
    expect(ddb.commandCalls(GetCommand, { TableName: 'test-messages' })[0]!.args[0].input).toEqual(
      expect.objectContaining({ Key: { recipientId: 'u-9', messageId }, ProjectionExpression: 'messageId' }),
    );
  });

  it('keeps showing accepted when the message already left the store but the stream has not said why', async () => {
    at(EXPIRES + 3600);
    ddb.on(GetCommand, { TableName: 'test-messageStatus' }).resolves({ Item: record() });
    ddb.on(GetCommand, { TableName: 'test-messages' }).resolves({});
    const res = await get(messageId);
    expect(res.json).toEqual(expect.objectContaining({ status: 'accepted' }));
  });

  it('is for businesses only', async () => {
    expect((await get(messageId, { sub: 'u-9', role: 'user' })).status).toBe(403);
  });
});

describe('track-message-status (messages stream)', () => {
  const TTL = { type: 'Service', principalId: 'dynamodb.amazonaws.com' };
  const keys = (id = messageId) => ({ recipientId: 'u-9', messageId: id });
  beforeEach(() => {
    // After the update the status is read back (for the sender's webhook); the business has none unless a test says so.
    ddb.on(GetCommand, { TableName: 'test-messageStatus' }).resolves({ Item: record() });
    ddb.on(GetCommand, { TableName: 'test-webhooks' }).resolves({});
  });

  it('makes a removal by the TTL process expired, and any other removal delivered, only from accepted', async () => {
    // Prepare
    ddb.on(UpdateCommand).resolves({});
    const other = messageIdFactory()(ACCEPTED + 5);
    // Act
    const result = await trackStatus(
      streamEvent([streamRecord('REMOVE', { keys: keys() }, TTL), streamRecord('REMOVE', { keys: keys(other) })]),
      lambdaContext(),
    );
    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    const inputs = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(inputs).toEqual([
      expect.objectContaining({
        TableName: 'test-messageStatus',
        Key: statusKey(messageId),
        UpdateExpression: 'SET #s = :s, updatedAt = :now',
        ConditionExpression: '#s IN (:from0)',
        ExpressionAttributeValues: expect.objectContaining({ ':s': 'expired', ':from0': 'accepted' }),
      }),
      expect.objectContaining({ Key: statusKey(other), ExpressionAttributeValues: expect.objectContaining({ ':s': 'delivered' }) }),
    ]);
  });

  it('leaves a final status alone (the record is a repeat, or arrived late): no failure', async () => {
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    const result = await trackStatus(streamEvent([streamRecord('REMOVE', { keys: keys() })]), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [] });
  });

  it("announces the final status to the sender's webhook: ids, status and time only, the same event id when the record comes again", async () => {
    // Prepare
    at(EXPIRES + 86_400);
    ddb
      .on(UpdateCommand)
      .resolvesOnce({})
      .rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    ddb.on(GetCommand, { TableName: 'test-messageStatus' }).resolves({ Item: record({ status: 'expired', updatedAt: '2026-12-26T12:00:00Z' }) });
    ddb.on(GetCommand, { TableName: 'test-webhooks' }).resolves({ Item: { pk: 'x' } });
    sqs.on(SendMessageCommand).resolves({});
    // Act: the TTL removal, then the same record again
    await trackStatus(streamEvent([streamRecord('REMOVE', { keys: keys() }, TTL)]), lambdaContext());
    await trackStatus(streamEvent([streamRecord('REMOVE', { keys: keys() }, TTL)]), lambdaContext());
    // Assess
    const sent = sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(sent).toHaveLength(2);
    const [first, second] = sent.map((input) => JSON.parse(input.MessageBody!));
    expect(sent[0]!.QueueUrl).toBe('https://sqs.us-east-1.amazonaws.com/123456789012/test-webhookDeliveries');
    expect(first).toEqual({
      businessId: 'b-1',
      attempt: 1,
      event: {
        id: expect.stringMatching(/^evt_[0-9a-f]{32}$/),
        type: 'message.status',
        createdAt: expect.any(String),
        data: { messageId, status: 'expired', at: '2026-12-25T12:00:00Z' },
      },
    });
    expect(second.event.id).toBe(first.event.id);
  });

  it("announces nothing for a removal whose status was already final otherwise (an erased account's pending message)", async () => {
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    ddb.on(GetCommand, { TableName: 'test-messageStatus' }).resolves({ Item: record({ status: 'expired' }) });
    ddb.on(GetCommand, { TableName: 'test-webhooks' }).resolves({ Item: { pk: 'x' } });
    // An acknowledgement-like removal (no TTL principal): it would be `delivered`, but the message is expired already.
    await trackStatus(streamEvent([streamRecord('REMOVE', { keys: keys() })]), lambdaContext());
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('ignores inserts and modifications', async () => {
    const item = { ...keys(), businessId: 'b-1', ciphertext: 'QUJD', expiresAt: EXPIRES };
    await trackStatus(
      streamEvent([streamRecord('INSERT', { keys: keys(), newImage: item }), streamRecord('MODIFY', { keys: keys(), newImage: item, oldImage: item })]),
      lambdaContext(),
    );
    expect(ddb.calls()).toHaveLength(0);
  });

  it('reports the record whose update failed so the stream retries from it', async () => {
    const ids = [1, 2, 3].map((i) => messageIdFactory()(ACCEPTED + i));
    ddb.on(UpdateCommand).resolvesOnce({}).rejectsOnce(new Error('throttled')).resolves({});
    const records = ids.map((id) => streamRecord('REMOVE', { keys: keys(id) }));
    const result = await trackStatus(streamEvent(records), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: records[1]!.dynamodb!.SequenceNumber }] });
  });
});
