/**
 * Helpers of the custom-audience integration tests, over the shared local
 * stack or a private one (test/integration/support is the local runtime's).
 */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, paginateScan } from '@aws-sdk/lib-dynamodb';
import { ListQueuesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { api, awsClients, eventually, newId, tableName, tokenFor } from './support';
import type { ApiResponse } from './support';
import { createUser, emailHash, ensurePolicy, mapLimit, phoneHash } from './support/users';
import type { TestUser, UserOptions } from './support/users';
import { appliedKey } from '../../functions/tables/match-index';

export interface Business {
  readonly sub: string;
  readonly token: string;
}

export interface Stack {
  readonly baseUrl?: string;
}

export async function newBusiness(stack: Stack = {}): Promise<Business> {
  const sub = newId('biz');
  return { sub, token: await tokenFor('business', sub, stack.baseUrl) };
}

export const call = <T = Record<string, unknown>>(stack: Stack, method: string, path: string, token: string, body?: unknown): Promise<ApiResponse<T>> =>
  api<T>(method, path, { token, ...(body !== undefined ? { body } : {}), ...(stack.baseUrl ? { baseUrl: stack.baseUrl } : {}) });

export async function createAudience(stack: Stack, business: Business, name = 'Flower shop mailing list'): Promise<string> {
  const res = await call(stack, 'POST', '/v1/audiences', business.token, { name, customerFileSource: 'USER_PROVIDED_ONLY' });
  if (res.status !== 201) throw new Error(`POST /v1/audiences answered ${res.status}: ${res.text}`);
  return res.json.id as string;
}

export interface Person extends TestUser {
  readonly phoneNumber: string;
  readonly email: string;
}

/** Users with a phone and an email and a recorded ads-targeting decision, created 12 at a time. */
export async function createPeople(stack: Stack, count: number, ads: 'granted' | 'denied'): Promise<Person[]> {
  const policyVersion = await ensurePolicy(stack.baseUrl);
  const options: UserOptions = { phone: true, email: true, ads, policyVersion, ...(stack.baseUrl ? { baseUrl: stack.baseUrl } : {}) };
  return mapLimit(Array.from({ length: count }), 12, async () => (await createUser(options)) as Person);
}

/** The contract's row of a person: [PHONE_SHA256, EMAIL_SHA256]. */
export const rowOf = (p: { phoneNumber: string; email: string }): [string, string] => [phoneHash(p.phoneNumber), emailHash(p.email)];

let strangerCounter = 0;
/** A row of hashes of identifiers nobody has. */
export const strangerRow = (): [string, string] => {
  strangerCounter += 1;
  const tag = newId(`stranger${strangerCounter}`);
  return [phoneHash(`+1999${tag}`), emailHash(`${tag}@nowhere.example`)];
};

export interface Batch {
  readonly sessionId: number;
  readonly batchSeq?: number;
  readonly lastBatch?: boolean;
  readonly rows: readonly (readonly string[])[];
  readonly schema?: readonly string[];
  readonly operation?: 'add' | 'remove';
}

export const upload = (stack: Stack, business: Business, audienceId: string, batch: Batch) =>
  call(stack, batch.operation === 'remove' ? 'DELETE' : 'POST', `/v1/audiences/${audienceId}/users`, business.token, {
    session: { id: batch.sessionId, batchSeq: batch.batchSeq ?? 1, lastBatch: batch.lastBatch ?? true, estimatedTotal: batch.rows.length },
    schema: batch.schema ?? ['PHONE_SHA256', 'EMAIL_SHA256'],
    data: batch.rows,
  });

let sessionCounter = Math.floor(Math.random() * 1_000_000);
export const newSessionId = (): number => ++sessionCounter;

export async function waitForSession(stack: Stack, business: Business, audienceId: string, sessionId: number, stage = 'done') {
  return eventually(
    async () => {
      const res = await call(stack, 'GET', `/v1/audiences/${audienceId}/sessions/${sessionId}`, business.token);
      expect(res.json.stage).toBe(stage);
      return res.json;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

export async function getAudience(stack: Stack, business: Business, audienceId: string) {
  // Read after a count was made: the range and targetability of a counted audience (null before the first count).
  return call<{ status: string; approximateCount: { lower: number; upper: number }; targetable: boolean; countedAt: string | null; nextCountAt: string }>(
    stack,
    'GET',
    `/v1/audiences/${audienceId}`,
    business.token,
  );
}

const operatorTokens = new Map<string, Promise<string>>();

/** The ops lookup, as ad delivery calls it. */
export async function audiencesOf(stack: Stack, userId: string): Promise<{ audienceId: string; businessId: string }[]> {
  const key = stack.baseUrl ?? '';
  if (!operatorTokens.has(key)) operatorTokens.set(key, tokenFor('operator', 'op-audiences', stack.baseUrl));
  const operator = await operatorTokens.get(key)!;
  const res = await call<{ items: { audienceId: string; businessId: string }[] }>(
    stack,
    'GET',
    `/v1/ops/users/${encodeURIComponent(userId)}/audiences`,
    operator,
  );
  if (res.status !== 200) throw new Error(`ops lookup answered ${res.status}`);
  return res.json.items;
}

/**
 * Waits until the match index has applied every user's latest decision:
 * consenting users' keys (one per identifier) are in, denying users' state is recorded.
 */
export async function waitForMatchIndex(
  stack: Stack,
  people: readonly { userId: string; phoneNumber?: string; email?: string }[],
  ads: 'granted' | 'denied',
): Promise<void> {
  const { ddb } = await awsClients(stack.baseUrl);
  await eventually(
    async () => {
      for (let i = 0; i < people.length; i += 100) {
        const group = people.slice(i, i + 100);
        const keys = group.map((p) => appliedKey(p.userId));
        const out = await ddb.send(new BatchGetCommand({ RequestItems: { [tableName('matchIndex')]: { Keys: keys, ConsistentRead: true } } }));
        const states = out.Responses?.[tableName('matchIndex')] ?? [];
        expect(states).toHaveLength(keys.length);
        for (const s of states) {
          const person = group.find((p) => appliedKey(p.userId).pk === s.pk)!;
          const identifiers = (person.phoneNumber ? 1 : 0) + (person.email ? 1 : 0);
          expect((s.keys as string[]).length).toBe(ads === 'granted' ? identifiers : 0);
        }
      }
    },
    { timeoutMs: 90_000, intervalMs: 500 },
  );
}

/** Every item of every table of the stack, as JSON text (DynamoDB Local through the emulator endpoint). */
export async function everyStoredItem(stack: Stack = {}): Promise<string[]> {
  const { dynamodb, ddb } = await awsClients(stack.baseUrl);
  const { TableNames = [] } = await dynamodb.send(new ListTablesCommand({}));
  const items: string[] = [];
  for (const table of TableNames) {
    for await (const page of paginateScan({ client: ddb }, { TableName: table })) {
      for (const item of page.Items ?? []) items.push(JSON.stringify(item, (_k, v) => (v instanceof Set ? [...v] : v)));
    }
  }
  return items;
}

/** A look at the messages waiting in every queue and dead-letter queue (made visible again at once). */
export async function everyQueuedMessage(stack: Stack = {}): Promise<string[]> {
  const { sqs } = await awsClients(stack.baseUrl);
  const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({}));
  const bodies: string[] = [];
  for (const url of QueueUrls) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: 0 }));
    for (const m of out.Messages ?? []) bodies.push(m.Body ?? '');
  }
  return bodies;
}
