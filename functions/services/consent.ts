import { randomUUID } from 'node:crypto';
import { decide } from '../core/consent';
import type { DecisionInput, Receipt } from '../core/consent';
import { decisionPart, getAccountState, idempotencyPart, storedAnswer } from '../tables/consent-states';
import type { StoredAnswer } from '../tables/consent-states';
import { receiptPart } from '../tables/ledger';
import { currentPolicy } from '../tables/policies';
import { transact, TransactionCancelled } from '../tables/dynamo';
import { conflict } from '../shared/problems';
import { optimistic, retry } from '../shared/retry';

const ATTEMPTS = 4;

export interface Idempotency {
  readonly key: string;
  readonly requestHash: string;
  readonly expiresAt: number;
}

export type DecisionOutcome = { kind: 'recorded'; receipt: Receipt } | { kind: 'replay'; stored: StoredAnswer };

/**
 * Records a decision: the new state, its ledger receipt (whose stream is the
 * outbox) and, with an Idempotency-Key, the stored answer, in one transaction
 * guarded by the consent version read before. When another decision of the
 * user won the race it decides again on the new state; when the same key was
 * used meanwhile it answers with what that request recorded.
 */
export async function recordDecision(userId: string, input: DecisionInput, now: () => Date, idempotency?: Idempotency): Promise<DecisionOutcome> {
  return optimistic(
    { attempts: ATTEMPTS, exhausted: () => conflict('concurrent-decision', 'Another decision was being recorded at the same time; try again.') },
    async () => {
      const [account, policy] = await Promise.all([getAccountState(userId), currentPolicy()]);
      const { state, receipt } = decide(account.consent, policy, input, randomUUID(), now().toISOString());
      try {
        await transact([
          decisionPart(userId, account.consent.version, state),
          receiptPart(userId, receipt),
          idempotency && idempotencyPart(userId, idempotency.key, { requestHash: idempotency.requestHash, receipt }, idempotency.expiresAt),
        ]);
        return { kind: 'recorded' as const, receipt };
      } catch (error) {
        if (!(error instanceof TransactionCancelled)) throw error;
        if (idempotency && error.failedOn('idempotency')) {
          const stored = await storedAnswer(userId, idempotency.key);
          if (stored) return { kind: 'replay' as const, stored };
        }
        return retry();
      }
    },
  );
}
