import { recordGpcDenial } from '../services/consent';
import { clock } from '../shared/clock';
import { sqsConsumer } from '../shared/consumers';
import { GpcSignal } from '../shared/gpc';
import { logger, metrics } from '../shared/observability';

/**
 * Global Privacy Control signals forwarded by user routes: the denial of
 * `ads_targeting` is recorded once (source `gpc`), through the same ledger
 * and fan-out as any decision, unless the user decided after the request
 * that carried the signal. Repeated and concurrent signals record nothing more.
 */
export const handler = sqsConsumer(async (record) => {
  const signal = GpcSignal.parse(JSON.parse(record.body));
  const outcome = await recordGpcDenial(signal.userId, () => clock.now(), signal.seenVersion);
  metrics.addMetric(outcome === 'recorded' ? 'GpcDenialRecorded' : 'GpcSignalIgnored', 'Count', 1);
  logger.info('Global Privacy Control signal applied', { outcome });
});
