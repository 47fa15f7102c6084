/**
 * A fake of the public API on 127.0.0.1 (node:http), for the CLI's unit tests:
 * it answers the routes the CLI calls as CONTRACT.md says, records every
 * request, and lets a test replace any answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, publicKeyOf, type CryptoKeyPair } from '../../client';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
}

export interface BatchRecord {
  readonly method: string;
  readonly audienceId: string;
  readonly sessionId: number;
  readonly batchSeq: number;
  readonly lastBatch: boolean;
  readonly estimatedTotal: number;
  readonly schema: string[];
  readonly rows: number;
  readonly data: string[][];
  /** The status the fake answered. */
  status: number;
}

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Drop the connection without answering. */
  readonly destroy?: boolean;
  /** Never answer (the client hangs until killed or timed out). */
  readonly hang?: boolean;
}

export type Responder = (request: RecordedRequest, batch: BatchRecord | undefined) => Reply | undefined | Promise<Reply | undefined>;

/** A recipient's key as the fake serves it; the test holds its private key, so it can open what the CLI sealed. */
export interface FakeRecipientKey {
  readonly keyId: string;
  readonly publicKey: string;
  readonly keyPair: CryptoKeyPair;
}

export interface FakeApi {
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly batches: BatchRecord[];
  /** The key GET /v1/recipients/{phoneNumber}/key answers with (any number). */
  recipientKey: FakeRecipientKey;
  /** What GET /v1/me/messages lists; POST /v1/me/messages/ack removes from it. */
  inbox: Array<Record<string, unknown>>;
  /** Replace answers; return undefined to get the default one. */
  respond: Responder | undefined;
  close(): Promise<void>;
}

export const TEST_AUDIENCE = {
  id: 'aud-1',
  name: 'Flower shop mailing list',
  customerFileSource: 'USER_PROVIDED_ONLY',
  status: 'processing',
  approximateCount: { lower: 0, upper: 100 },
  targetable: false,
  countedAt: '2026-11-25T10:01:00.000Z',
  nextCountAt: '2999-11-26T10:01:00.000Z',
  createdAt: '2026-11-25T10:00:00.000Z',
};

export const problem = (status: number, title: string, detail: string, extra: Record<string, unknown> = {}): Reply => ({
  status,
  headers: { 'content-type': 'application/problem+json' },
  body: { type: `https://example.com/problems/${status}`, title, status, detail, ...extra },
});

