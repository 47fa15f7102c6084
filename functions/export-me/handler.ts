import { exportMe } from '../contract/rights';
import { consentView } from '../core/consent';
import { receiptKeySet } from '../services/receipt-keys';
import { audiencesOfUserNow } from '../services/user-audiences';
import { clock } from '../shared/clock';
import { httpRoute, json } from '../shared/http';
import { getAccountState } from '../tables/consent-states';
import { getIdentity } from '../tables/identities';
import { receiptsOf } from '../tables/ledger';
import { pendingMetadata } from '../tables/messages';
import { currentPolicy } from '../tables/policies';
import { forwardGpcSignal } from '../shared/gpc-forward';

const earliest = (...times: (string | undefined)[]): string | null => times.filter((t): t is string => t !== undefined).sort()[0] ?? null;

/**
 * GET /v1/me/export: everything stored about the caller — phone, email,
 * consent and its history (signed receipts, with the keys that check them,
 * so the export verifies offline), how many audiences they are in now (not which
 * businesses) and the metadata of their pending messages.
 */
export const handler = httpRoute(
  'exportMe',
  exportMe,
  async ({ caller }) => {
    const now = clock.now();
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const [identity, state, policy, history, audiences, pendingMessages, receiptKeys] = await Promise.all([
      getIdentity(caller.sub),
      getAccountState(caller.sub),
      currentPolicy(),
      receiptsOf(caller.sub),
      audiencesOfUserNow(caller.sub, nowSeconds),
      pendingMetadata(caller.sub, nowSeconds),
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
      pendingMessages,
    });
  },
  { privacySignal: forwardGpcSignal },
);
