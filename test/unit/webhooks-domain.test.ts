import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Delivery,
  MAX_QUEUE_DELAY_SECONDS,
  RETRY_WINDOW_SECONDS,
  afterFailure,
  checkWebhookUrl,
  eventId,
  isPublicAddress,
  retryWaitSeconds,
  signatureOf,
  takeUp,
  untilDue,
} from '../../functions/core/webhooks';
import { post, publicOnlyLookup } from '../../functions/shared/outbound';

describe('isPublicAddress', () => {
  it.each(['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111'])('accepts the public unicast address %s', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });

  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.0.10',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '255.255.255.255',
    '224.0.0.1',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:10.0.0.1',
    '::ffff:127.0.0.1',
    '64:ff9b::a00:1',
    '2002:a00:1::1',
    'not-an-address',
  ])('refuses %s', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });
});

describe('checkWebhookUrl', () => {
  it('takes https to a DNS name or a public address', () => {
    expect(checkWebhookUrl('https://hooks.example.com/audiences', { local: false })).toMatchObject({
      ok: true,
      target: { kind: 'https-name', hostname: 'hooks.example.com' },
    });
    expect(checkWebhookUrl('https://93.184.216.34:8443/x', { local: false })).toMatchObject({ ok: true, target: { kind: 'https-address' } });
  });

  it('takes http://127.0.0.1:<port> on a local stack only', () => {
    expect(checkWebhookUrl('http://127.0.0.1:4000/hook', { local: true })).toMatchObject({ ok: true, target: { kind: 'local-loopback' } });
    expect(checkWebhookUrl('http://127.0.0.1:4000/hook', { local: false }).ok).toBe(false);
  });

  it.each([
    'http://hooks.example.com/',
    'ftp://hooks.example.com/',
    'https://user:pw@hooks.example.com/',
    'https://hooks.example.com/#frag',
    'https://10.0.0.1/',
    'https://[::1]/',
    'https://169.254.169.254/latest/meta-data/',
    'https://under_score.example.com/',
    `https://${'a'.repeat(2100)}.com/`,
    '/relative',
  ])('refuses %s', (url) => {
    expect(checkWebhookUrl(url, { local: true }).ok).toBe(false);
  });
});

describe('signatures and ids', () => {
  it('signs the raw body with HMAC-SHA256, hex, prefixed sha256=', () => {
    const body = '{"id":"evt_1","type":"message.status"}';
    expect(signatureOf('s'.repeat(32), body)).toBe(`sha256=${createHmac('sha256', 's'.repeat(32)).update(body).digest('hex')}`);
  });

  it('gives the same change the same id, and another change another', () => {
    expect(eventId('message.status', 'm1', 'delivered')).toBe(eventId('message.status', 'm1', 'delivered'));
    expect(eventId('message.status', 'm1', 'delivered')).not.toBe(eventId('message.status', 'm1', 'expired'));
    expect(eventId('audience.counted', 'a1', '2026-01-01T00:00:00Z')).toMatch(/^evt_[0-9a-f]{32}$/);
  });
});

describe('retries', () => {
  const delivery: Delivery = {
    businessId: 'b',
    attempt: 1,
    event: { id: 'evt_1', type: 'audience.counted', createdAt: '2026-01-01T00:00:00.000Z', data: { audienceId: 'a', countedAt: '2026-01-01T00:00:00.000Z' } },
  };
  const noJitter = () => 0;

  it('waits the first retry, then twice as long each time, at most 6 hours', () => {
    expect([1, 2, 3, 4].map((n) => retryWaitSeconds(n, 30, noJitter))).toEqual([30, 60, 120, 240]);
    expect(retryWaitSeconds(20, 30, noJitter)).toBe(6 * 3600);
    expect(retryWaitSeconds(1, 30, () => 0.999)).toBeLessThan(33.1);
  });

  it('retries within 24 hours of the first attempt, then dead-letters, and a redriven event starts a fresh window', () => {
    const start = Date.parse('2026-01-01T00:00:00Z');
    let current: Delivery = delivery;
    let now = start;
    const attempts: number[] = [];
    for (;;) {
      attempts.push(now);
      const next = afterFailure(current, now, 'http-500', 30, noJitter);
      if (next.kind === 'dead-letter') {
        expect(next.delivery).toMatchObject({
          deadLetteredAt: new Date(now).toISOString(),
          windowStartedAt: new Date(start).toISOString(),
          lastResult: 'http-500',
        });
        current = next.delivery;
        break;
      }
      expect(Date.parse(next.delivery.dueAt!)).toBe(now + next.waitSeconds * 1000);
      current = next.delivery;
      now = Date.parse(current.dueAt!);
    }
    expect(attempts[1]! - attempts[0]!).toBeLessThanOrEqual(60_000);
    expect(attempts.at(-1)! - start).toBeLessThanOrEqual(RETRY_WINDOW_SECONDS * 1000);
    expect(attempts.length).toBeGreaterThan(10);
    expect(takeUp(current)).toEqual({ businessId: 'b', event: delivery.event, attempt: 1 });
  });

  it('reaches a due time more than 15 minutes away in hops of at most 15 minutes', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(untilDue({ ...delivery, dueAt: new Date(now + 3600_000).toISOString() }, now)).toEqual({ seconds: 3600, hopSeconds: MAX_QUEUE_DELAY_SECONDS });
    expect(untilDue({ ...delivery, dueAt: new Date(now + 400).toISOString() }, now)).toEqual({ seconds: 0, hopSeconds: 0 });
    expect(untilDue(delivery, now)).toEqual({ seconds: 0, hopSeconds: 0 });
  });
});

describe('outgoing calls', () => {
  it('the lookup refuses a name that resolves to a loopback address, so no connection is made there', async () => {
    const result = await new Promise<{ error: Error | null }>((resolve) => publicOnlyLookup('localhost', {}, (error) => resolve({ error })));
    expect(result.error?.name).toBe('ForbiddenAddress');
  });

  it('an https name resolving to loopback is never connected to (the server on 127.0.0.1 sees nothing)', async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits += 1;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const url = new URL(`https://localhost:${port}/hook`);
      const result = await post({ kind: 'https-name', url, hostname: 'localhost' }, '{}', {});
      expect(result).toEqual({ kind: 'failed', reason: 'forbidden-address' });
      expect(hits).toBe(0);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('posts to a local endpoint with a deadline, and reports its status', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/slow') return; // never answers
      res.writeHead(503).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect(await post({ kind: 'local-loopback', url: new URL(`${base}/x`) }, '{}', {})).toEqual({ kind: 'answered', status: 503 });
      expect(await post({ kind: 'local-loopback', url: new URL(`${base}/slow`) }, '{}', {}, 200)).toEqual({ kind: 'failed', reason: 'timeout' });
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
