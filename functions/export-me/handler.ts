import { getAccount } from '../adapters/accounts';
import { receiptsOf } from '../adapters/ledger';
import { currentPolicy } from '../adapters/policies';
import { audiencesOfUserNow } from '../adapters/user-audiences';
import { exportMe } from '../contract/rights';
import { consentView } from '../core/consent';
import { queryAll } from '../adapters/dynamo';
import { secondsToIso } from '../core/messages';
import { clock } from '../shared/clock';
import { tableName } from '../shared/config';
import { httpRoute, json } from '../shared/http';

const MESSAGES = tableName('messages');

/** Metadata of the caller's pending messages (never their ciphertext), oldest first. */
async function pendingMessageMetadata(userId: string, nowSeconds: number) {
  const items = await queryAll({
    TableName: MESSAGES,
    KeyConditionExpression: 'recipientId = :r',
    FilterExpression: 'expiresAt > :now',
    ProjectionExpression: 'messageId, businessId, category, acceptedAt, expiresAt',
    ExpressionAttributeValues: { ':r': userId, ':now': nowSeconds },
  });
  return items.map((item) => ({
    messageId: item.messageId as string,
    from: item.businessId as string,
    category: item.category as string,
    acceptedAt: item.acceptedAt as string,
    expiresAt: secondsToIso(item.expiresAt),
  }));
}

/**
 * GET /v1/me/export: everything stored about the caller — phone, email,
 * consent and its history, how many audiences they are in now (not which
 * businesses) and the metadata of their pending messages.
 */
export const handler = httpRoute('exportMe', exportMe, async ({ caller }) => {
  const now = clock.now();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const [account, policy, history, audiences, pendingMessages] = await Promise.all([
    getAccount(caller.sub),
    currentPolicy(),
    receiptsOf(caller.sub),
    audiencesOfUserNow(caller.sub, nowSeconds),
    pendingMessageMetadata(caller.sub, nowSeconds),
  ]);
  return json(200, {
    userId: caller.sub,
    exportedAt: now.toISOString(),
    account: {
      phoneNumber: account.phoneNumber ?? null,
      email: account.email ?? null,
      createdAt: account.createdAt ?? null,
      erasedAt: account.erasedAt ?? null,
    },
    consent: consentView(account.consent, policy),
    consentHistory: history,
    audiences: { count: audiences.length },
    pendingMessages,
  });
});
