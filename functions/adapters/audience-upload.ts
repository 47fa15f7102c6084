import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { AUDIENCE_ID, MAX_ROWS, admitBatch, batchDigest, keyBatch, sessionAfter, DAY_SECONDS } from '../core/audiences';
import type { ChunkMessage, Operation, SchemaKey } from '../core/audiences';
import { sqs } from '../shared/sqs';
import { clock } from '../shared/clock';
import { intSetting, queueUrl } from '../shared/config';
import { logger, metrics } from '../shared/observability';
import { conflict, notFound, payloadTooLarge } from '../shared/problems';
import { pepper } from '../shared/secrets';
import { getAudienceRecord } from './audiences';
import { getBatch, getSession, recordBatch } from './upload-sessions';
import type { BatchRecord } from './upload-sessions';

const MATCHING_QUEUE = queueUrl('audienceMatching');
const SESSION_TIMEOUT_MS = intSetting('sessionTimeoutMinutes') * 60_000;
/** Sessions and batch receipts are kept as long as a membership they made can live, so a late retry stays a replay. */
const RETENTION_SECONDS = (intSetting('membershipTtlDays') + 1) * DAY_SECONDS;
const MAX_ATTEMPTS = 5;

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
 *    transaction: batch, session counters, audience's chunks to match). If
 *    this function dies in between, the batch was not accepted (no 202 was
 *    given and nothing was counted): the matcher drops chunks whose batch was
 *    never recorded, and the client's retry sends and records them again. If
 *    two attempts race, the batch is recorded once and the matcher applies
 *    each chunk once (per-chunk marks, digest of the recorded attempt).
 */
export async function acceptBatch(operation: Operation, businessId: string, audienceId: string, body: UploadBody): Promise<BatchReceipt> {
  if (body.data.length > MAX_ROWS) throw payloadTooLarge(`A request carries at most ${MAX_ROWS} rows; send the rest in further batches.`);
  if (!AUDIENCE_ID.test(audienceId)) throw notFound('No such audience.');
  const audience = await getAudienceRecord(businessId, audienceId);
  if (!audience || audience.deletedAt) throw notFound('No such audience.');

  const keyed = keyBatch(await pepper(), body.schema, body.data);
  const chunks = keyed.chunks.map((chunk) => chunk.toString('base64'));
  const digest = batchDigest(keyed.chunks);
  const { id: sessionId, batchSeq, lastBatch, estimatedTotal } = body.session;
  const request = { operation, batchSeq, lastBatch, ...(estimatedTotal !== undefined ? { estimatedTotal } : {}) };
  const receipt: BatchReceipt = { sessionId, numReceived: keyed.numReceived, numInvalid: keyed.numInvalid, invalidSamples: keyed.invalidSamples };

  let sent = false;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const [session, recorded] = await Promise.all([getSession(audienceId, sessionId), getBatch(audienceId, sessionId, batchSeq)]);
    if (recorded) {
      metrics.addMetric('AudienceBatchReplayed', 'Count', 1);
      return receiptOf(recorded);
    }
    const nowMs = clock.nowMs();
    admitBatch(session, request, nowMs, SESSION_TIMEOUT_MS);
    if (!sent) {
      await sendChunks(chunks, { operation, businessId, audienceId, sessionId, batchSeq, batchDigest: digest });
      sent = true;
    }
    const next = sessionAfter(
      session,
      request,
      { numReceived: keyed.numReceived, numInvalid: keyed.numInvalid, chunks: chunks.length },
      nowMs,
      SESSION_TIMEOUT_MS,
    );
    const outcome = await recordBatch({
      businessId,
      audienceId,
      batch: { ...receipt, batchSeq, operation, chunkCount: chunks.length, batchDigest: digest, uploadedAtMs: nowMs },
      session: next,
      previousRev: session?.rev ?? 0,
      expiresAt: Math.floor(next.firstBatchAtMs / 1000) + RETENTION_SECONDS,
    });
    if (outcome === 'recorded') {
      metrics.addMetric('AudienceBatchAccepted', 'Count', 1);
      metrics.addMetric('AudienceRowsReceived', 'Count', keyed.numReceived);
      metrics.addMetric('AudienceRowsInvalid', 'Count', keyed.numInvalid);
      logger.info('Audience batch accepted', { operation, rows: keyed.numReceived, invalid: keyed.numInvalid, chunks: chunks.length });
      return receipt;
    }
    if (outcome === 'audience-gone') throw notFound('No such audience.');
    // Another batch of the session (or this one) was recorded meanwhile: decide again on fresh state.
  }
  throw conflict('session-busy', 'Other batches of this session were being recorded at the same time; retry this batch.');
}

async function sendChunks(
  chunks: readonly string[],
  batch: Pick<ChunkMessage, 'operation' | 'businessId' | 'audienceId' | 'sessionId' | 'batchSeq' | 'batchDigest'>,
): Promise<void> {
  const sentAtMs = clock.nowMs();
  await Promise.all(
    chunks.map((rows, chunk) => {
      const message: ChunkMessage = { v: 1, ...batch, chunk, chunks: chunks.length, sentAtMs, rows };
      return sqs.send(new SendMessageCommand({ QueueUrl: MATCHING_QUEUE, MessageBody: JSON.stringify(message) }));
    }),
  );
}
