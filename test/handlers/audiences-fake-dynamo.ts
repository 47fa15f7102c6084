/**
 * An in-memory stand-in for the DynamoDB calls of the audience functions,
 * behind aws-sdk-client-mock: items by table and key, the batched reads and
 * writes, and the conditional updates and transactions the audience code
 * issues (interpreted from their expressions, just enough for these tests).
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { AwsClientStub } from 'aws-sdk-client-mock';

type Item = Record<string, unknown>;
type BatchGetInput = { RequestItems: Record<string, { Keys: Item[] }> };
type BatchWriteInput = { RequestItems: Record<string, { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]> };
type Values = Record<string, unknown>;

export class FakeDynamo {
  readonly tables = new Map<string, Map<string, Item>>();

  private table(name: string) {
    let t = this.tables.get(name);
    if (!t) this.tables.set(name, (t = new Map()));
    return t;
  }
  private static id(key: Item) {
    return `${String(key.pk ?? key.userId)}|${String(key.sk ?? '')}`;
  }
  get(table: string, key: Item): Item | undefined {
    return this.table(table).get(FakeDynamo.id(key));
  }
  put(table: string, item: Item) {
    this.table(table).set(FakeDynamo.id(item), structuredClone(item));
  }
  delete(table: string, key: Item) {
    this.table(table).delete(FakeDynamo.id(key));
  }
  items(table: string): Item[] {
    return [...this.table(table).values()];
  }

  /** BatchGetItem against this store (public so a test can wrap it). */
  batchGet(input: BatchGetInput) {
    const Responses: Record<string, Item[]> = {};
    for (const [table, request] of Object.entries(input.RequestItems)) {
      if (request.Keys.length > 100) throw new Error('BatchGetItem takes at most 100 keys');
      Responses[table] = request.Keys.flatMap((k) => {
        const item = this.get(table, k);
        return item ? [structuredClone(item)] : [];
      });
    }
    return { Responses, UnprocessedKeys: {} };
  }

  /** BatchWriteItem against this store (public so a test can wrap it). */
  batchWrite(input: BatchWriteInput) {
    for (const [table, requests] of Object.entries(input.RequestItems)) {
      if (requests.length > 25) throw new Error('BatchWriteItem takes at most 25 items');
      for (const r of requests) {
        if (r.PutRequest) this.put(table, r.PutRequest.Item);
        if (r.DeleteRequest) this.delete(table, r.DeleteRequest.Key);
      }
    }
    return { UnprocessedItems: {} };
  }

  /** Answers the mocked client's commands from this store. */
  install(ddb: AwsClientStub<DynamoDBDocumentClient>): void {
    const on = ddb.on.bind(ddb) as unknown as (command: unknown) => { callsFake: (fn: (input: never) => unknown) => void };
    on(GetCommand).callsFake(async (input: { TableName: string; Key: Item }) => ({ Item: this.get(input.TableName, input.Key) }));
    on(BatchGetCommand).callsFake(async (input: BatchGetInput) => this.batchGet(input));
    on(BatchWriteCommand).callsFake(async (input: BatchWriteInput) => this.batchWrite(input));
    on(UpdateCommand).callsFake(async (input: Update) => {
      if (!this.check(input)) throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
      this.apply(input);
      return (input as { ReturnValues?: string }).ReturnValues === 'ALL_NEW' ? { Attributes: structuredClone(this.get(input.TableName, input.Key)) } : {};
    });
    on(DeleteCommand).callsFake(async (input: { TableName: string; Key: Item; ConditionExpression?: string; ExpressionAttributeValues?: Values }) => {
      if (!this.check({ ...input, UpdateExpression: '' })) throw new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });
      this.delete(input.TableName, input.Key);
      return {};
    });
    on(TransactWriteCommand).callsFake(
      async (input: { TransactItems: { Update?: Update; Delete?: Update & { Key: Item }; Put?: { TableName: string; Item: Item } }[] }) => {
        const reasons = input.TransactItems.map((t) => {
          const op = t.Update ?? t.Delete;
          return op && !this.check(op) ? { Code: 'ConditionalCheckFailed' } : { Code: 'None' };
        });
        if (reasons.some((r) => r.Code !== 'None')) {
          throw new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: reasons });
        }
        for (const t of input.TransactItems) {
          if (t.Update) this.apply(t.Update);
          if (t.Delete) this.delete(t.Delete.TableName, t.Delete.Key);
          if (t.Put) this.put(t.Put.TableName, t.Put.Item);
        }
        return {};
      },
    );
    on(QueryCommand).callsFake(async (input: { TableName: string; IndexName?: string; ExpressionAttributeValues: Values; FilterExpression?: string }) => {
      const values = input.ExpressionAttributeValues;
      const absent = /^attribute_not_exists\((\w+)\)$/.exec(input.FilterExpression ?? '')?.[1];
      const items = this.items(input.TableName).filter(
        (item) =>
          (input.IndexName ? item.audienceId === values[':a'] : item.pk === values[':pk'] && String(item.sk).startsWith(String(values[':a'] ?? ''))) &&
          (absent === undefined || item[absent] === undefined),
      );
      return { Items: structuredClone(items) };
    });
  }

  /** The conditions the audience code writes, evaluated on the stored item. */
  private check(input: Update): boolean {
    const condition = input.ConditionExpression;
    if (!condition) return true;
    const item = this.get(input.TableName, input.Key);
    const v = input.ExpressionAttributeValues ?? {};
    const clauses = condition.split(/ AND (?![^(]*\))/);
    const holds = (raw: string): boolean => {
      let c = raw.trim();
      if (c.startsWith('(') && c.endsWith(')')) c = c.slice(1, -1);
      if (c.includes(' OR ')) return c.split(' OR ').some(holds);
      if (c === 'attribute_exists(pk)' || c === 'attribute_exists(sk)') return item !== undefined;
      if (c === 'attribute_not_exists(pk)' || c === 'attribute_not_exists(sk)') return item === undefined;
      let m = /^attribute_not_exists\((\w+)\)$/.exec(c);
      if (m) return item?.[m[1]!] === undefined;
      m = /^(\w+) < (:\w+)$/.exec(c);
      if (m) return item?.[m[1]!] !== undefined && (item[m[1]!] as number) < (v[m[2]!] as number);
      m = /^(NOT )?contains\((\w+), (:\w+)\)$/.exec(c);
      if (m) {
        const set = item?.[m[2]!] as Set<unknown> | undefined;
        const has = set ? set.has(v[m[3]!]) : false;
        return m[1] ? !has : has;
      }
      m = /^(#?\w+) = (:\w+)$/.exec(c);
      if (m) {
        const name = m[1]!.startsWith('#') ? input.ExpressionAttributeNames![m[1]!]! : m[1]!;
        return item !== undefined && item[name] === v[m[2]!];
      }
      throw new Error(`The fake cannot evaluate the condition "${c}"`);
    };
    return clauses.every(holds);
  }

  /** SET (plain and `if_not_exists(path, :z) + :v` on the expiring map), ADD, REMOVE, DELETE. */
  private apply(input: Update): void {
    const table = input.TableName;
    const item: Item = structuredClone(this.get(table, input.Key) ?? { ...input.Key });
    const names = input.ExpressionAttributeNames ?? {};
    const v = input.ExpressionAttributeValues ?? {};
    const name = (n: string) => (n.startsWith('#') ? names[n]! : n);
    for (const [, action, body] of input.UpdateExpression.matchAll(/(SET|ADD|REMOVE|DELETE) (.*?)(?= (?:SET|ADD|REMOVE|DELETE) |$)/g)) {
      for (const part of body!.split(/, (?![^(]*\))/)) {
        const p = part.trim();
        if (action === 'SET') {
          let m = /^(#\w+)\.(#\w+) = if_not_exists\(.*?, (:\w+)\) \+ (:\w+)$/.exec(p);
          if (m) {
            const map = (item[name(m[1]!)] ??= {}) as Record<string, number>;
            const key = name(m[2]!);
            map[key] = (map[key] ?? (v[m[3]!] as number)) + (v[m[4]!] as number);
            continue;
          }
          m = /^(#?\w+) = if_not_exists\((#?\w+), (:\w+)\)( \+ (:\w+))?$/.exec(p);
          if (m) {
            const current = item[name(m[2]!)] ?? v[m[3]!];
            item[name(m[1]!)] = m[5] ? (current as number) + (v[m[5]!] as number) : current;
            continue;
          }
          m = /^(#?\w+) = (:\w+)$/.exec(p);
          if (m) {
            item[name(m[1]!)] = v[m[2]!];
            continue;
          }
          throw new Error(`The fake cannot apply "SET ${p}"`);
        }
        const [path, value] = p.split(' ') as [string, string];
        if (action === 'REMOVE') delete item[name(path)];
        if (action === 'ADD') {
          const add = v[value];
          if (add instanceof Set) item[name(path)] = new Set([...((item[name(path)] as Set<unknown>) ?? []), ...add]);
          else item[name(path)] = ((item[name(path)] as number) ?? 0) + (add as number);
        }
        if (action === 'DELETE') {
          const set = new Set((item[name(path)] as Set<unknown>) ?? []);
          for (const x of v[value] as Set<unknown>) set.delete(x);
          if (set.size > 0) item[name(path)] = set;
          else delete item[name(path)];
        }
      }
    }
    this.put(table, item);
  }
}

interface Update {
  TableName: string;
  Key: Item;
  UpdateExpression: string;
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Values;
}
