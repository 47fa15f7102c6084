/**
 * Webhooks: pure rules, no I/O. Which URLs may receive events, what an event
 * and a delivery look like, how a body is signed, and when a failed delivery
 * is tried again.
 */
import { createHash, createHmac } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import * as z from 'zod';

// ------------------------------------------------------------------ URLs

export const MAX_WEBHOOK_URL_CHARS = 2048;
export const MIN_WEBHOOK_SECRET_CHARS = 32;
export const MAX_WEBHOOK_SECRET_CHARS = 256;

/**
 * Whether an IP address is a public unicast address: not private, loopback,
 * link-local (the metadata service), unique-local, carrier-grade NAT,
 * multicast, reserved, unspecified, nor an IPv6 form that embeds an IPv4
 * address (mapped, 6to4, Teredo, NAT64). `ipaddr.js` names the range.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === 'unicast';
}

export type WebhookTarget =
  /** An https URL with a DNS name: resolved, and every address checked, when registered and at each delivery. */
  | { readonly kind: 'https-name'; readonly url: URL; readonly hostname: string }
  /** An https URL with a public IP address as its host. */
  | { readonly kind: 'https-address'; readonly url: URL }
  /** The local stack only: `http://127.0.0.1:<port>/...`. */
  | { readonly kind: 'local-loopback'; readonly url: URL };

export type WebhookUrlCheck = { readonly ok: true; readonly target: WebhookTarget } | { readonly ok: false; readonly reason: string };

const refuse = (reason: string): WebhookUrlCheck => ({ ok: false, reason });

/**
 * Checks a webhook URL by its form. Deployed, only `https` to a DNS name or
 * a public address; the local stack also takes `http://127.0.0.1:<port>/...`.
 * A DNS name passes here and is then resolved (`resolvesPublicly`): at
 * registration and again at every delivery, which connects only to the
 * addresses it checked (DNS rebinding).
 */
