/**
 * The recipients table: what a user set up for receiving business messages,
 * one partition a user (`userId`), sorted by `sk`:
 * - `key`: the user's current X25519 public key (`keyId`, `publicKey`,
 *   `createdAt`); publishing another replaces it;
 * - `block#<businessId>`: the user blocks that business (`blockedAt`).
 * A public key is not an identifier, but it is about one user: the table is
 * of the messages data class, read only by the messages side and the user's
 * own export. No TTL: both kinds live until the user changes them or erases
 * the account.
 */
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';
import { isConditionFailure, queryAll } from './dynamo';

const table = () => tableName('recipients');

const KEY_SK = 'key' as const;
const BLOCK_PREFIX = 'block#';

export const recipientKeyKey = (userId: string) => ({ userId, sk: KEY_SK });
export const blockKey = (userId: string, businessId: string) => ({ userId, sk: `${BLOCK_PREFIX}${businessId}` });

/** A user's published key, as the service keeps it. */
export interface RecipientKey {
  readonly userId: string;
  readonly keyId: string;
  readonly publicKey: string;
  readonly createdAt: string;
}

const KeyItem = z.codec(
  z.object({ userId: z.string().min(1), sk: z.literal(KEY_SK), keyId: z.string().min(1), publicKey: z.string().min(1), createdAt: z.string() }),
  z.object({ userId: z.string(), keyId: z.string(), publicKey: z.string(), createdAt: z.string() }),
  {
    decode: ({ sk: _sk, ...key }) => key,
    encode: (key) => ({ ...recipientKeyKey(key.userId), ...key }),
  },
);

export interface Block {
  readonly businessId: string;
  readonly blockedAt: string;
}

const BlockItem = z.object({ userId: z.string().min(1), sk: z.string().startsWith(BLOCK_PREFIX), businessId: z.string().min(1), blockedAt: z.string() });

const blockItem = (userId: string, block: Block) => BlockItem.parse({ ...blockKey(userId, block.businessId), ...block });
const blockOf = (item: unknown): Block => {
  const { businessId, blockedAt } = BlockItem.parse(item);
  return { businessId, blockedAt };
};

// ------------------------------------------------------------ keys

/** The user's current key, if they published one. Strongly consistent. */
export async function currentKey(userId: string): Promise<RecipientKey | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: recipientKeyKey(userId), ConsistentRead: true }));
  return Item ? KeyItem.decode(Item as z.input<typeof KeyItem>) : undefined;
}

/**
 * Makes `key` the user's current key, replacing any other. Publishing the
 * current public key again changes nothing and answers with the key as it is
 * (its first keyId and time), so a retried request is harmless.
 */
export async function publishKey(key: RecipientKey): Promise<RecipientKey> {
  const current = await currentKey(key.userId);
  if (current?.publicKey === key.publicKey) return current;
  await ddb.send(new PutCommand({ TableName: table(), Item: KeyItem.encode(key) }));
  return key;
}

/** Deletes the user's key if it was published at or before `notAfter` (a key published later is left alone). */
export async function deleteKeyPublishedBy(userId: string, notAfter: string): Promise<boolean> {
  try {
    await ddb.send(
      new DeleteCommand({
        TableName: table(),
        Key: recipientKeyKey(userId),
        ConditionExpression: 'attribute_exists(keyId) AND createdAt <= :at',
        ExpressionAttributeValues: { ':at': notAfter },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

// ------------------------------------------------------------ blocks

/** Blocks a business; blocking it again keeps the first `blockedAt`. */
export async function putBlock(userId: string, block: Block): Promise<void> {
  try {
    await ddb.send(new PutCommand({ TableName: table(), Item: blockItem(userId, block), ConditionExpression: 'attribute_not_exists(sk)' }));
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
}

/** Unblocks a business (nothing happens when it was not blocked). */
export async function deleteBlock(userId: string, businessId: string): Promise<void> {
  await ddb.send(new DeleteCommand({ TableName: table(), Key: blockKey(userId, businessId) }));
}

/** Whether the user blocks the business. Strongly consistent: a send right after a block is withheld. */
export async function isBlocked(userId: string, businessId: string): Promise<boolean> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: blockKey(userId, businessId), ConsistentRead: true, ProjectionExpression: 'sk' }));
  return Item !== undefined;
}

/** The businesses the user blocks, in the order of their ids. */
export async function blocksOf(userId: string): Promise<Block[]> {
  const items = await queryAll({
    TableName: table(),
    KeyConditionExpression: 'userId = :u AND begins_with(sk, :b)',
    ExpressionAttributeValues: { ':u': userId, ':b': BLOCK_PREFIX },
    ConsistentRead: true,
  });
  return items.map(blockOf);
}

/** Deletes the user's blocks made at or before `notAfter`; returns how many. */
export async function deleteBlocksMadeBy(userId: string, notAfter: string): Promise<number> {
  let deleted = 0;
  for (const block of await blocksOf(userId)) {
    if (block.blockedAt > notAfter) continue;
    try {
      await ddb.send(
        new DeleteCommand({
          TableName: table(),
          Key: blockKey(userId, block.businessId),
          ConditionExpression: 'blockedAt <= :at',
          ExpressionAttributeValues: { ':at': notAfter },
        }),
      );
      deleted += 1;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
  return deleted;
}
