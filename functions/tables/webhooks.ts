/**
 * The webhooks table: `webhook#<businessId>`, one item a business, its
 * endpoint URL, its secret encrypted under the `webhookSecrets` key
 * (shared/keys.ts; the encryption context names the business, so a stored
 * secret decrypts only for its own business) and when it was registered.
 * The secret is never stored or returned in clear.
 */
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { ddb } from '../shared/aws';
import { tableName } from '../shared/config';

const table = () => tableName('webhooks');

export const webhookKey = (businessId: string) => ({ pk: `webhook#${businessId}` });

const WebhookItem = z.object({
  pk: z.string().startsWith('webhook#'),
  businessId: z.string().min(1),
  url: z.string().min(1),
  encryptedSecret: z.string().min(1),
  createdAt: z.string(),
});

export interface Webhook {
  readonly businessId: string;
  readonly url: string;
  readonly encryptedSecret: string;
  readonly createdAt: string;
}

/** Registers the business's webhook, replacing any earlier one. */
export async function putWebhook(webhook: Webhook): Promise<void> {
  await ddb.send(new PutCommand({ TableName: table(), Item: WebhookItem.parse({ ...webhookKey(webhook.businessId), ...webhook }) }));
}

/** The business's webhook, or undefined. `consistent` for the deliverer, which must see a deletion at once. */
export async function webhookOf(businessId: string, options: { consistent?: boolean } = {}): Promise<Webhook | undefined> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: webhookKey(businessId), ConsistentRead: options.consistent ?? true }));
  if (!Item) return undefined;
  const { businessId: id, url, encryptedSecret, createdAt } = WebhookItem.parse(Item);
  return { businessId: id, url, encryptedSecret, createdAt };
}

/** Whether the business has a webhook (its key only: producers of events need no more). */
export async function hasWebhook(businessId: string): Promise<boolean> {
  const { Item } = await ddb.send(new GetCommand({ TableName: table(), Key: webhookKey(businessId), ProjectionExpression: 'pk' }));
  return Item !== undefined;
}

export async function deleteWebhook(businessId: string): Promise<void> {
  await ddb.send(new DeleteCommand({ TableName: table(), Key: webhookKey(businessId) }));
}
