import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { CleanupMessage } from '../core/audiences';
import { sqs } from '../shared/sqs';
import { clock } from '../shared/clock';
import { sleep } from '../shared/concurrency';
import { queueUrl } from '../shared/config';
import { sqsConsumer } from '../shared/consumers';
import { metrics } from '../shared/observability';
import { getAudienceRecord } from '../tables/audiences';
import { deleteMembershipKeys, membershipPage } from '../tables/memberships';

const CLEANUP_QUEUE = queueUrl('audienceCleanup');
/** Memberships removed per message; the rest is a continuation message. */
const PAGE = 1_000;
/** The second sweep runs this much later: index lag and a matcher that was mid-chunk are over by then. */
const SECOND_PASS_DELAY_SECONDS = 30;
const MARK_WAIT_MS = 3_000;

export type CleanupOutcome = 'page' | 'done' | 'dropped-alive';

/**
 * Removes a deleted audience's memberships, a page of the `byAudience`
 * index at a time (BatchWriteItem, 25 a call), continuing through further
 * messages, then once more a little later to catch items the index had not
 * shown yet. Deleting what is already gone is harmless, so retries are too.
 * A message for an audience that is not marked deleted comes from a delete
 * request that failed after queuing it: it is dropped once that is certain.
 */
export async function cleanup(message: CleanupMessage, receiveCount: number): Promise<CleanupOutcome> {
  for (let waited = 0; ; waited += 250) {
    const audience = await getAudienceRecord(message.businessId, message.audienceId);
    if (!audience || audience.deletedAt) break;
    if (waited >= MARK_WAIT_MS) {
      if (receiveCount >= 3 && clock.nowMs() - message.requestedAtMs >= 60_000) return 'dropped-alive';
      throw new Error('The audience is not marked deleted yet');
    }
    await sleep(250);
  }
  const page = await membershipPage(message.audienceId, message.cursor, PAGE);
  await deleteMembershipKeys(page.keys);
  metrics.addMetric('AudienceMembershipsCleanedUp', 'Count', page.keys.length);
  if (page.cursor) {
    await send({ ...message, cursor: page.cursor as Record<string, string> });
    return 'page';
  }
  if (message.pass === 1) {
    const { cursor: _done, ...rest } = message;
    await send({ ...rest, pass: 2 }, SECOND_PASS_DELAY_SECONDS);
  }
  return 'done';
}

const send = (message: CleanupMessage, delaySeconds = 0) =>
  sqs.send(new SendMessageCommand({ QueueUrl: CLEANUP_QUEUE, MessageBody: JSON.stringify(message), DelaySeconds: delaySeconds }));

const receives = (record: SQSRecord) => Number(record.attributes?.ApproximateReceiveCount ?? '1');

export const handler = sqsConsumer(async (record) => {
  await cleanup(CleanupMessage.parse(JSON.parse(record.body)), receives(record));
});
