import { putKey } from '../contract/messages';
import { newKeyId } from '../core/keys';
import { clock } from '../shared/clock';
import { httpRoute, json } from '../shared/http';
import { logger, metrics } from '../shared/observability';
import { publishKey } from '../tables/recipients';
import { forwardGpcSignal } from '../shared/gpc-forward';

/**
 * PUT /v1/me/keys: the caller's X25519 public key for messages, replacing the
 * previous one (messages sealed to it keep their keyId, so the device can
 * still open them with the old private key). The private key never reaches
 * the service. Publishing the current key again answers with it unchanged.
 */
export const handler = httpRoute(
  'putKey',
  putKey,
  async ({ body, caller }) => {
    const now = clock.now();
    const key = await publishKey({ userId: caller.sub, keyId: newKeyId(now.getTime()), publicKey: body.publicKey, createdAt: now.toISOString() });
    metrics.addMetric('MessageKeyPublished', 'Count', 1);
    logger.info('Message key published', { keyId: key.keyId });
    return json(200, { keyId: key.keyId, publicKey: key.publicKey, createdAt: key.createdAt });
  },
  { privacySignal: forwardGpcSignal },
);
