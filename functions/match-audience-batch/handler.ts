import type { SQSRecord } from 'aws-lambda';
import { ChunkMessage } from '../core/audiences';
import { LeaseLine, matchChunk } from '../services/matching';
import { intSetting } from '../shared/config';
import { sqsConsumer } from '../shared/consumers';
import { logger, metrics } from '../shared/observability';

const TTL_DAYS = intSetting('membershipTtlDays');

const receives = (record: SQSRecord) => Number(record.attributes?.ApproximateReceiveCount ?? '1');

/**
 * Chunks of one invocation are matched in parallel: they look their keys up
 * at once, then take their audience's lease in turn, each handing it to the
 * next (services/matching.ts, `LeaseLine`).
 */
export const handler = sqsConsumer(
  async (record, line: LeaseLine) => {
    const outcome = await matchChunk(ChunkMessage.parse(JSON.parse(record.body)), receives(record), TTL_DAYS, line);
    if (outcome !== 'matched') {
      metrics.addMetric(`AudienceChunk_${outcome}`, 'Count', 1);
      logger.info('Audience chunk not matched', { outcome });
    }
  },
  { inParallel: true, perBatch: () => new LeaseLine() },
);
