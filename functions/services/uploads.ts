import { createHash } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { AUDIENCE_ID, MAX_ROWS, admitBatch, batchDigest, keyBatch, sessionAfter, DAY_SECONDS, expiryDay } from '../core/audiences';
import { settleUntil } from '../core/size-release';
import type { ChunkMessage, Operation, SchemaKey } from '../core/audiences';
import { sqs } from '../shared/sqs';
import { clock } from '../shared/clock';
import { intSetting, queueUrl } from '../shared/config';
import { logger, metrics } from '../shared/observability';
import { conflict, notFound, payloadTooLarge } from '../shared/problems';
import { pepper } from '../shared/secrets';
import { batchAcceptedPart, getAudienceRecord } from '../tables/audiences';
import { transact, TransactionCancelled } from '../tables/dynamo';
import { batchPart, getBatch, getSession, sessionPart } from '../tables/upload-sessions';
import type { BatchRecord } from '../tables/upload-sessions';
import { jittered, optimistic, retry } from '../shared/retry';
import { currentReleaseSettings } from './size-releases';

const MATCHING_QUEUE = queueUrl('audienceMatching');
const SESSION_TIMEOUT_MS = intSetting('sessionTimeoutMinutes') * 60_000;
/** Sessions and batch receipts are kept as long as a membership they made can live, so a late retry stays a replay. */
const TTL_DAYS = intSetting('membershipTtlDays');
const RETENTION_SECONDS = (TTL_DAYS + 1) * DAY_SECONDS;
/** Batches of one audience recorded at the same moment retry on its settle time: room for a few of them. */
const ATTEMPTS = 8;

export interface UploadBody {
  readonly session: { readonly id: number; readonly batchSeq: number; readonly lastBatch: boolean; readonly estimatedTotal?: number | undefined };
  readonly schema: readonly SchemaKey[];
  readonly data: readonly unknown[];
}

export interface BatchReceipt {
  readonly sessionId: number;
  readonly numReceived: number;
  readonly numInvalid: number;
  readonly invalidSamples: number[];
}

const receiptOf = (batch: Pick<BatchRecord, 'sessionId' | 'numReceived' | 'numInvalid' | 'invalidSamples'>): BatchReceipt => ({
  sessionId: batch.sessionId,
  numReceived: batch.numReceived,
  numInvalid: batch.numInvalid,
  invalidSamples: batch.invalidSamples,
});

/**
 * Accepts one batch of an upload session.
 *
 * 1. Validate and key every row in memory (core/audiences.ts): from here on
 *    only match keys exist; invalid rows are counts and indexes.
 * 2. A batchSeq the session already recorded answers its stored receipt and
 *    changes nothing.
 * 3. Send the keyed chunks to the matching queue, THEN record the batch (one
 *    transaction: batch, session counters and settle time, the audience's
 *    chunks to match and what the size-release rule records of a batch:
 *    core/size-release.ts, batchAccepted, nothing that depends on what the
 *    rows match). If
 *    this function dies in between, the batch was not accepted (no 202 was
 *    given and nothing was counted): the matcher drops chunks whose batch was
 *    never recorded, and the client's retry sends and records them again. If
 *    two attempts race, the batch is recorded once and the matcher applies
 *    each chunk once (per-chunk marks, digest of the recorded attempt).
 */
