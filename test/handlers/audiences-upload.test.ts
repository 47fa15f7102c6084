import { createHash } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as addUsers } from '../../functions/add-audience-users/handler';
import { handler as removeUsers } from '../../functions/remove-audience-users/handler';
import { ChunkMessage, decodeRows } from '../../functions/core/audiences';
import { matchKey } from '../../functions/core/identifiers';
import { audienceKey } from '../../functions/tables/audiences';
import { batchKey, sessionKey } from '../../functions/tables/upload-sessions';
import { invokeHttp } from '../support/events';

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
afterEach(() => {
  ddb.reset();
  sqs.reset();
});

const pepper = Buffer.from(process.env.LOCAL_PEPPER!, 'utf8');
const AUDIENCE = `aud-${'a'.repeat(32)}`;
const business = { sub: 'b-1', role: 'business' };
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const audienceItem = {
  ...audienceKey('b-1', AUDIENCE),
  businessId: 'b-1',
  audienceId: AUDIENCE,
  name: 'n',
  customerFileSource: 'USER_PROVIDED_ONLY',
  createdAt: 't',
  expiring: {},
  revision: 0,
};

const body = (data: unknown[][], session: Partial<{ id: number; batchSeq: number; lastBatch: boolean }> = {}, schema = ['PHONE_SHA256', 'EMAIL_SHA256']) => ({
  session: { id: 7, batchSeq: 1, lastBatch: false, ...session },
  schema,
  data,
});
const upload = (b: unknown, handler = addUsers) =>
  invokeHttp(handler, { method: 'POST', path: `/v1/audiences/${AUDIENCE}/users`, pathParameters: { id: AUDIENCE }, body: b, claims: business });

/** An audience that exists, a session that does not yet, and writes that succeed. */
function givenFreshSession() {
  ddb.on(GetCommand, { TableName: 'test-audiences', Key: audienceKey('b-1', AUDIENCE) }).resolves({ Item: audienceItem });
  ddb.on(GetCommand, { TableName: 'test-uploadSessions' }).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
}

/** Everything any SDK call was given, as one string. */
const everySdkInput = () => JSON.stringify([...ddb.calls(), ...sqs.calls()].map((c) => c.args[0].input));

