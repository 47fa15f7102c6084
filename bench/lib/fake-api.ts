/**
 * A minimal stand-in for the API on 127.0.0.1 (node:http), for the CLI's
 * memory benchmark: it issues local tokens and accepts every batch with 202
 * and the receipt the contract describes, so the CLI's own memory is all
 * that is measured. It counts rows and batches, and keeps nothing else.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeApi {
  readonly url: string;
  readonly stats: { batches: number; rows: number; bytes: number; lastBatch: boolean };
  close(): Promise<void>;
}

export async function startFakeApi(): Promise<FakeApi> {
  const stats = { batches: 0, rows: 0, bytes: 0, lastBatch: false };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      const url = req.url ?? '/';
      if (req.method === 'POST' && url === '/_local/token') return send(200, { token: 'bench-fake-token' });
      const batch = /^\/v1\/audiences\/([^/]+)\/users$/.exec(url);
      if (batch && (req.method === 'POST' || req.method === 'DELETE')) {
        const raw = Buffer.concat(chunks);
        const body = JSON.parse(raw.toString('utf8')) as { session: { id: number; lastBatch: boolean }; data: unknown[] };
        stats.batches += 1;
        stats.rows += body.data.length;
        stats.bytes += raw.length;
        stats.lastBatch ||= body.session.lastBatch;
        return send(202, { sessionId: body.session.id, numReceived: body.data.length, numInvalid: 0, invalidSamples: [] });
      }
      return send(404, { type: 'about:blank', title: 'Not Found', status: 404, detail: 'The fake API answers only tokens and batches.' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
