import { publishLedgerRecord } from '../services/account-events';
import { topicArn } from '../shared/config';
import { replayer } from '../shared/stream-replay';

// Fails at cold start, not mid-replay, when the topic is not bound.
topicArn('accountEvents');

/** The ledger stream records the publisher gave up on, published from their on-failure records (shared/stream-replay.ts). */
export const handler = replayer(['INSERT'], publishLedgerRecord);
