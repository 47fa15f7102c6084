import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { deleteAudience } from '../contract/audiences';
import { AUDIENCE_ID, DAY_SECONDS } from '../core/audiences';
import type { CleanupMessage } from '../core/audiences';
import { sqs } from '../shared/sqs';
import { clock } from '../shared/clock';
import { queueUrl } from '../shared/config';
import { httpRoute, json } from '../shared/http';
import { metrics } from '../shared/observability';
import { notFound } from '../shared/problems';
import { getAudienceRecord, markDeleted } from '../tables/audiences';

const CLEANUP_QUEUE = queueUrl('audienceCleanup');
/** The deleted audience's tombstone (404 for it, fences late matcher writes) is kept this long. */
const TOMBSTONE_SECONDS = 30 * DAY_SECONDS;

/**
 * Deleting is immediate for everyone who reads: the audience is marked
 * deleted, so it answers 404, matching stops (its lease can no longer be
 * taken) and the ops lookup ignores its memberships. The memberships
 * themselves are removed by the cleanup consumer. The cleanup message is
 * sent first: if this function dies before the mark, the consumer finds the
 * audience alive and drops the message; if it dies after, the work is
 * already queued.
 */
export const handler = httpRoute('deleteAudience', deleteAudience, async ({ params, caller }) => {
  const record = AUDIENCE_ID.test(params.id) ? await getAudienceRecord(caller.sub, params.id) : undefined;
  if (!record || record.deletedAt) throw notFound('No such audience.');
  const now = clock.now();
  const message: CleanupMessage = { v: 1, businessId: caller.sub, audienceId: params.id, pass: 1, requestedAtMs: now.getTime() };
  await sqs.send(new SendMessageCommand({ QueueUrl: CLEANUP_QUEUE, MessageBody: JSON.stringify(message) }));
  if (!(await markDeleted(caller.sub, params.id, now.toISOString(), clock.nowSeconds() + TOMBSTONE_SECONDS))) {
    throw notFound('No such audience.');
  }
  metrics.addMetric('AudienceDeleted', 'Count', 1);
  return json(202, { id: params.id });
});
