import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { isConditionFailure, part, transact, TransactionCancelled } from '../../functions/tables/dynamo';

const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => ddb.reset());

const put = (name: string) => part(name, { Put: { TableName: 'test-things', Item: { pk: name } } });
const cancelled = (codes: string[]) =>
  new TransactionCanceledException({ message: 'cancelled', $metadata: {}, CancellationReasons: codes.map((Code) => ({ Code })) });

/** What `transact` threw, for a closer look. */
async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the transaction to fail');
}

describe('transact', () => {
  it('writes the present parts in order, in one transaction, leaving out absent ones', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).resolves({});
    // Act
    await transact([put('a'), undefined, put('b'), false, put('c')]);
    // Assess
    const calls = ddb.commandCalls(TransactWriteCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input.TransactItems).toEqual([put('a').item, put('b').item, put('c').item]);
  });

  it('names the parts whose condition failed, counting reasons over the present parts only', async () => {
    // Prepare: `b` is the second part written, though the third given
    const original = cancelled(['None', 'ConditionalCheckFailed', 'None']);
    ddb.on(TransactWriteCommand).rejects(original);
    // Act
    const error = await failureOf(transact([put('a'), undefined, put('b'), put('c')]));
    // Assess
    expect(error).toBeInstanceOf(TransactionCancelled);
    const cancellation = error as TransactionCancelled;
    expect([...cancellation.failed]).toEqual(['b']);
    expect(cancellation.failedOn('b')).toBe(true);
    expect(cancellation.failedOn('a', 'c')).toBe(false);
    expect(cancellation.failedOn('a', 'b')).toBe(true);
    expect(cancellation.conflicted).toBe(false);
    expect(cancellation.cause).toBe(original);
    expect(cancellation.message).toContain('b');
  });

  it('names every part whose condition failed', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None', 'ConditionalCheckFailed']));
    const error = (await failureOf(transact([put('a'), put('b'), put('c')]))) as TransactionCancelled;
    expect([...error.failed].sort()).toEqual(['a', 'c']);
  });

  it('says when another transaction conflicted, with no part failed', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled(['None', 'TransactionConflict']));
    const error = (await failureOf(transact([put('a'), put('b')]))) as TransactionCancelled;
    expect(error).toBeInstanceOf(TransactionCancelled);
    expect(error.conflicted).toBe(true);
    expect(error.failed.size).toBe(0);
    expect(error.failedOn('a', 'b')).toBe(false);
  });

  it('reads a cancellation without reasons as nothing failed and no conflict', async () => {
    ddb.on(TransactWriteCommand).rejects(new TransactionCanceledException({ message: 'cancelled', $metadata: {} }));
    const error = (await failureOf(transact([put('a')]))) as TransactionCancelled;
    expect(error).toBeInstanceOf(TransactionCancelled);
    expect(error.failed.size).toBe(0);
    expect(error.conflicted).toBe(false);
  });

  it('recognises a cancellation by its name, as errors from another copy of the SDK carry it', async () => {
    const foreign = Object.assign(new Error('cancelled'), { name: 'TransactionCanceledException', CancellationReasons: [{ Code: 'ConditionalCheckFailed' }] });
    ddb.on(TransactWriteCommand).rejects(foreign);
    const error = (await failureOf(transact([put('a')]))) as TransactionCancelled;
    expect(error).toBeInstanceOf(TransactionCancelled);
    expect(error.failedOn('a')).toBe(true);
  });

  it('rethrows any other error as it is', async () => {
    for (const original of [new Error('network'), new ConditionalCheckFailedException({ message: 'no', $metadata: {} })]) {
      ddb.reset();
      ddb.on(TransactWriteCommand).rejects(original);
      await expect(transact([put('a')])).rejects.toBe(original);
    }
  });
});

describe('isConditionFailure', () => {
  it('is true for a failed condition only', () => {
    expect(isConditionFailure(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }))).toBe(true);
    expect(isConditionFailure(cancelled(['ConditionalCheckFailed']))).toBe(false);
    expect(isConditionFailure(new Error('network'))).toBe(false);
    expect(isConditionFailure(undefined)).toBe(false);
  });
});
