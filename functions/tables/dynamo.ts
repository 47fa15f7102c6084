/**
 * What every table module shares: named transaction parts, condition
 * failures, paged queries and zero-padded numbers in sort keys. Table modules
 * (one per catalog table, beside this file) own their key formats and item
 * codecs; nothing outside them spells a key prefix.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { paginateQuery, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { QueryCommandInput, TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import { ddb } from '../shared/aws';

export type Item = Record<string, NativeAttributeValue>;
export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** One item of a transaction, named so that a failure is read by name. */
export interface Part<N extends string = string> {
  readonly part: N;
  readonly item: TransactItem;
}

export const part = <N extends string>(name: N, item: TransactItem): Part<N> => ({ part: name, item });

/** A transaction DynamoDB cancelled: the parts whose condition failed, and whether another transaction conflicted. */
export class TransactionCancelled<N extends string = string> extends Error {
  override readonly name = 'TransactionCancelled';
  constructor(
    readonly failed: ReadonlySet<N>,
    readonly conflicted: boolean,
    options: { cause: unknown },
  ) {
    super(failed.size > 0 ? `Transaction cancelled: condition of ${[...failed].join(', ')} failed` : 'Transaction cancelled', options);
  }

  failedOn(...parts: N[]): boolean {
    return parts.some((p) => this.failed.has(p));
  }
}

const isCancellation = (error: unknown): error is TransactionCanceledException =>
  error instanceof TransactionCanceledException || (error as Error | undefined)?.name === 'TransactionCanceledException';

/**
 * Writes the parts in one transaction (absent parts are left out). A
 * cancellation becomes a `TransactionCancelled` naming the parts whose
 * condition failed; anything else is rethrown as it is.
 */
export async function transact<N extends string>(parts: readonly (Part<N> | undefined | false)[]): Promise<void> {
  const present = parts.filter((p): p is Part<N> => Boolean(p));
  try {
    await ddb.send(new TransactWriteCommand({ TransactItems: present.map((p) => p.item) }));
  } catch (error) {
    if (!isCancellation(error)) throw error;
    const reasons = error.CancellationReasons ?? [];
    const failed = new Set<N>();
    reasons.forEach((reason, i) => {
      if (reason.Code === 'ConditionalCheckFailed' && present[i]) failed.add(present[i].part);
    });
    throw new TransactionCancelled(
      failed,
      reasons.some((r) => r.Code === 'TransactionConflict'),
      { cause: error },
    );
  }
}

/** Whether a single conditional write failed its condition. */
export const isConditionFailure = (error: unknown): boolean => (error as Error | undefined)?.name === 'ConditionalCheckFailedException';

/** Zero-padded so string sort keys sort by number. */
export const padNumber = (n: number): string => String(n).padStart(10, '0');

/** Every item a Query finds, across pages (the SDK's paginator). */
export async function queryAll(input: QueryCommandInput): Promise<Item[]> {
  const items: Item[] = [];
  for await (const page of paginateQuery({ client: ddb }, input)) items.push(...(page.Items ?? []));
  return items;
}
