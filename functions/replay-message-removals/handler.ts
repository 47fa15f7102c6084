import { trackRemoval } from '../services/message-removals';
import { replayer } from '../shared/stream-replay';

/** The messages stream records the status function gave up on, turned into statuses from their on-failure records (shared/stream-replay.ts). */
export const handler = replayer(['REMOVE'], trackRemoval);
