import type { SQSRecord } from 'aws-lambda';
import { ChunkMessage } from '../core/audiences';
import { matchChunk } from '../services/matching';
import { intSetting } from '../shared/config';
import { sqsConsumer } from '../shared/consumers';
import { logger, metrics } from '../shared/observability';

const TTL_DAYS = intSetting('membershipTtlDays');

const receives = (record: SQSRecord) => Number(record.attributes?.ApproximateReceiveCount ?? '1');

/** Chunks of one invocation are matched in parallel: one holds its audience's lease while the others look their keys up (services/matching.ts). */
export const handler = sqsConsumer(
  async (record) => {
    const outcome = await matchChunk(ChunkMessage.parse(JSON.parse(record.body)), receives(record), TTL_DAYS);
    if (outcome !== 'matched') {
      metrics.addMetric(`AudienceChunk_${outcome}`, 'Count', 1);
      logger.info('Audience chunk not matched', { outcome });
    }
  },
  { inParallel: true },
);
