/**
 * `POST /_local/settle` (local stack only) waits until the stack's background
 * work is done: stream records and queue messages handed to their functions,
 * and whatever those set off in turn. On a private stack, because it injects
 * faults.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { startStack, tableName, type PrivateStack } from './support';
import { createUser } from './support/users';
import { appliedKey } from '../../functions/tables/match-index';

jest.setTimeout(120_000);

let stack: PrivateStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

async function matchIndexEntry(userId: string): Promise<unknown> {
  const { ddb } = await stack.clients();
  return (await ddb.send(new GetCommand({ TableName: tableName('matchIndex'), Key: appliedKey(userId), ConsistentRead: true }))).Item;
}

it('answers, after its quiet period, when nothing is going on', async () => {
  const response = await stack.api('POST', '/_local/settle');
  expect({ status: response.status, json: response.json }).toEqual({ status: 200, json: { settled: true } });
});

it('returns once a consent decision has gone through the ledger stream, SNS and SQS into the match index', async () => {
  const user = await createUser({ baseUrl: stack.url, ads: 'granted' });
  expect((await stack.api('POST', '/_local/settle')).status).toBe(200);
  expect(await matchIndexEntry(user.userId)).toEqual(expect.objectContaining({ pk: appliedKey(user.userId).pk }));
});

it('answers 503 while a consumer keeps failing, and settles once it recovers', async () => {
  expect((await stack.api('POST', '/_local/faults', { body: { function: 'applyMatchIndex', failInvocations: 1000 } })).status).toBe(200);
  const user = await createUser({ baseUrl: stack.url, ads: 'granted' });

  const stuck = await stack.api('POST', '/_local/settle', { body: { timeoutSeconds: 2 } });
  expect(stuck.status).toBe(503);
  expect(stuck.json).toMatchObject({ type: '/problems/not-settled', status: 503, detail: expect.stringContaining('after 2 s') });
  expect(await matchIndexEntry(user.userId)).toBeUndefined();

  expect((await stack.api('DELETE', '/_local/faults')).status).toBe(200);
  expect((await stack.api('POST', '/_local/settle')).status).toBe(200);
  expect(await matchIndexEntry(user.userId)).toEqual(expect.objectContaining({ pk: appliedKey(user.userId).pk }));
});

it('rejects a timeout it cannot honour', async () => {
  const response = await stack.api('POST', '/_local/settle', { body: { timeoutSeconds: 0 } });
  expect(response.status).toBe(400);
});
