/**
 * What a sender learns about its recipients, on a private local stack (the
 * clock moves 30 days): nothing. Three recipients of one business, each sent
 * one message sealed with the client library:
 *
 * - `offline` never comes online;
 * - `blocked` blocked the business before the message was sent;
 * - `erased` erased the account after the message was sent.
 *
 * At every step of the month that follows (right after the send, after the
 * erasure has gone through every consumer, a day before expiry, a second
 * after it, past the grace period, and after the TTL process deleted the
 * messages and the status function recorded it) the business's answers about
 * the three messages are the same: the same HTTP status and headers, the same
 * fields, the same status, and the same times relative to each message's
 * acceptance.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createApi, sendSealed, type MessageAccepted } from '../../client';
import { startStack, tableName, type PrivateStack } from './support';
import { inbox, newBusiness, newRecipient, type Party, type Recipient, type StackApi } from './messages.helpers';
import { statusKey } from '../../functions/tables/message-status';

const THIRTY_DAYS = 2_592_000;
const RECIPIENTS = ['offline', 'blocked', 'erased'] as const;
type Kind = (typeof RECIPIENTS)[number];

let stack: PrivateStack;
let api: StackApi;

beforeAll(async () => {
  stack = await startStack();
  api = { api: stack.api, tokenFor: stack.tokenFor, clients: stack.clients } as StackApi;
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

async function settle(): Promise<void> {
  const res = await stack.api('POST', '/_local/settle', { body: { timeoutSeconds: 120 } });
  expect(res.json).toEqual({ settled: true });
}

async function advance(seconds: number): Promise<void> {
  expect((await stack.api('POST', '/_local/clock', { body: { advanceSeconds: seconds } })).status).toBe(200);
}

const seconds = (iso: string) => Date.parse(iso) / 1000;

/**
 * What the business sees of one message, with every time made relative to
 * the message's own acceptance (the three were accepted a moment apart): the
 * answer's status code, headers (those that do not vary by request), fields
 * and values.
 */
async function senderView(business: Party, sent: MessageAccepted) {
  const res = await stack.api('GET', `/v1/messages/${sent.messageId}`, { token: business.token });
  const { messageId, acceptedAt, expiresAt, updatedAt, ...rest } = res.json;
  const headers = Object.fromEntries(
    Object.entries(res.headers).filter(([name]) => !['date', 'x-request-id', 'apigw-requestid', 'content-length'].includes(name)),
  );
  return {
    http: res.status,
    headers,
    fields: Object.keys(res.json).sort(),
    idIsTheMessage: messageId === sent.messageId && acceptedAt === sent.acceptedAt && expiresAt === sent.expiresAt,
    expiresAfter: seconds(expiresAt) - seconds(acceptedAt),
    updatedAfter: seconds(updatedAt) - seconds(acceptedAt),
    ...rest,
  };
}

async function storedStatus(messageId: string): Promise<unknown> {
  const { ddb } = await stack.clients();
  const { Item } = await ddb.send(new GetCommand({ TableName: tableName('messageStatus'), Key: statusKey(messageId), ConsistentRead: true }));
  return Item?.status;
}

it('shows a blocked recipient and an erased account exactly as a recipient who stays offline, for the whole month and after', async () => {
  // Prepare: a business and three recipients; one blocks the business first
  const business = await newBusiness(api);
  const recipients = {} as Record<Kind, Recipient>;
  for (const kind of RECIPIENTS) recipients[kind] = await newRecipient(api);
  expect((await stack.api('PUT', `/v1/me/blocks/${business.sub}`, { token: recipients.blocked.token })).status).toBe(204);

  // Act: the business seals and sends to each, with the library
  const shop = createApi({ baseUrl: stack.url, token: business.token });
  const sent = {} as Record<Kind, MessageAccepted>;
  const sendAnswers: unknown[] = [];
  for (const kind of RECIPIENTS) {
    const { keyId, ...accepted } = await sendSealed(shop, { to: recipients[kind].phone.e164, category: 'receipt', payload: { text: `receipt for ${kind}` } });
    expect(keyId).toBe(recipients[kind].key.keyId);
    sent[kind] = accepted;
    sendAnswers.push({
      fields: Object.keys(accepted).sort(),
      status: accepted.status,
      expiresAfter: seconds(accepted.expiresAt) - seconds(accepted.acceptedAt),
    });
  }
  // ...and the third recipient erases the account
  expect((await stack.api('DELETE', '/v1/me', { token: recipients.erased.token })).status).toBe(202);
  await settle();

  // Assess: the answers to the sends were the same
  expect(sendAnswers[1]).toEqual(sendAnswers[0]);
  expect(sendAnswers[2]).toEqual(sendAnswers[0]);
  // Only the offline recipient has the message waiting; the others get nothing
  expect((await inbox(api, recipients.offline)).map((m) => m.messageId)).toEqual([sent.offline.messageId]);
  expect(await inbox(api, recipients.blocked)).toEqual([]);
  expect(await inbox(api, recipients.erased)).toEqual([]);

  /** The three views at one moment; all must equal the offline one, which must be `expected`. */
  const views: Record<string, unknown> = {};
  async function sameForAll(step: string, expected: Record<string, unknown>) {
    const offline = await senderView(business, sent.offline);
    expect({ step, ...offline }).toEqual({ step, ...offline, ...expected, idIsTheMessage: true });
    for (const kind of ['blocked', 'erased'] as const) expect({ step, kind, ...(await senderView(business, sent[kind])) }).toEqual({ step, kind, ...offline });
    views[step] = offline;
  }

  await sameForAll('after the send and the erasure', { http: 200, status: 'accepted', expiresAfter: THIRTY_DAYS, updatedAfter: 0 });

  // A day before expiry: still accepted
  await advance(THIRTY_DAYS - 86_400);
  await sameForAll('a day before expiry', { status: 'accepted', updatedAfter: 0 });

  // A second after the latest expiry (within the grace period for acknowledgements in flight): still accepted
  const latest = Math.max(...RECIPIENTS.map((kind) => seconds(sent[kind].expiresAt)));
  const now = seconds((await stack.health()).clock.now);
  await advance(Math.ceil(latest - now) + 1);
  await sameForAll('a second after expiry', { status: 'accepted', updatedAfter: 0 });

  // Past the grace period: expired, as of expiresAt
  await advance(120);
  await sameForAll('past the grace period', { status: 'expired', updatedAfter: THIRTY_DAYS });

  // DynamoDB's TTL process deletes the three (and the status function records it): still the same
  expect((await stack.api('POST', '/_local/ttl-sweep')).json.deleted).toBeGreaterThanOrEqual(3);
  await settle();
  for (const kind of RECIPIENTS) expect(await storedStatus(sent[kind].messageId)).toBe('expired');
  await sameForAll('after the TTL sweep', { status: 'expired', updatedAfter: THIRTY_DAYS });
  // ...days later too
  await advance(5 * 86_400);
  await sameForAll('days after the sweep', { status: 'expired', updatedAfter: THIRTY_DAYS });

  // The offline recipient's answers did move over the month: the comparison was not between constants
  expect(new Set(Object.values(views).map((v) => JSON.stringify(v))).size).toBe(2);
}, 240_000);
