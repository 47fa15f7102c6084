import { trackRemoval } from '../services/message-removals';
import { streamConsumer } from '../shared/consumers';

/**
 * The messages table's stream (keys only): removals become `delivered` or
 * `expired` (services/message-removals.ts). Inserts are filtered out by the
 * trigger (and ignored): `accepted` is written when the message is sent.
 * Records it keeps failing on are replayed by `replayMessageRemovals`.
 */
export const handler = streamConsumer(trackRemoval);