export async function acceptBatch(operation: Operation, businessId: string, audienceId: string, body: UploadBody): Promise<BatchReceipt> {
  if (body.data.length > MAX_ROWS) throw payloadTooLarge(`A request carries at most ${MAX_ROWS} rows; send the rest in further batches.`);
  if (!AUDIENCE_ID.test(audienceId)) throw notFound('No such audience.');
  const first = await getAudienceRecord(businessId, audienceId);
  if (!first || first.deletedAt) throw notFound('No such audience.');
  const settings = currentReleaseSettings();

  const keyed = keyBatch(await pepper(), body.schema, body.data);
  const chunks = keyed.chunks.map((chunk) => chunk.toString('base64'));
  const digest = batchDigest(keyed.chunks);
  const { id: sessionId, batchSeq, lastBatch, estimatedTotal } = body.session;
  const request = { operation, batchSeq, lastBatch, ...(estimatedTotal !== undefined ? { estimatedTotal } : {}) };
  const receipt: BatchReceipt = { sessionId, numReceived: keyed.numReceived, numInvalid: keyed.numInvalid, invalidSamples: keyed.invalidSamples };

  // Chunks go to the queue once, whichever attempt records the batch.
  const send = once(() => sendChunks(chunks, { operation, businessId, audienceId, sessionId, batchSeq, batchDigest: digest }));
  return optimistic(
    { attempts: ATTEMPTS, exhausted: () => conflict('session-busy', 'Other batches of this session were being recorded at the same time; retry this batch.') },
    async (attempt) => {
      const [session, recorded, audience] = await Promise.all([
        getSession(audienceId, sessionId),
        getBatch(audienceId, sessionId, batchSeq),
        attempt === 1 ? first : getAudienceRecord(businessId, audienceId),
      ]);
      if (!audience || audience.deletedAt) throw notFound('No such audience.');
      if (recorded) {
        metrics.addMetric('AudienceBatchReplayed', 'Count', 1);
        return receiptOf(recorded);
      }
      const nowMs = clock.nowMs();
      admitBatch(session, request, nowMs, SESSION_TIMEOUT_MS);
      await send();
      const next = sessionAfter(
        session,
        request,
        { numReceived: keyed.numReceived, numInvalid: keyed.numInvalid, chunks: chunks.length },
        nowMs,
        SESSION_TIMEOUT_MS,
      );
      const expiresAt = Math.floor(next.firstBatchAtMs / 1000) + RETENTION_SECONDS;
      // When this batch's matching shows as over, by its chunk count alone; the audience's and the session's settle times only rise.
      const settle = chunks.length > 0 ? settleUntil(undefined, nowMs, chunks.length, settings) : 0;
      try {
        // One transaction: the batch (once per batchSeq), the session's counters (guarded by the
        // revision read before) and the audience's chunks to match (only if it is not deleted).
        await transact([
          batchPart(
            businessId,
            audienceId,
            { ...receipt, batchSeq, operation, chunkCount: chunks.length, batchDigest: digest, uploadedAtMs: nowMs },
            expiresAt,
          ),
          sessionPart(
            businessId,
            audienceId,
            sessionId,
            { ...next, settleUntilMs: Math.max(session?.settleUntilMs ?? 0, settle) },
            session?.rev ?? 0,
            expiresAt,
          ),
          batchAcceptedPart(businessId, audienceId, {
            chunks: chunks.length,
            operation,
            atMs: nowMs,
            expiryDay: expiryDay(nowMs, TTL_DAYS),
            ordinal: audience.batches + 1,
            settleUntilMs: settle > audience.settleUntilMs ? settle : undefined,
            previousSettleUntilMs: audience.settleUntilMs,
          }),
        ]);
      } catch (error) {
        if (!(error instanceof TransactionCancelled)) throw error;
        // Another batch of the session or of the audience (or this one) was recorded meanwhile, or the
        // audience was deleted: decide again on fresh state.
        return retry(error.failedOn('audience') ? jittered(20) : 0);
      }
      metrics.addMetric('AudienceBatchAccepted', 'Count', 1);
      metrics.addMetric('AudienceRowsReceived', 'Count', keyed.numReceived);
      metrics.addMetric('AudienceRowsInvalid', 'Count', keyed.numInvalid);
      logger.info('Audience batch accepted', { operation, rows: keyed.numReceived, invalid: keyed.numInvalid, chunks: chunks.length });
      return receipt;
    },
  );
}

/** `fn` run at most once; later calls get the first call's promise. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
}

/**
 * Puts the chunks on the matching queue, grouped by audience (a FIFO queue:
 * one invocation at a time matches an audience's chunks), one call each (a
 * chunk is sized near SQS's limit for a whole call). The deduplication id
 * names the chunk of this send: SQS drops a repeat of the same send (the SDK
 * retrying a call whose answer was lost), never a later attempt's.
 */
async function sendChunks(
  chunks: readonly string[],
  batch: Pick<ChunkMessage, 'operation' | 'businessId' | 'audienceId' | 'sessionId' | 'batchSeq' | 'batchDigest'>,
): Promise<void> {
  const sentAtMs = clock.nowMs();
  await Promise.all(
    chunks.map((rows, chunk) => {
      const message: ChunkMessage = { v: 1, ...batch, chunk, chunks: chunks.length, sentAtMs, rows };
      const send = [batch.audienceId, batch.sessionId, batch.batchSeq, chunk, batch.batchDigest, sentAtMs].join('/');
      return sqs.send(
        new SendMessageCommand({
          QueueUrl: MATCHING_QUEUE,
          MessageBody: JSON.stringify(message),
          MessageGroupId: batch.audienceId,
          MessageDeduplicationId: createHash('sha256').update(send).digest('hex'),
        }),
      );
    }),
  );
}
