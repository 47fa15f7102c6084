import { erasedPart } from '../tables/consent-states';
import { eraseIdentifiersPart, getIdentity, releaseClaimPart } from '../tables/identities';
import { outboxEventPart } from '../tables/ledger';
import { transact, TransactionCancelled } from '../tables/dynamo';
import { conflict } from '../shared/problems';
import { optimistic, retry } from '../shared/retry';

const ATTEMPTS = 4;

/**
 * Erases the user's phone number and email in one transaction: the
 * identifiers leave the identity table, their claims are released, the
 * account is marked erased (its earlier grants apply to nothing from now on)
 * and an `AccountErased` event goes into the outbox, so every consumer
 * (match index, audiences, suggestions, messages) forgets the user. Consent
 * receipts stay in the ledger as proof; they never held either value.
 */
export async function eraseAccount(userId: string, now: Date): Promise<void> {
  await optimistic(
    { attempts: ATTEMPTS, exhausted: () => conflict('concurrent-change', 'The account was being changed at the same time; try again.') },
    async () => {
      const identity = await getIdentity(userId);
      const at = now.toISOString();
      try {
        await transact([
          eraseIdentifiersPart(identity, at),
          releaseClaimPart(userId, 'phoneNumber', identity.phoneNumber),
          releaseClaimPart(userId, 'email', identity.email),
          erasedPart(userId, at),
          outboxEventPart(userId, 'AccountErased', now),
        ]);
      } catch (error) {
        // An identifier changed meanwhile: read again and retry.
        if (error instanceof TransactionCancelled) return retry();
        throw error;
      }
    },
  );
}
