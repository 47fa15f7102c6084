/**
 * Webhooks on a private local stack (it moves the clock): a business's
 * endpoint on 127.0.0.1 gets signed `message.status` events; a 500 is
 * retried with the same event id; an endpoint that keeps failing has its
 * event dead-lettered once the 24-hour window is over (`/_local/clock`),
 * and `npm run redrive` sends it again; URLs that could reach private
 * networks are refused. The first retry waits 1 s here
 * (WEBHOOK_FIRST_RETRY_SECONDS), 30 s by default.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { eventually, newId, queueUrl, REPO_ROOT, startStack, tableName, type PrivateStack } from './support';
import { ack, inbox, newBusiness, newRecipient, send, type Party, type StackApi } from './messages.helpers';

interface Received {
  /** When it arrived (ms). */
  readonly at: number;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A business's endpoint: records every request and answers with the next status in `answers` (then the last one). */
class Receiver {
  readonly requests: Received[] = [];
  answers: number[] = [200];
  private server!: Server;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const status = this.answers.length > 1 ? this.answers.shift()! : this.answers[0]!;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  url(path = '/hooks/audiences'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const SECRET = 'whsec_0123456789abcdef0123456789abcdef';
const verified = (r: Received, secret = SECRET): boolean => {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`);
  const given = Buffer.from(String(r.headers['x-signature-256'] ?? ''));
  return given.length === expected.length && timingSafeEqual(given, expected);
};

describe('webhooks', () => {
  let stack: PrivateStack;
  let api: StackApi;

  beforeAll(async () => {
    stack = await startStack({ env: { WEBHOOK_FIRST_RETRY_SECONDS: '1', LOCAL_VISIBILITY_TIMEOUT_SECONDS: '2' } });
    api = { api: stack.api, tokenFor: stack.tokenFor, clients: stack.clients };
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const register = (business: Party, url: string, secret = SECRET) => stack.api('PUT', '/v1/webhook', { token: business.token, body: { url, secret } });

  /** A message from the business to a new recipient, acknowledged: its status becomes delivered. */
  async function deliveredMessage(business: Party): Promise<string> {
    const recipient = await newRecipient(api);
    const { messageId } = await send(api, business, recipient);
    expect((await inbox(api, recipient)).map((m) => m.messageId)).toContain(messageId);
    expect(await ack(api, recipient, [messageId])).toBe(1);
    return messageId;
  }

  it('registers an endpoint, shows it without the secret, stores the secret only encrypted, and deletes it', async () => {
    const receiver = await new Receiver().start();
    try {
      const business = await newBusiness(api);
      const put = await register(business, receiver.url());
      expect(put.status).toBe(200);
      expect(put.json).toEqual({ url: receiver.url(), createdAt: expect.any(String) });
      const got = await stack.api('GET', '/v1/webhook', { token: business.token });
      expect(got.json).toEqual(put.json);
      expect(got.text).not.toContain(SECRET);
      const { ddb } = await stack.clients();
      const stored = await ddb.send(new ScanCommand({ TableName: tableName('webhooks') }));
      expect(JSON.stringify(stored.Items)).not.toContain(SECRET);
      expect(stored.Items?.some((i) => i.businessId === business.sub)).toBe(true);
      expect((await stack.api('DELETE', '/v1/webhook', { token: business.token })).status).toBe(204);
      expect((await stack.api('GET', '/v1/webhook', { token: business.token })).status).toBe(404);
      expect((await stack.api('GET', '/v1/webhook', { token: (await newRecipient(api)).token })).status).toBe(403);
    } finally {
      await receiver.stop();
    }
  });

  it('POSTs message.status, signed over the raw body, with ids, status and time only', async () => {
    const receiver = await new Receiver().start();
    try {
      const business = await newBusiness(api);
      expect((await register(business, receiver.url())).status).toBe(200);

      const messageId = await deliveredMessage(business);

      await eventually(() => expect(receiver.requests).toHaveLength(1), { timeoutMs: 20_000 });
      const [request] = receiver.requests;
      expect(request!.path).toBe('/hooks/audiences');
      expect(request!.headers['content-type']).toBe('application/json');
      expect(verified(request!)).toBe(true);
      expect(verified(request!, `${SECRET}x`)).toBe(false);
      const event = JSON.parse(request!.body);
      expect(event).toEqual({
        id: expect.stringMatching(/^evt_/),
        type: 'message.status',
        createdAt: expect.any(String),
        data: { messageId, status: 'delivered', at: expect.any(String) },
      });
      expect(Object.keys(event.data).sort()).toEqual(['at', 'messageId', 'status']);
    } finally {
      await receiver.stop();
    }
  });

  it('POSTs audience.counted for a fresh size release, with the audience and countedAt only, and nothing for a stale look', async () => {
    const receiver = await new Receiver().start();
    try {
      const business = await newBusiness(api);
      expect((await register(business, receiver.url())).status).toBe(200);
      const created = await stack.api('POST', '/v1/audiences', { token: business.token, body: { name: 'Webhook', customerFileSource: 'USER_PROVIDED_ONLY' } });
      expect(created.status).toBe(201);
      const audienceId = created.json.id as string;
      const row = createHmac('sha256', 'row').update(newId('x')).digest('hex');
      const upload = await stack.api('POST', `/v1/audiences/${audienceId}/users`, {
        token: business.token,
        body: { session: { id: 1, batchSeq: 1, lastBatch: true }, schema: ['PHONE_SHA256'], data: [[row]] },
      });
      expect(upload.status).toBe(202);

      // The first look after matching makes the audience's first count; a second look the same day shows it again
      const counted = await eventually(
        async () => {
          const shown = await stack.api('GET', `/v1/audiences/${audienceId}`, { token: business.token });
          expect(shown.json.countedAt).toEqual(expect.any(String));
          return shown.json;
        },
        { timeoutMs: 30_000 },
      );
      expect((await stack.api('GET', `/v1/audiences/${audienceId}`, { token: business.token })).json.countedAt).toBe(counted.countedAt);

      await eventually(() => expect(receiver.requests.length).toBeGreaterThanOrEqual(1), { timeoutMs: 20_000 });
      await new Promise((r) => setTimeout(r, 1_500));
      const events = receiver.requests.map((r) => ({ verified: verified(r), event: JSON.parse(r.body) }));
      expect(events).toEqual([
        {
          verified: true,
          event: {
            id: expect.stringMatching(/^evt_/),
            type: 'audience.counted',
            createdAt: expect.any(String),
            data: { audienceId, countedAt: counted.countedAt },
          },
        },
      ]);
    } finally {
      await receiver.stop();
    }
  });

  it('retries after a 500, with backoff, sending the same event id', async () => {
    const receiver = await new Receiver().start();
    receiver.answers = [500, 503, 200];
    try {
      const business = await newBusiness(api);
      expect((await register(business, receiver.url())).status).toBe(200);

      await deliveredMessage(business);

      await eventually(() => expect(receiver.requests).toHaveLength(3), { timeoutMs: 30_000 });
      const events = receiver.requests.map((r) => JSON.parse(r.body));
      expect(new Set(events.map((e) => e.id)).size).toBe(1);
      expect(receiver.requests.every((r) => verified(r))).toBe(true);
      // Backoff: the second retry waited longer than the first (1 s, then 2 s, each plus up to 10 %).
      const times = receiver.requests.map((r) => r.at);
      expect(times[2]! - times[1]!).toBeGreaterThan(times[1]! - times[0]! + 500);
      await new Promise((r) => setTimeout(r, 3_000));
      expect(receiver.requests).toHaveLength(3);
    } finally {
      await receiver.stop();
    }
  });

  it('dead-letters an event once the 24-hour window is over, and npm run redrive sends it again, same id', async () => {
    const receiver = await new Receiver().start();
    receiver.answers = [500];
    try {
      const business = await newBusiness(api);
      expect((await register(business, receiver.url())).status).toBe(200);
      await deliveredMessage(business);
      await eventually(() => expect(receiver.requests.length).toBeGreaterThanOrEqual(2), { timeoutMs: 20_000 });
      const id = JSON.parse(receiver.requests[0]!.body).id as string;

      // A day later, by the stack's clock: the next failure ends the window.
      expect((await stack.api('POST', '/_local/clock', { body: { advanceSeconds: 24 * 3600 + 60 } })).status).toBe(200);
      const { sqs } = await stack.clients();
      const dlqUrl = await queueUrl('webhookDeliveries', { deadLetter: true, baseUrl: stack.url });
      const dead = await eventually(
        async () => {
          const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1, VisibilityTimeout: 0 }));
          expect(got.Messages ?? []).toHaveLength(1);
          return JSON.parse(got.Messages![0]!.Body!);
        },
        { timeoutMs: 30_000 },
      );
      expect(dead).toMatchObject({ businessId: business.sub, event: { id }, deadLetteredAt: expect.any(String), lastResult: 'http-500' });
      const before = receiver.requests.length;
      await new Promise((r) => setTimeout(r, 4_000));
      expect(receiver.requests).toHaveLength(before);

      // The endpoint is fixed; the operator redrives the dead-letter queue: a fresh window, the same event.
      receiver.answers = [200];
      const redrive = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/redrive.ts', 'webhookDeliveries', '--url', stack.url, '--json'], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
      });
      expect(redrive.status).toBe(0);
      expect(JSON.parse(redrive.stdout)).toMatchObject({ moved: 1 });
      await eventually(() => expect(receiver.requests).toHaveLength(before + 1), { timeoutMs: 20_000 });
      expect(JSON.parse(receiver.requests.at(-1)!.body).id).toBe(id);
      expect(verified(receiver.requests.at(-1)!)).toBe(true);
      await new Promise((r) => setTimeout(r, 3_000));
      expect(receiver.requests).toHaveLength(before + 1);
    } finally {
      await receiver.stop();
    }
  });

  it.each([
    ['plain http to a public host', 'http://example.com/hook'],
    ['http to loopback without a port', 'http://127.0.0.1/hook'],
    ['https to loopback', 'https://127.0.0.1:8443/hook'],
    ['https to a private address', 'https://10.0.0.8/hook'],
    ['https to the metadata service', 'https://169.254.169.254/latest/meta-data/'],
    ['https to an IPv6 loopback', 'https://[::1]/hook'],
    ['https to an IPv4-mapped private address', 'https://[::ffff:192.168.1.10]/hook'],
    ['https to a name that resolves to loopback', 'https://localhost/hook'],
    ['a URL with credentials', 'https://user:pass@example.com/hook'],
    ['not a URL', 'hook.example.com'],
  ])('refuses %s (400, the URL never echoed)', async (_what, url) => {
    const business = await newBusiness(api);

    const res = await register(business, url);

    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([{ path: 'url', message: expect.any(String) }]);
    expect(res.text).not.toContain(url);
    expect((await stack.api('GET', '/v1/webhook', { token: business.token })).status).toBe(404);
  });

  it('refuses a secret under 32 characters', async () => {
    const business = await newBusiness(api);
    const res = await register(business, `http://127.0.0.1:9/${newId('hook')}`, 'short');
    expect(res.status).toBe(400);
    expect(res.json.errors[0].path).toBe('secret');
  });
});
