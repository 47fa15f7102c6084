/**
 * Helpers of the business-messages integration tests, over the shared local
 * stack or a private one (test/integration/support is the local runtime's).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Role } from '../../catalog';
import { normalisePhone } from '../../functions/core/identifiers';
import { api, awsClients, newId, tableName, tokenFor } from './support';
import type { ApiOptions, ApiResponse, AwsClients } from './support';
import { statusKey } from '../../functions/tables/message-status';
import { generateKeyPair, publicKeyOf } from '../../client';
import { verifyWith } from './support/users';
import type { TestKey } from './support/users';

/** One stack's API: the shared one by default, or a private stack from `startStack()`. */
export interface StackApi {
  api<T = Record<string, unknown>>(method: string, path: string, options?: Omit<ApiOptions, 'baseUrl'>): Promise<ApiResponse<T>>;
  tokenFor(role: Role, sub: string): Promise<string>;
  clients(): Promise<AwsClients>;
}

export const sharedStack: StackApi = {
  api: (method, path, options) => api(method, path, options),
  tokenFor: (role, sub) => tokenFor(role, sub),
  clients: () => awsClients(),
};

/** A valid US number no other test is likely to hold, in E.164 and in a formatting a person would type. */
export function freshPhone(): { e164: string; typed: string } {
  const areas = ['212', '312', '415', '503', '617', '646', '720', '206'];
  for (;;) {
    const area = areas[randomInt(areas.length)]!;
    const exchange = String(randomInt(200, 1000));
    const line = String(randomInt(0, 10_000)).padStart(4, '0');
    const typed = `+1 (${area}) ${exchange}-${line}`;
    const e164 = normalisePhone(typed);
    if (e164) return { e164, typed };
  }
}

export interface Party {
  sub: string;
  token: string;
}

export interface Recipient extends Party {
  phone: { e164: string; typed: string };
  /** The message key the recipient published (its private key stays here, as on a device). */
  key: TestKey;
}

/** Generates a key pair with the client library and publishes its public key as the user's (PUT /v1/me/keys). */
export async function publishKey(stack: StackApi, user: Party): Promise<TestKey> {
  const keyPair = await generateKeyPair();
  const publicKey = await publicKeyOf(keyPair);
  const res = await stack.api<{ keyId: string }>('PUT', '/v1/me/keys', { token: user.token, body: { publicKey } });
  if (res.status !== 200) throw new Error(`PUT /v1/me/keys answered ${res.status}: ${res.text}`);
  return { keyId: res.json.keyId, publicKey, keyPair };
}

export async function newBusiness(stack: StackApi): Promise<Party> {
  const sub = newId('biz');
  return { sub, token: await stack.tokenFor('business', sub) };
}

/** A user with a token, a phone number bound to them and a published message key. */
export async function newRecipient(stack: StackApi): Promise<Recipient> {
  const sub = newId('user');
  const token = await stack.tokenFor('user', sub);
  const phone = freshPhone();
  const bound = await verifyWith((method, path, options) => stack.api(method, path, options), 'phone', token, phone.typed);
  if (bound.status !== 200) throw new Error(`Verifying a phone number answered ${bound.status}: ${bound.text}`);
  return { sub, token, phone, key: await publishKey(stack, { sub, token }) };
}

/** Random bytes as standard base64: a stand-in for a sealed message, where what it holds does not matter. */
export const sealed = (bytes = 48): string => randomBytes(bytes).toString('base64');

export interface Accepted {
  messageId: string;
  status: 'accepted';
  acceptedAt: string;
  expiresAt: string;
}

export async function send(
  stack: StackApi,
  from: Party,
  to: Recipient,
  extra: { category?: string; ciphertext?: string; clientMessageId?: string; keyId?: string } = {},
): Promise<Accepted> {
  const res = await stack.api<Accepted>('POST', '/v1/messages', {
    token: from.token,
    body: {
      to: to.phone.typed,
      category: extra.category ?? 'receipt',
      keyId: extra.keyId ?? to.key.keyId,
      ciphertext: extra.ciphertext ?? sealed(),
      ...(extra.clientMessageId ? { clientMessageId: extra.clientMessageId } : {}),
    },
  });
  if (res.status !== 202) throw new Error(`POST /v1/messages answered ${res.status}: ${res.text}`);
  return res.json;
}

export interface InboxItem {
  messageId: string;
  from: string;
  category: string;
  keyId: string;
  ciphertext: string;
  acceptedAt: string;
  expiresAt: string;
}

export async function inbox(stack: StackApi, user: Party): Promise<InboxItem[]> {
  const res = await stack.api<{ items: InboxItem[] }>('GET', '/v1/me/messages', { token: user.token });
  if (res.status !== 200) throw new Error(`GET /v1/me/messages answered ${res.status}: ${res.text}`);
  return res.json.items;
}

export async function ack(stack: StackApi, user: Party, messageIds: string[]): Promise<number> {
  const res = await stack.api<{ acknowledged: number }>('POST', '/v1/me/messages/ack', { token: user.token, body: { messageIds } });
  if (res.status !== 200) throw new Error(`POST /v1/me/messages/ack answered ${res.status}: ${res.text}`);
  return res.json.acknowledged;
}

export async function statusOf(stack: StackApi, business: Party, messageId: string) {
  return stack.api<{ messageId: string; status: string; acceptedAt: string; expiresAt: string; updatedAt: string }>('GET', `/v1/messages/${messageId}`, {
    token: business.token,
  });
}

/** Every item of the messages table for one recipient, read straight from the emulator. */
export async function storedMessagesOf(stack: StackApi, recipientId: string): Promise<Record<string, unknown>[]> {
  const { ddb } = await stack.clients();
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await ddb.send(
      new ScanCommand({
        TableName: tableName('messages'),
        ConsistentRead: true,
        FilterExpression: 'recipientId = :r',
        ExpressionAttributeValues: { ':r': recipientId },
        ExclusiveStartKey,
      }),
    );
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/** The status records of one business's messages, read straight from the emulator. */
export async function statusRecordsOf(stack: StackApi, businessId: string): Promise<Record<string, unknown>[]> {
  const { ddb } = await stack.clients();
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await ddb.send(
      new ScanCommand({
        TableName: tableName('messageStatus'),
        ConsistentRead: true,
        FilterExpression: 'businessId = :b AND begins_with(pk, :m)',
        ExpressionAttributeValues: { ':b': businessId, ':m': statusKey('').pk },
        ExclusiveStartKey,
      }),
    );
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}
