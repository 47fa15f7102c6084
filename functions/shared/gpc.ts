/**
 * Global Privacy Control on the user routes that do not record decisions
 * themselves: a `Sec-GPC: 1` request from a user whose `ads_targeting` is
 * granted hands the signal to `applyGpc` (queue `gpcSignals`), which records
 * the denial with source `gpc`. Only the user id and the consent version the
 * request saw travel: `applyGpc` records nothing if a newer decision came
 * first, and nothing twice (services/consent.ts `recordGpcDenial`).
 *
 * Loaded on demand (a request that carries the signal), so functions pay
 * for the SQS client only when they use it.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { queueUrl } from './config';
import { metrics } from './observability';
import { sqs } from './sqs';
import { getAccountState } from '../tables/consent-states';

export const GpcSignal = z.strictObject({ userId: z.string().min(1).max(128), seenVersion: z.number().int().nonnegative() });
export type GpcSignal = z.infer<typeof GpcSignal>;

export async function forwardPrivacySignal(userId: string): Promise<void> {
  const { consent } = await getAccountState(userId);
  if (consent.version === 0 || consent.purposes.ads_targeting !== 'granted') return;
  const signal: GpcSignal = { userId, seenVersion: consent.version };
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl('gpcSignals'), MessageBody: JSON.stringify(signal) }));
  metrics.addMetric('GpcSignalForwarded', 'Count', 1);
}
