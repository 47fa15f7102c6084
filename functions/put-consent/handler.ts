import { randomUUID } from 'node:crypto';
import { getAccount, recordDecision, storedAnswer } from '../adapters/accounts';
import type { StoredAnswer } from '../adapters/accounts';
import { currentPolicy } from '../adapters/policies';
import { IdempotencyKey, putConsent } from '../contract/consent';
import { decide } from '../core/consent';
import { sha256Hex } from '../core/identifiers';
import { clock } from '../shared/clock';
import { intSetting } from '../shared/config';
import { httpRoute, json } from '../shared/http';
import { logger, metrics } from '../shared/observability';
import { badRequest, conflict, unprocessable } from '../shared/problems';

const IDEMPOTENCY_TTL_SECONDS = intSetting('idempotencyTtlSeconds');
const MAX_ATTEMPTS = 4;

/** JSON with sorted keys, so the same request always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function replay(stored: StoredAnswer, requestHash: string) {
  if (stored.requestHash !== requestHash) {
    throw unprocessable('idempotency-key-reused', 'This Idempotency-Key was already used with a different request.');
  }
  metrics.addMetric('ConsentReplayed', 'Count', 1);
  return json(200, stored.receipt, { 'idempotent-replayed': 'true' });
}

export const handler = httpRoute('putConsent', putConsent, async ({ body, caller, headers }) => {
  const key = headers['idempotency-key'];
  if (key !== undefined && !IdempotencyKey.safeParse(key).success) {
    throw badRequest('The Idempotency-Key header is not valid.', [{ path: 'headers.Idempotency-Key', message: 'Must be 1-255 printable ASCII characters' }]);
  }
  const requestHash = sha256Hex(canonical(body));
  if (key) {
    const stored = await storedAnswer(caller.sub, key);
    if (stored) return replay(stored, requestHash);
  }

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const [account, policy] = await Promise.all([getAccount(caller.sub), currentPolicy()]);
    const now = clock.now();
    const { state, receipt } = decide(account.consent, policy, body, randomUUID(), now.toISOString());
    const outcome = await recordDecision(
      caller.sub,
      account.consent.version,
      state,
      receipt,
      key ? { key, requestHash, expiresAt: Math.floor(now.getTime() / 1000) + IDEMPOTENCY_TTL_SECONDS } : undefined,
    );
    if (outcome.kind === 'recorded') {
      metrics.addMetric('ConsentRecorded', 'Count', 1);
      logger.info('Consent recorded', { version: receipt.version, source: receipt.source });
      return json(200, receipt);
    }
    if (outcome.kind === 'replay' && key) {
      const stored = await storedAnswer(caller.sub, key);
      if (stored) return replay(stored, requestHash);
    }
    // Another decision of the same user won the race: decide again on the new state.
  }
  throw conflict('concurrent-decision', 'Another decision was being recorded at the same time; try again.');
});
