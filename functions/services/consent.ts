import { randomUUID } from 'node:crypto';
import { decide, gpcDenial } from '../core/consent';
import type { ConsentState, DecisionInput, Receipt, RecordedDecision } from '../core/consent';
import { sealReceipt } from '../core/receipts';
import { decisionPart, getAccountState, idempotencyPart, storedAnswer } from '../tables/consent-states';
import type { AccountState, StoredAnswer } from '../tables/consent-states';
import { receiptPart } from '../tables/ledger';
import { currentPolicy } from '../tables/policies';
import { transact, TransactionCancelled } from '../tables/dynamo';
import { signerOf } from '../shared/keys';
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
 * The receipt of a decision, chained to the receipt of the state it was
 * decided on (the hash kept with that state, read in the same consistent
 * read as its version) and signed with the receipt key. The transaction that
 * stores it is conditional on that version, so two receipts can never chain
 * to the same predecessor: the loser reads again and chains to the winner.
 */
async function receiptFor(account: AccountState, decision: RecordedDecision): Promise<Receipt> {
  return sealReceipt({ userId: account.userId, ...decision, prevHash: account.receiptHash ?? null }, await signerOf('receiptSigning'));
}

const stateParts = (account: AccountState, state: ConsentState, receipt: Receipt) => [
  decisionPart(account.userId, account.consent.version, state, receipt.hash),
  receiptPart(receipt),
];

/**
 * Records a decision: the new state, its signed ledger receipt (whose stream
 * is the outbox) and, with an Idempotency-Key, the stored answer, in one
 * transaction guarded by the consent version read before. When another
 * decision of the user won the race it decides again on the new state; when
 * the same key was used meanwhile it answers with what that request recorded.
 */
export async function recordDecision(userId: string, input: DecisionInput, now: () => Date, idempotency?: Idempotency): Promise<DecisionOutcome> {
  return optimistic(
    { attempts: ATTEMPTS, exhausted: () => conflict('concurrent-decision', 'Another decision was being recorded at the same time; try again.') },
    async () => {
      const [account, policy] = await Promise.all([getAccountState(userId), currentPolicy()]);
      const { state, receipt: decision } = decide(account.consent, policy, input, randomUUID(), now().toISOString());
      const receipt = await receiptFor(account, decision);
      try {
        await transact([
          ...stateParts(account, state, receipt),
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

export type GpcOutcome = 'recorded' | 'not-granted' | 'superseded';

/**
 * Honours a Global Privacy Control signal: records the denial of
 * `ads_targeting` (source `gpc`) if it is granted, through the same ledger
 * and fan-out as any decision. Idempotent: once denied, another signal
 * records nothing, and of concurrent signals one records and the others find
 * it denied. `seenVersion` is the consent version the request carrying the
 * signal saw; a decision recorded after it (a grant made later, from
 * somewhere without the signal) is not overridden by an older signal.
 */
export async function recordGpcDenial(userId: string, now: () => Date, seenVersion?: number): Promise<GpcOutcome> {
  return optimistic(
    { attempts: ATTEMPTS, exhausted: () => conflict('concurrent-decision', 'Another decision was being recorded at the same time; try again.') },
    async () => {
      const account = await getAccountState(userId);
      if (seenVersion !== undefined && account.consent.version > seenVersion) return 'superseded' as const;
      const denial = gpcDenial(account.consent, randomUUID(), now().toISOString());
      if (!denial) return 'not-granted' as const;
      const receipt = await receiptFor(account, denial.receipt);
      try {
        await transact(stateParts(account, denial.state, receipt));
        return 'recorded' as const;
      } catch (error) {
        if (!(error instanceof TransactionCancelled)) throw error;
        return retry();
      }
    },
  );
}
