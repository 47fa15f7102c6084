/**
 * Verified phone numbers and emails: starting a verification (rate limits,
 * the verification item, the outbox message) and binding a verified value
 * (the code, then the value moves to the caller in one transaction).
 *
 * No answer may tell whether another account holds a value, so nothing
 * before a correct code looks at who holds it: starting reads the two rate
 * counters and writes one transaction whoever holds the value, and a wrong
 * code reads and counts on the verification item only. A correct code reads
 * the caller's identity and the value's claim, then writes one transaction,
 * held or free.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { admit, CODE_TTL_SECONDS, codeMatches, identifierKind, identifierTag, isLive, MAX_WRONG_CODES, newVerificationId } from '../core/verification';
import type { VerifiedField } from '../core/verification';
import {
  consumeVerificationPart,
  countWrongCode,
  getIdentity,
  getLimitCounter,
  getVerification,
  limitPart,
  loseIdentifierPart,
  moveClaimPart,
  ownerOf,
  releaseClaimPart,
  setIdentifierPart,
  verificationPart,
} from '../tables/identities';
import type { Verification } from '../tables/identities';
import { outboxEventPart } from '../tables/ledger';
import { transact, TransactionCancelled } from '../tables/dynamo';
import { queueUrl } from '../shared/config';
import { Problem, conflict, tooManyRequests } from '../shared/problems';
import { jittered, optimistic, retry } from '../shared/retry';
import { verificationKey } from '../shared/secrets';
import { sqs } from '../shared/sqs';

const ATTEMPTS = 12;

export interface VerificationLimits {
  readonly accountLimit: number;
  readonly accountWindowSeconds: number;
  readonly identifierLimit: number;
  readonly identifierWindowSeconds: number;
}

/** The message the sender reads: the verification id and nothing else (no code, number or address). */
export interface OutboxMessage {
  readonly verificationId: string;
}

const busy = () => conflict('concurrent-change', 'The account was being changed at the same time; try again.');

/**
 * Starts a verification of `value` for the user: both rolling limits admit
 * it (the account's starts, and the codes sent to the value whoever asked),
 * then the two counters and the verification are written in one
 * transaction (a refusal writes nothing), then the outbox queue gets the
 * verification id. Returns the id and when its code expires.
 */
export async function startVerification(
  userId: string,
  field: VerifiedField,
  value: string,
  now: Date,
  limits: VerificationLimits,
): Promise<{ verificationId: string; expiresAt: string }> {
  const key = await verificationKey();
  const tag = identifierTag(key, field, value);
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const verification: Verification = {
    verificationId: newVerificationId(),
    userId,
    field,
    value,
    createdAt: now.toISOString(),
    expiresAt: nowSeconds + CODE_TTL_SECONDS,
    wrongCodes: 0,
  };
  await optimistic({ attempts: ATTEMPTS, exhausted: busy }, async (attempt) => {
    const [account, identifier] = await Promise.all([getLimitCounter('account', userId), getLimitCounter('identifier', tag)]);
    const byAccount = admit(account.times, nowSeconds, limits.accountLimit, limits.accountWindowSeconds);
    const byIdentifier = admit(identifier.times, nowSeconds, limits.identifierLimit, limits.identifierWindowSeconds);
    if (!byAccount.admitted || !byIdentifier.admitted) throw tooManyRequests(Math.max(byAccount.retryAfter, byIdentifier.retryAfter));
    try {
      await transact([
        limitPart(account, byAccount.times, nowSeconds + limits.accountWindowSeconds),
        limitPart(identifier, byIdentifier.times, nowSeconds + limits.identifierWindowSeconds),
        verificationPart(verification),
      ]);
      return undefined;
    } catch (error) {
      if (error instanceof TransactionCancelled) return retry(jittered(10 * attempt));
      throw error;
    }
  });
  const message: OutboxMessage = { verificationId: verification.verificationId };
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl('verificationOutbox'), MessageBody: JSON.stringify(message) }));
  return { verificationId: verification.verificationId, expiresAt: new Date(verification.expiresAt * 1000).toISOString() };
}

export const gone = () =>
  new Problem(
    410,
    'verification-gone',
    'Verification gone',
    'This verification is unknown, expired, already used, or its code was wrong too often. Start a new one.',
  );

const wrongCode = (left: number) =>
  new Problem(400, 'wrong-code', 'Wrong code', `That is not the code that was sent. ${left} ${left === 1 ? 'try' : 'tries'} left.`, { triesLeft: left });

/**
 * Binds the value a verification proves to the caller, once its code is
 * right. A verification of another user, of the other kind of identifier,
 * expired, used up or unknown: 410. A wrong code: 400, and the fifth wrong
 * code ends the verification (410). A right code moves the value to the
 * caller in one transaction: the verification is used up; the claim moves
 * from any earlier holder, who loses the value and gets an `IdentifierLost`
 * event; the caller's previous value is released; the caller gets an
 * `IdentifiersChanged` event. Returns the bound value.
 */
export async function confirmVerification(userId: string, field: VerifiedField, verificationId: string, code: string, now: Date): Promise<string> {
  const key = await verificationKey();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  return optimistic({ attempts: ATTEMPTS, exhausted: busy }, async (attempt) => {
    const v = await getVerification(verificationId);
    if (!isLive(v, nowSeconds) || v.userId !== userId || v.field !== field) throw gone();
    if (!codeMatches(key, verificationId, code)) {
      const counted = await countWrongCode(v);
      if (counted === undefined) return retry();
      if (counted >= MAX_WRONG_CODES) throw gone();
      throw wrongCode(MAX_WRONG_CODES - counted);
    }
    const [identity, holder] = await Promise.all([getIdentity(userId), ownerOf(field, v.value)]);
    const previous = identity[field];
    const at = now.toISOString();
    const earlier = holder !== undefined && holder !== userId ? holder : undefined;
    try {
      await transact([
        consumeVerificationPart(v),
        moveClaimPart(userId, field, v.value, holder, at),
        previous !== v.value && setIdentifierPart(userId, field, v.value, previous, at),
        previous !== v.value && releaseClaimPart(userId, field, previous),
        previous !== v.value && outboxEventPart(userId, 'IdentifiersChanged', now),
        earlier !== undefined && loseIdentifierPart(earlier, field, v.value, at),
        earlier !== undefined && outboxEventPart(earlier, 'IdentifierLost', now, { name: 'lost', identifier: identifierKind(field) }),
      ]);
      return v.value;
    } catch (error) {
      if (!(error instanceof TransactionCancelled)) throw error;
      // The verification changed (used, or a wrong code counted meanwhile): read it again; anything else: start over.
      return retry(jittered(10 * attempt));
    }
  });
}
