/**
 * DynamoDB in store tests. Two clients talk to the same DynamoDB Local:
 * - the tests' own client (`store`), for arranging items and reading what
 *   the functions left, whose calls are nobody's business;
 * - the functions' client (functions/shared/aws.ts), spied with
 *   aws-sdk-client-mock: every call it makes is recorded (`functionCalls`)
 *   and goes on to DynamoDB Local, unless a test's interceptor fails it, which
 *   is how a function dying between two steps is simulated (the failed call
 *   never reaches the table, and nothing after it runs).
 * Test files share the tables and run in parallel, so every test uses ids of
 * its own (`uniqueId`, `newAudienceId`).
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { BatchWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { TableName } from '../../../catalog';
import { ddb } from '../../../functions/shared/aws';
import { clock } from '../../../functions/shared/clock';
import type { Item, Part } from '../../../functions/tables/dynamo';
import { tableOf } from './store';

// ------------------------------------------------------------------ the tests' own client

/** Endpoint, region and credentials come from the environment test/store/env.ts set. */
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 3 }), { marshallOptions: { removeUndefinedValues: true } });

export const store = {
  /** The item as stored now (consistent read), or undefined. */
  async get(table: TableName, key: Item): Promise<Item | undefined> {
    return (await client.send(new GetCommand({ TableName: tableOf(table), Key: key, ConsistentRead: true }))).Item;
  },
  async put(table: TableName, item: Item): Promise<void> {
    await client.send(new PutCommand({ TableName: tableOf(table), Item: item }));
  },
  async delete(table: TableName, key: Item): Promise<void> {
    await client.send(new DeleteCommand({ TableName: tableOf(table), Key: key }));
  },
  /** Every item of a partition of the table (consistent). */
  async queryPartition(table: TableName, pk: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: tableOf(table),
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  },
  /** Every item of a global index's partition (DynamoDB Local keeps its indexes in step with the table). */
  async queryIndex(table: TableName, index: string, attribute: string, value: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: tableOf(table),
          IndexName: index,
          KeyConditionExpression: '#k = :v',
          ExpressionAttributeNames: { '#k': attribute },
          ExpressionAttributeValues: { ':v': value },
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  },
  /** Many items, 25 a BatchWriteItem, retrying what DynamoDB leaves unprocessed. */
  async putAll(table: TableName, items: readonly Item[]): Promise<void> {
    const name = tableOf(table);
    for (let at = 0; at < items.length; at += 25) {
      let requests: NonNullable<BatchWriteCommandInput['RequestItems']>[string] = items.slice(at, at + 25).map((item) => ({ PutRequest: { Item: item } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt >= 10) throw new Error('BatchWriteItem kept leaving items unprocessed');
        const out = await client.send(new BatchWriteCommand({ RequestItems: { [name]: requests } }));
        requests = out.UnprocessedItems?.[name] ?? [];
      }
    }
  },
  /** Runs the table modules' own transaction parts through the tests' client: fixtures written as the functions write them. */
  async transact(parts: readonly Part[]): Promise<void> {
    await client.send(new TransactWriteCommand({ TransactItems: parts.map((p) => p.item) }));
  },
  /** One transaction part as a single write (condition included): the same change, much cheaper for DynamoDB Local than a transaction. */
  async apply({ item }: Part): Promise<void> {
    if (item.Update) await client.send(new UpdateCommand(item.Update));
    else if (item.Put) await client.send(new PutCommand(item.Put));
    else if (item.Delete) await client.send(new DeleteCommand(item.Delete));
    else throw new Error('Only updates, puts and deletes can be applied alone');
  },
};

// ------------------------------------------------------------------ the functions' client

/** Every DynamoDB call the functions made since the test began (or since `functionCalls.resetHistory()`). */
export const functionCalls = mockClient(ddb);

export type FunctionCommand = Parameters<typeof ddb.send>[0];

/** Runs before each call of the functions: throw to fail the call (it never reaches DynamoDB), return to let it through. */
export type Interceptor = (command: FunctionCommand) => void | Promise<void>;

/** The functions' calls go to DynamoDB Local, each through `intercept` first if given; the call history starts empty. */
export function passThrough(intercept?: Interceptor): void {
  functionCalls.reset();
  const send = functionCalls.send;
  const original = send.wrappedMethod;
  send.callsFake(async function (this: unknown, ...args: Parameters<typeof send>) {
    if (intercept) await intercept(args[0]);
    return original.apply(this, args);
  });
}

/** The tables a command names (its TableName, or the tables of a batch or a transaction), as logical names. */
export function tablesOf(command: { readonly input: unknown }): string[] {
  const input = command.input as {
    TableName?: string;
    RequestItems?: Record<string, unknown>;
    TransactItems?: Record<string, { TableName?: string } | undefined>[];
  };
  const physical = [
    ...(input.TableName ? [input.TableName] : []),
    ...Object.keys(input.RequestItems ?? {}),
    ...(input.TransactItems ?? []).flatMap((t) => Object.values(t).flatMap((op) => (op?.TableName ? [op.TableName] : []))),
  ];
  return [...new Set(physical)];
}

type CommandClass = abstract new (...args: never[]) => unknown;

/** Whether `command` is of type `type` (and, if given, names the table `table`). */
export const isCall = (command: { readonly input: unknown }, type: CommandClass, table?: TableName): boolean =>
  command instanceof type && (table === undefined || tablesOf(command).includes(tableOf(table)));

/** What a function dying in the middle of a call looks like to the code that made it: the call never returns. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
  constructor() {
    super('The function died during this call (simulated)');
  }
}

/**
 * An interceptor that acts on the `nth` call (from 1) matching `matches`:
 * runs `before` (a change someone else makes meanwhile), then fails the call
 * if `fail` is set. Every other call goes through untouched.
 */
export function onCall(matches: (command: FunctionCommand) => boolean, options: { nth?: number; before?: () => Promise<void>; fail?: boolean }): Interceptor {
  const nth = options.nth ?? 1;
  let seen = 0;
  return async (command) => {
    if (!matches(command) || ++seen !== nth) return;
    await options.before?.();
    if (options.fail) throw new SimulatedCrash();
  };
}

/** Several interceptors, in order. */
export const all =
  (...interceptors: Interceptor[]): Interceptor =>
  async (command) => {
    for (const intercept of interceptors) await intercept(command);
  };

/** The functions' commands by name, e.g. `{ GetCommand: 2 }`. */
export function commandCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const call of functionCalls.calls()) {
    const name = (call.args[0] as object).constructor.name;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

// ------------------------------------------------------------------ ids and time

/** An id no other test (in any file, in any run against this DynamoDB Local) uses. */
export const uniqueId = (prefix: string): string => `${prefix}-${randomBytes(6).toString('hex')}`;

/** A fresh audience id in the format the routes accept. */
export const newAudienceId = (): string => `aud-${randomBytes(16).toString('hex')}`;

/** Puts the functions' clock back to the system clock (functions/shared/clock.ts keeps an offset per test file). */
export const resetClock = (): void => {
  clock.advance(-clock.offsetSeconds());
};