describe('POST /v1/audiences/{id}/users', () => {
  it('keys every cell before anything is queued or stored, and answers the receipt', async () => {
    // Prepare
    givenFreshSession();
    const phone = sha('14155550123');
    const email = sha('ana@example.com');
    // Act
    const res = await upload(
      body(
        [
          [phone, email],
          [phone, ''],
          ['', ''],
        ],
        { lastBatch: true },
      ),
    );
    // Assess
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ sessionId: 7, numReceived: 3, numInvalid: 0, invalidSamples: [] });
    const messages = sqs.commandCalls(SendMessageCommand).map((c) => ChunkMessage.parse(JSON.parse(c.args[0].input.MessageBody!)));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toEqual(
      expect.objectContaining({ operation: 'add', businessId: 'b-1', audienceId: AUDIENCE, sessionId: 7, batchSeq: 1, chunk: 0, chunks: 1 }),
    );
    // Grouped by audience on the FIFO queue, with a deduplication id that names this send of this chunk and no content.
    const input = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input.MessageGroupId).toBe(AUDIENCE);
    expect(input.MessageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);
    expect(decodeRows(messages[0]!.rows)).toEqual([
      { phone: matchKey(pepper, 'PHONE', phone), email: matchKey(pepper, 'EMAIL', email) },
      { phone: matchKey(pepper, 'PHONE', phone) },
    ]);
    const everything = everySdkInput();
    for (const cell of [phone, email]) {
      expect(everything).not.toContain(cell);
      expect(everything).not.toContain(Buffer.from(cell, 'hex').toString('base64').slice(0, 16));
    }
    // Recorded once: batch, session (new) and the audience's chunks to match.
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items).toHaveLength(3);
    expect(items[0]!.Put).toEqual(
      expect.objectContaining({
        TableName: 'test-uploadSessions',
        Item: expect.objectContaining({ ...batchKey(AUDIENCE, 7, 1), numReceived: 3, numInvalid: 0, chunkCount: 1, batchDigest: messages[0]!.batchDigest }),
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    );
    expect(items[1]!.Update).toEqual(
      expect.objectContaining({ TableName: 'test-uploadSessions', Key: sessionKey(AUDIENCE, 7), ConditionExpression: 'attribute_not_exists(sk)' }),
    );
    expect(items[2]!.Update).toEqual(expect.objectContaining({ TableName: 'test-audiences', Key: audienceKey('b-1', AUDIENCE) }));
    expect(items[2]!.Update!.ExpressionAttributeValues![':n']).toBe(1);
  });

  it('queues the chunks before recording the batch', async () => {
    givenFreshSession();
    const order: string[] = [];
    sqs.on(SendMessageCommand).callsFake(async () => (order.push('send'), {}));
    ddb.on(TransactWriteCommand).callsFake(async () => (order.push('record'), {}));
    await upload(body([[sha('1'), '']]));
    expect(order).toEqual(['send', 'record']);
  });

  it('counts plain phone numbers and emails as invalid rows and never sends them anywhere', async () => {
    // Prepare
    givenFreshSession();
    const plain = [
      ['+14155550123', 'ana@example.com'],
      ['14155550124', ''],
      ['', 'bob@example.com'],
      ['4155550125', 'ANA@EXAMPLE.COM'],
    ];
    // Act
    const res = await upload(body(plain));
    // Assess
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ sessionId: 7, numReceived: 4, numInvalid: 4, invalidSamples: [0, 1, 2, 3] });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    const everything = everySdkInput() + JSON.stringify(res.json);
    for (const value of ['4155550123', '4155550124', '4155550125', 'ana@', 'bob@', 'ANA@']) expect(everything).not.toContain(value);
  });

  it('accepts a repeated batchSeq once: the same receipt again, nothing queued or written', async () => {
    // Prepare: the batch is recorded
    ddb.on(GetCommand, { TableName: 'test-audiences' }).resolves({ Item: audienceItem });
    ddb.on(GetCommand, { TableName: 'test-uploadSessions', Key: sessionKey(AUDIENCE, 7) }).resolves({
      Item: {
        ...sessionKey(AUDIENCE, 7),
        operation: 'add',
        firstBatchAtMs: 1,
        deadlineAtMs: 1,
        maxSeq: 1,
        lastBatchSeq: 1,
        batchesReceived: 1,
        numReceived: 5,
        numInvalid: 2,
        chunksExpected: 1,
        rev: 1,
      },
    });
    ddb.on(GetCommand, { TableName: 'test-uploadSessions', Key: batchKey(AUDIENCE, 7, 1) }).resolves({
      Item: {
        ...batchKey(AUDIENCE, 7, 1),
        sessionId: 7,
        batchSeq: 1,
        operation: 'add',
        numReceived: 5,
        numInvalid: 2,
        invalidSamples: [1, 3],
        chunkCount: 1,
        batchDigest: 'd',
        uploadedAtMs: 1,
      },
    });
    // Act: even though the session closed long ago (deadline 1 ms after the epoch)
    const res = await upload(body([[sha('x'), '']], { lastBatch: true }));
    // Assess
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ sessionId: 7, numReceived: 5, numInvalid: 2, invalidSamples: [1, 3] });
    expect(sqs.calls()).toHaveLength(0);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('answers the stored receipt when a concurrent attempt recorded the same batch first', async () => {
    // Prepare: the batch is not recorded when read first; the other attempt's record is there once the transaction fails
    givenFreshSession();
    const winner = {
      ...batchKey(AUDIENCE, 7, 1),
      sessionId: 7,
      batchSeq: 1,
      operation: 'add',
      numReceived: 1,
      numInvalid: 0,
      invalidSamples: [],
      chunkCount: 1,
      batchDigest: 'd',
      uploadedAtMs: 1,
    };
    let batchReads = 0;
    ddb.on(GetCommand, { TableName: 'test-uploadSessions', Key: batchKey(AUDIENCE, 7, 1) }).callsFake(async () => (++batchReads === 1 ? {} : { Item: winner }));
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'x',
        $metadata: {},
        CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'None' }],
      }),
    );
    // Act
    const res = await upload(body([[sha('x'), '']]));
    // Assess
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ sessionId: 7, numReceived: 1, numInvalid: 0, invalidSamples: [] });
    expect(batchReads).toBe(2);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it('answers 500 if recording fails after queueing; the retry queues and records again (the matcher drops unrecorded chunks)', async () => {
    // Prepare
    givenFreshSession();
    ddb.on(TransactWriteCommand).rejectsOnce(new Error('network')).resolves({});
    // Act
    const first = await upload(body([[sha('x'), '']]));
    const retry = await upload(body([[sha('x'), '']]));
    // Assess
    expect(first.status).toBe(500);
    expect(retry.status).toBe(202);
    const digests = sqs.commandCalls(SendMessageCommand).map((c) => JSON.parse(c.args[0].input.MessageBody!).batchDigest);
    expect(digests).toHaveLength(2);
    expect(digests[0]).toBe(digests[1]); // same content, same keys: the matcher applies it once
    // Not the same send, so SQS does not drop the retry's chunk as a duplicate of the first.
    const dedup = sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input.MessageDeduplicationId);
    expect(new Set(dedup).size).toBe(2);
  });

  it('answers 413 for more than 10,000 rows, reading and writing nothing', async () => {
    const res = await upload(
      body(
        Array.from({ length: 10_001 }, () => ['']),
        {},
        ['PHONE_SHA256'],
      ),
    );
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(ddb.calls()).toHaveLength(0);
    expect(sqs.calls()).toHaveLength(0);
  });

  it('answers 413 for more than 10,000 rows even when the rows are not valid either', async () => {
    const res = await upload(body(Array.from({ length: 10_001 }, () => [1, 2, 3])));
    expect(res.status).toBe(413);
    expect(res.json).toEqual(expect.objectContaining({ detail: expect.stringContaining('at most 10000 rows') }));
    expect(ddb.calls()).toHaveLength(0);
  });

  it('answers 400 with a bounded problem document for one row of 125,000 non-string cells', async () => {
    const res = await upload(body([Array.from({ length: 125_000 }, () => 1)]));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json.errors).toEqual([expect.objectContaining({ path: 'data.0' })]);
    expect(ddb.calls()).toHaveLength(0);
    expect(sqs.calls()).toHaveLength(0);
  });

  it('lists at most 20 field errors, counts the rest, and echoes no cell', async () => {
    const cell = '+14155550123';
    // 700 cells over 1,024 characters and 7,000 rows of two numbers: 14,700 problems in a body under 1 MiB.
    const res = await upload(body(Array.from({ length: 7_700 }, (_, i) => (i < 700 ? [cell.repeat(90), ''] : [1, 2]))));
    expect(res.status).toBe(400);
    expect(res.json.errors).toHaveLength(20);
    expect(res.json.detail).toBe('The body is not valid. 14700 problems were found; the first 20 are listed.');
    expect(JSON.stringify(res.json).length).toBeLessThan(4096);
    expect(JSON.stringify(res.json)).not.toContain('4155550123');
  });

  it('counts rows of the wrong width or with plain values as invalid, but refuses rows wider than any schema', async () => {
    givenFreshSession();
    const counted = await upload(body([[sha('a')], ['not a hash', ''], [sha('b'), sha('c')]]));
    expect(counted.status).toBe(202);
    expect(counted.json).toEqual(expect.objectContaining({ numReceived: 3, numInvalid: 2, invalidSamples: [0, 1] }));
    const wide = await upload(body([[sha('a'), '', '']]));
    expect(wide.status).toBe(400);
    expect(wide.json.errors).toEqual([expect.objectContaining({ path: 'data.0' })]);
  });

  it('accepts exactly 10,000 rows and splits them into messages under the SQS limit', async () => {
    givenFreshSession();
    const data = Array.from({ length: 10_000 }, (_, i) => [sha(`p${i}`)]);
    const res = await upload(body(data, {}, ['PHONE_SHA256']));
    expect(res.status).toBe(202);
    const sizes = sqs.commandCalls(SendMessageCommand).map((c) => Buffer.byteLength(c.args[0].input.MessageBody!));
    expect(sizes.length).toBeGreaterThan(1);
    for (const size of sizes) expect(size).toBeLessThan(256 * 1024);
    const rows = sqs.commandCalls(SendMessageCommand).flatMap((c) => decodeRows(JSON.parse(c.args[0].input.MessageBody!).rows));
    expect(rows).toHaveLength(10_000);
  });

  it('answers 400 for a repeated or unknown schema key and for a cell that is not a string, echoing no value', async () => {
    for (const bad of [
      body([['a', 'b']], {}, ['PHONE_SHA256', 'PHONE_SHA256']),
      body([['a']], {}, ['PHONE']),
      { ...body([]), schema: [] },
      body([[14155550123 as unknown as string]], {}, ['PHONE_SHA256']),
      { session: { id: 1, batchSeq: 0, lastBatch: false }, schema: ['PHONE_SHA256'], data: [] },
    ]) {
      const res = await upload(bad);
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.json)).not.toContain('14155550123');
    }
    expect(ddb.calls()).toHaveLength(0);
  });

  it("answers 404 for another business's audience, a deleted one and a malformed id", async () => {
    ddb.on(GetCommand, { TableName: 'test-audiences', Key: audienceKey('b-1', AUDIENCE) }).resolves({});
    expect((await upload(body([[sha('x'), '']]))).status).toBe(404);
    ddb.on(GetCommand, { TableName: 'test-audiences', Key: audienceKey('b-1', AUDIENCE) }).resolves({ Item: { ...audienceItem, deletedAt: 't' } });
    expect((await upload(body([[sha('x'), '']]))).status).toBe(404);
    const malformed = await invokeHttp(addUsers, { method: 'POST', pathParameters: { id: '../aud' }, body: body([[sha('x'), '']]), claims: business });
    expect(malformed.status).toBe(404);
    expect(sqs.calls()).toHaveLength(0);
  });

  it('answers 409 for a batch to a closed session and for the other operation', async () => {
    ddb.on(GetCommand, { TableName: 'test-audiences' }).resolves({ Item: audienceItem });
    ddb.on(GetCommand, { TableName: 'test-uploadSessions', Key: sessionKey(AUDIENCE, 7) }).resolves({
      Item: {
        ...sessionKey(AUDIENCE, 7),
        operation: 'add',
        firstBatchAtMs: 0,
        deadlineAtMs: 8_000_000_000_000,
        maxSeq: 1,
        lastBatchSeq: 1,
        batchesReceived: 1,
        numReceived: 1,
        numInvalid: 0,
        chunksExpected: 1,
        rev: 1,
      },
    });
    ddb.on(GetCommand, { TableName: 'test-uploadSessions', Key: batchKey(AUDIENCE, 7, 2) }).resolves({});
    const closed = await upload(body([[sha('x'), '']], { batchSeq: 2 }));
    expect(closed.status).toBe(409);
    expect(closed.json.type).toBe('/problems/session-closed');
    const other = await upload(body([[sha('x'), '']], { batchSeq: 2 }), removeUsers);
    expect(other.status).toBe(409);
    expect(other.json.type).toBe('/problems/session-operation-mismatch');
    expect(sqs.calls()).toHaveLength(0);
  });

  it('is for businesses only', async () => {
    const res = await invokeHttp(addUsers, { method: 'POST', pathParameters: { id: AUDIENCE }, body: body([]), claims: { sub: 'u-1', role: 'user' } });
    expect(res.status).toBe(403);
  });
});