function defaultReply(request: RecordedRequest, batch: BatchRecord | undefined, acknowledged: Set<string>, fake: FakeApi): Reply {
  const { method, path } = request;
  if (method === 'POST' && path === '/_local/token') return { status: 200, body: { token: `local-token-${(request.body as { sub?: string })?.sub}` } };
  if (!request.headers.authorization?.startsWith('Bearer ')) return problem(401, 'Unauthorized', 'A bearer token is required.');
  if (batch) {
    const key = `${batch.method}:${batch.audienceId}:${batch.sessionId}:${batch.batchSeq}`;
    const repeat = acknowledged.has(key);
    acknowledged.add(key);
    return { status: 202, body: { sessionId: batch.sessionId, numReceived: repeat ? 0 : batch.rows, numInvalid: 0, invalidSamples: [] } };
  }
  if (method === 'POST' && path === '/v1/audiences') {
    const body = request.body as { name: string; customerFileSource: string };
    return {
      status: 201,
      body: {
        ...TEST_AUDIENCE,
        status: 'empty',
        approximateCount: null,
        targetable: null,
        countedAt: null,
        nextCountAt: '2026-11-25T10:00:00.000Z',
        name: body.name,
        customerFileSource: body.customerFileSource,
      },
    };
  }
  if (method === 'GET' && path === '/v1/audiences') return { status: 200, body: { items: [TEST_AUDIENCE] } };
  let match = /^\/v1\/audiences\/([^/]+)$/.exec(path);
  if (method === 'GET' && match) {
    return match[1] === TEST_AUDIENCE.id ? { status: 200, body: TEST_AUDIENCE } : problem(404, 'Not Found', 'No such audience.');
  }
  match = /^\/v1\/audiences\/([^/]+)\/sessions\/([^/]+)$/.exec(path);
  if (method === 'GET' && match) {
    return { status: 200, body: { sessionId: Number(match[2]), stage: 'processing', batchesReceived: 3, numReceived: 25001, numInvalid: 0 } };
  }
  if (method === 'GET' && /^\/v1\/recipients\/[^/]+\/key$/.test(path))
    return { status: 200, body: { keyId: fake.recipientKey.keyId, publicKey: fake.recipientKey.publicKey } };
  if (method === 'PUT' && path === '/v1/me/keys') {
    return {
      status: 200,
      body: { keyId: 'key-published', publicKey: (request.body as { publicKey: string }).publicKey, createdAt: '2026-11-25T10:00:00.000Z' },
    };
  }
  if (method === 'GET' && path === '/v1/me/messages') return { status: 200, body: { items: fake.inbox } };
  if (method === 'POST' && path === '/v1/me/messages/ack') {
    const ids = new Set((request.body as { messageIds: string[] }).messageIds);
    const before = fake.inbox.length;
    fake.inbox = fake.inbox.filter((m) => !ids.has(m.messageId as string));
    return { status: 200, body: { acknowledged: before - fake.inbox.length } };
  }
  if ((method === 'PUT' || method === 'DELETE') && /^\/v1\/me\/blocks\/[^/]+$/.test(path)) return { status: 204 };
  if (method === 'GET' && path === '/v1/me/blocks')
    return { status: 200, body: { items: [{ businessId: 'flower-shop', blockedAt: '2026-11-25T10:00:00.000Z' }] } };
  if (method === 'POST' && path === '/v1/messages') {
    return {
      status: 202,
      body: { messageId: 'msg-1', status: 'accepted', acceptedAt: '2026-11-25T10:00:00.000Z', expiresAt: '2026-12-25T10:00:00.000Z' },
    };
  }
  match = /^\/v1\/messages\/([^/]+)$/.exec(path);
  if (method === 'GET' && match) {
    return {
      status: 200,
      body: {
        messageId: match[1],
        status: 'delivered',
        acceptedAt: '2026-11-25T10:00:00.000Z',
        expiresAt: '2026-12-25T10:00:00.000Z',
        updatedAt: '2026-11-25T10:05:00.000Z',
      },
    };
  }
  return problem(404, 'Not Found', 'No such route.');
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : JSON.parse(text);
}

export async function startFakeApi(): Promise<FakeApi> {
  const requests: RecordedRequest[] = [];
  const batches: BatchRecord[] = [];
  const acknowledged = new Set<string>();
  const hanging = new Set<ServerResponse>();
  const keyPair = await generateKeyPair();
  const fake: FakeApi = {
    url: '',
    requests,
    batches,
    recipientKey: { keyId: 'key-1', publicKey: await publicKeyOf(keyPair), keyPair },
    inbox: [],
    respond: undefined,
    close: async () => {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const request: RecordedRequest = { method: req.method ?? 'GET', path, headers: req.headers, body };
      requests.push(request);
      const usersMatch = /^\/v1\/audiences\/([^/]+)\/users$/.exec(path);
      let batch: BatchRecord | undefined;
      if (usersMatch && (request.method === 'POST' || request.method === 'DELETE')) {
        const b = body as { session: { id: number; batchSeq: number; lastBatch: boolean; estimatedTotal: number }; schema: string[]; data: string[][] };
        batch = {
          method: request.method,
          audienceId: decodeURIComponent(usersMatch[1] ?? ''),
          sessionId: b.session.id,
          batchSeq: b.session.batchSeq,
          lastBatch: b.session.lastBatch,
          estimatedTotal: b.session.estimatedTotal,
          schema: b.schema,
          rows: b.data.length,
          data: b.data,
          status: 0,
        };
        batches.push(batch);
      }
      const reply = (await fake.respond?.(request, batch)) ?? defaultReply(request, batch, acknowledged, fake);
      if (batch) batch.status = reply.status;
      if (reply.destroy) {
        req.socket.destroy();
        return;
      }
      if (reply.hang) {
        hanging.add(res);
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake, { url: `http://127.0.0.1:${port}` });
}

/** A writable that keeps what the CLI prints. */
export class Capture {
  text = '';
  constructor(readonly isTTY = false) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}
