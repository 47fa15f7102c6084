import * as z from 'zod';
import { isLive, verificationCode, verificationMessage } from '../core/verification';
import { clock } from '../shared/clock';
import { sqsConsumer } from '../shared/consumers';
import { deliver } from '../shared/delivery';
import { metrics } from '../shared/observability';
import { verificationKey } from '../shared/secrets';
import { getVerification } from '../tables/identities';

const OutboxMessage = z.strictObject({ verificationId: z.string().min(1).max(128) });

/**
 * The sender of the verification outbox. A message names a verification
 * only: the destination is read from the identity table and the code is
 * derived under the key just before sending (core/verification.ts), so the
 * queue never holds a code, number or address. A verification that expired,
 * was used or ran out of tries gets nothing (a message redriven late sends
 * no stale code). SQS retries a failed send; the number, address, text and
 * code are never logged.
 */
export const handler = sqsConsumer(async (record) => {
  const { verificationId } = OutboxMessage.parse(JSON.parse(record.body));
  const verification = await getVerification(verificationId);
  if (!isLive(verification, clock.nowSeconds())) {
    metrics.addMetric('VerificationCodeSkipped', 'Count', 1);
    return;
  }
  const code = verificationCode(await verificationKey(), verificationId);
  const { subject, text } = verificationMessage(code);
  await deliver({ channel: verification.field === 'phoneNumber' ? 'sms' : 'email', to: verification.value, subject, text, code });
  metrics.addMetric(verification.field === 'phoneNumber' ? 'VerificationSmsSent' : 'VerificationEmailSent', 'Count', 1);
});
