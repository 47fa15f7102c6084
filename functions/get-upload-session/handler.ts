import { getUploadSession } from '../contract/audiences';
import { AUDIENCE_ID, parseSessionId } from '../core/audiences';
import { visibleSessionStage } from '../core/size-release';
import { currentReleaseSettings } from '../services/size-releases';
import { clock } from '../shared/clock';
import { httpRoute, json } from '../shared/http';
import { notFound } from '../shared/problems';
import { getAudienceRecord } from '../tables/audiences';
import { getSession } from '../tables/upload-sessions';

/**
 * A session's stage is computed when it is read: `receiving` until the last
 * batch (and every one before it) is in or the timeout after the first batch
 * passed, then `processing` until every chunk is matched and its settle time
 * has passed, then `done` (core/size-release.ts, visibleSessionStage): when
 * it is done depends on when its batches came and how many chunks they had,
 * never on how many rows matched. No timer is needed for a session whose
 * last batch never comes.
 */
export const handler = httpRoute('getUploadSession', getUploadSession, async ({ params, caller }) => {
  const sessionId = parseSessionId(params.sessionId);
  if (!AUDIENCE_ID.test(params.id) || sessionId === undefined) throw notFound('No such audience or session.');
  const [record, session] = await Promise.all([getAudienceRecord(caller.sub, params.id), getSession(params.id, sessionId)]);
  if (!record || record.deletedAt || !session) throw notFound('No such audience or session.');
  return json(200, {
    sessionId,
    stage: visibleSessionStage(session, clock.nowMs(), currentReleaseSettings()),
    batchesReceived: session.batchesReceived,
    numReceived: session.numReceived,
    numInvalid: session.numInvalid,
  });
});
