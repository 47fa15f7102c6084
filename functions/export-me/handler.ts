import { exportMe } from '../contract/rights';
import { consentView } from '../core/consent';
import { receiptKeySet } from '../services/receipt-keys';
import { audiencesOfUserNow } from '../services/user-audiences';
import { clock } from '../shared/clock';
import { forwardGpcSignal } from '../shared/gpc-forward';
import { httpRoute, json } from '../shared/http';
import { getAccountState } from '../tables/consent-states';
import { getIdentity } from '../tables/identities';
import { receiptsOf } from '../tables/ledger';
import { exportedMessages } from '../tables/messages';
import { currentPolicy } from '../tables/policies';
import { blocksOf, currentKey } from '../tables/recipients';

const earliest = (...times: (string | undefined)[]): string | null => times.filter((t): t is string => t !== undefined).sort()[0] ?? null;

/**
 * GET /v1/me/export: everything stored about the caller — phone, email,
 * consent and its history (signed receipts, with the keys that check them,
 * so the export verifies offline), how many audiences they are in now (not
 * which businesses), the metadata of their pending and withheld messages,
 * their message key (the public one: the private key never reaches the
 * service) and the businesses they block.
 */
export const handler = httpRoute(
  'exportMe',
  exportMe,
  async ({ caller }) => {
    const now = clock.now();
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const [identity, state, policy, history, audiences, messages, key, blocks, receiptKeys] = await Promise.all([
      getIdentity(caller.sub),
      getAccountState(caller.sub),
      currentPolicy('show'),
      receiptsOf(caller.sub),
      audiencesOfUserNow(caller.sub, nowSeconds),
      exportedMessages(caller.sub, nowSeconds),
      currentKey(caller.sub),
      blocksOf(caller.sub),
      receiptKeySet(),
    ]);
    return json(200, {
      userId: caller.sub,
      exportedAt: now.toISOString(),
      account: {
        phoneNumber: identity.phoneNumber ?? null,
        email: identity.email ?? null,
        createdAt: earliest(identity.createdAt, state.createdAt),
        erasedAt: state.erasedAt ?? null,
      },
      consent: consentView(state.consent, policy),
      consentHistory: history,
      receiptKeys,
      audiences: { count: audiences.length },
      pendingMessages: messages.pending,
      withheldMessages: messages.withheld,
      messageKey: key ? { keyId: key.keyId, publicKey: key.publicKey, createdAt: key.createdAt } : null,
      blocks,
    });
  },
  { privacySignal: forwardGpcSignal },
);