export function checkWebhookUrl(raw: string, options: { readonly local: boolean }): WebhookUrlCheck {
  if (raw.length > MAX_WEBHOOK_URL_CHARS) return refuse(`Must be at most ${MAX_WEBHOOK_URL_CHARS} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('Must be an absolute URL');
  }
  if (url.username || url.password) return refuse('Must not carry a user name or password');
  if (url.hash) return refuse('Must not have a fragment');
  const bracketless = url.hostname.replace(/^\[|\]$/g, '');
  if (url.protocol === 'http:' && options.local && url.hostname === '127.0.0.1' && url.port !== '') {
    return { ok: true, target: { kind: 'local-loopback', url } };
  }
  if (url.protocol !== 'https:') {
    return refuse(options.local ? 'Must be https, or http://127.0.0.1:<port>/... on a local stack' : 'Must be an https URL');
  }
  if (ipaddr.isValid(bracketless)) {
    return isPublicAddress(bracketless)
      ? { ok: true, target: { kind: 'https-address', url } }
      : refuse('Must not point at a private, loopback or link-local address');
  }
  if (!/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/.test(url.hostname)) {
    return refuse('Must have a valid host name');
  }
  return { ok: true, target: { kind: 'https-name', url, hostname: url.hostname } };
}

/** Whether every address a name resolved to is public (and there is one). */
export const resolvesPublicly = (addresses: readonly string[]): boolean => addresses.length > 0 && addresses.every(isPublicAddress);

// ------------------------------------------------------------------ events

export const WEBHOOK_EVENT_TYPES = ['message.status', 'audience.counted'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const MessageStatusData = z.strictObject({ messageId: z.string(), status: z.enum(['delivered', 'expired']), at: z.string() });
export const AudienceCountedData = z.strictObject({ audienceId: z.string(), countedAt: z.string() });

/**
 * An event as POSTed: `{id, type, createdAt, data}`. Ids, statuses and times
 * only: never a phone number, an email, a hash or a ciphertext.
 */
export const WebhookEvent = z.discriminatedUnion('type', [
  z.strictObject({ id: z.string(), type: z.literal('message.status'), createdAt: z.string(), data: MessageStatusData }),
  z.strictObject({ id: z.string(), type: z.literal('audience.counted'), createdAt: z.string(), data: AudienceCountedData }),
]);
export type WebhookEvent = z.infer<typeof WebhookEvent>;

/**
 * The id of an event: derived from what it reports, so the same change
 * reported twice (a stream record handled again) carries the same id and
 * receivers drop the repeat.
 */
export const eventId = (type: WebhookEventType, ...parts: readonly string[]): string =>
  `evt_${createHash('sha256')
    .update([type, ...parts].join('\n'))
    .digest('hex')
    .slice(0, 32)}`;

/** The `X-Signature-256` header value: `sha256=` and the hex HMAC-SHA256 of the raw body under the secret. */
export const signatureOf = (secret: string, body: string): string => `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;

// ------------------------------------------------------------------ delivery and retries

/**
 * An event on its way, as a queue message: the business, the event, and
 * where its delivery stands: which attempt this is, when its retry window
 * began (the first attempt), when it is due (not before), and, once given
 * up on, when it was dead-lettered and what the last attempt got.
 */
export const Delivery = z.strictObject({
  businessId: z.string().min(1),
  event: WebhookEvent,
  attempt: z.number().int().positive(),
  windowStartedAt: z.string().optional(),
  dueAt: z.string().optional(),
  deadLetteredAt: z.string().optional(),
  lastResult: z.string().optional(),
});
export type Delivery = z.infer<typeof Delivery>;

/** How long failed deliveries are retried, from the first attempt. */
export const RETRY_WINDOW_SECONDS = 24 * 3600;
/** The longest wait between two attempts. */
export const MAX_RETRY_WAIT_SECONDS = 6 * 3600;
/** SQS delays a message at most 15 minutes; a longer wait is a chain of such delays. */
export const MAX_QUEUE_DELAY_SECONDS = 900;

/**
 * Seconds to wait after failed attempt `attempt` (1 for the first): the
 * first retry after `firstRetrySeconds`, each later wait twice the one
 * before, at most 6 hours, plus up to 10 % jitter so retries of many events
 * do not arrive together.
 */
export function retryWaitSeconds(attempt: number, firstRetrySeconds: number, random: () => number = Math.random): number {
  const base = Math.min(firstRetrySeconds * 2 ** Math.min(attempt - 1, 30), MAX_RETRY_WAIT_SECONDS);
  return base * (1 + 0.1 * random());
}

export type NextStep =
  { readonly kind: 'retry'; readonly delivery: Delivery; readonly waitSeconds: number } | { readonly kind: 'dead-letter'; readonly delivery: Delivery };

/**
 * What follows a failed attempt: the next attempt, or, when it would fall
 * after the retry window, the dead-letter queue.
 */
export function afterFailure(delivery: Delivery, nowMs: number, result: string, firstRetrySeconds: number, random?: () => number): NextStep {
  const windowStartedAt = delivery.windowStartedAt ?? new Date(nowMs).toISOString();
  const waitSeconds = retryWaitSeconds(delivery.attempt, firstRetrySeconds, random);
  const nextMs = nowMs + waitSeconds * 1000;
  if (nextMs > Date.parse(windowStartedAt) + RETRY_WINDOW_SECONDS * 1000) {
    return { kind: 'dead-letter', delivery: { ...delivery, windowStartedAt, deadLetteredAt: new Date(nowMs).toISOString(), lastResult: result } };
  }
  const { lastResult: _last, ...rest } = delivery;
  return {
    kind: 'retry',
    waitSeconds,
    delivery: { ...rest, attempt: delivery.attempt + 1, windowStartedAt, dueAt: new Date(nextMs).toISOString(), lastResult: result },
  };
}

/**
 * A delivery as the deliverer takes it up: one that comes back from the
 * dead-letter queue (`npm run redrive`) starts a fresh retry window.
 */
export function takeUp(delivery: Delivery): Delivery {
  if (!delivery.deadLetteredAt) return delivery;
  return { businessId: delivery.businessId, event: delivery.event, attempt: 1 };
}

/** Seconds until a delivery is due (0 when it is), and the delay of the next hop towards it. */
export function untilDue(delivery: Delivery, nowMs: number): { readonly seconds: number; readonly hopSeconds: number } {
  // A queue delay ends on a whole second, so what is left under a second is due.
  const ms = delivery.dueAt ? Date.parse(delivery.dueAt) - nowMs : 0;
  const seconds = ms < 1000 ? 0 : Math.ceil(ms / 1000);
  return { seconds, hopSeconds: Math.min(seconds, MAX_QUEUE_DELAY_SECONDS) };
}
