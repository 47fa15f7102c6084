import { claimPart, getIdentity, releaseClaimPart, setIdentifierPart } from '../tables/identities';
import type { IdentifierField } from '../tables/identities';
import { outboxEventPart } from '../tables/ledger';
import { transact, TransactionCancelled } from '../tables/dynamo';
import { conflict } from '../shared/problems';
import { optimistic, retry } from '../shared/retry';

const ATTEMPTS = 4;

/**
 * Binds a phone number or email to the user, in one transaction: claim the
 * new value (unless another user holds it), set it on the user, release the
 * old one, and put an `IdentifiersChanged` event in the outbox. If the user's
 * identifiers changed meanwhile, it starts over on what is there now.
 */
export async function bindIdentifier(userId: string, field: IdentifierField, value: string, now: Date): Promise<void> {
  await optimistic(
    { attempts: ATTEMPTS, exhausted: () => conflict('concurrent-change', 'The account was being changed at the same time; try again.') },
    async () => {
      const identity = await getIdentity(userId);
      const previous = identity[field];
      if (previous === value) return;
      const at = now.toISOString();
      try {
        await transact([
          claimPart(userId, field, value, at),
          setIdentifierPart(userId, field, value, previous, at),
          releaseClaimPart(userId, field, previous),
          outboxEventPart(userId, 'IdentifiersChanged', now),
        ]);
      } catch (error) {
        if (!(error instanceof TransactionCancelled)) throw error;
        if (error.failedOn('claim')) {
          throw conflict(
            field === 'phoneNumber' ? 'phone-taken' : 'email-taken',
            `That ${field === 'phoneNumber' ? 'number' : 'address'} is bound to another account.`,
          );
        }
        return retry();
      }
    },
  );
}
