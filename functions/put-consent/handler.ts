import canonicalize from 'canonicalize';
import { IdempotencyKey, putConsent } from '../contract/consent';
import { sha256Hex } from '../core/identifiers';
import { recordDecision, recordGpcDenial } from '../services/consent';
import { clock } from '../shared/clock';
import { intSetting } from '../shared/config';
import { httpRoute, json, sendsPrivacySignal } from '../shared/http';
import { logger, metrics } from '../shared/observability';
import { badRequest, conflict, unprocessable } from '../shared/problems';
import { storedAnswer } from '../tables/consent-states';
import type { StoredAnswer } from '../tables/consent-states';

const IDEMPOTENCY_TTL_SECONDS = intSetting('idempotencyTtlSeconds');

function replay(stored: StoredAnswer, requestHash: string) {
  if (stored.requestHash !== requestHash) {
    throw unprocessable('idempotency-key-reused', 'This Idempotency-Key was already used with a different request.');
  }
  metrics.addMetric('ConsentReplayed', 'Count', 1);
  return json(200, stored.receipt, { 'idempotent-replayed': 'true' });
}

/**
 * PUT /v1/me/consent. With `Sec-GPC: 1`, the signal is honoured first (a
 * granted `ads_targeting` is denied, source `gpc`, in this request), and a
 * decision that grants `ads_targeting` is refused: the browser says no.
 */
export const handler = httpRoute(
  'putConsent',
  putConsent,
  async ({ body, caller, headers, event }) => {
    if (sendsPrivacySignal(event.headers) && body.purposes.ads_targeting === 'granted') {
      throw conflict(
        'gpc-conflict',
        'This request carries a Global Privacy Control signal (Sec-GPC: 1), which opts out of ads targeting; it cannot grant ads_targeting. Grant it from a browser or app that does not send the signal.',
      );
    }
    const key = headers['idempotency-key'];
    if (key !== undefined && !IdempotencyKey.safeParse(key).success) {
      throw badRequest('The Idempotency-Key header is not valid.', [{ path: 'headers.Idempotency-Key', message: 'Must be 1-255 printable ASCII characters' }]);
    }
    // RFC 8785 canonical JSON, so the same request always hashes the same.
    const requestHash = sha256Hex(canonicalize(body) ?? '');
    if (key) {
      const stored = await storedAnswer(caller.sub, key);
      if (stored) return replay(stored, requestHash);
    }
    const idempotency = key ? { key, requestHash, expiresAt: clock.nowSeconds() + IDEMPOTENCY_TTL_SECONDS } : undefined;
    const outcome = await recordDecision(caller.sub, body, () => clock.now(), idempotency);
    if (outcome.kind === 'replay') return replay(outcome.stored, requestHash);
    metrics.addMetric('ConsentRecorded', 'Count', 1);
    logger.info('Consent recorded', { version: outcome.receipt.version, source: outcome.receipt.source });
    return json(200, outcome.receipt);
  },
  { privacySignal: (userId) => recordGpcDenial(userId, () => clock.now()) },
);
