/**
 * The web app's local server: the static files of dist/web (built by
 * web/build.cjs, rebuilt first when a source is newer) on a port of their
 * own, as CloudFront serves them from S3 when deployed, and `/config.json`,
 * which tells the app where the API is and how to sign in (here: the local
 * stack's development issuer). The API answers this origin's requests under
 * the CORS rules of catalog/web.ts, as API Gateway does for CloudFront's.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, normalize, resolve, sep } from 'node:path';
import { contentSecurityPolicy } from '../catalog/web';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the build script is CommonJS, shared with `npm ci`
const build = require('../web/build.cjs') as { OUT_DIR: string; ensureWeb(): string };

/** What `/config.json` holds: the web app reads it before anything else (web/src/config.ts). */
export interface WebConfig {
  readonly apiUrl: string;
  readonly signIn: { readonly kind: 'local' } | { readonly kind: 'oidc'; readonly authority: string; readonly clientId: string; readonly logoutUrl?: string };
}

export interface WebServer {
  readonly url: string;
  readonly port: number;
  /** The origins a browser may show this server as: the API must allow them. */
  readonly origins: readonly string[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** The security headers CloudFront's response headers policy sets when deployed (infra/constructs/web-app.ts). */
export function securityHeaders(apiUrl: string, extraConnect: readonly string[] = []): Record<string, string> {
  return {
    'content-security-policy': contentSecurityPolicy([new URL(apiUrl).origin, ...extraConnect]),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  };
}

export interface WebServerOptions {
  readonly port: number;
  readonly host?: string;
  /** The API's base URL, known once the gateway listens. */
  apiUrl(): string;
}

/** Builds dist/web when stale, then serves it. */
export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const root = build.ensureWeb();
  const host = options.host ?? '127.0.0.1';

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const apiUrl = options.apiUrl();
    const headers = securityHeaders(apiUrl);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('Method not allowed\n');
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      res.writeHead(400, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
      res.end('Bad request\n');
      return;
    }
    if (path === '/config.json') {
      const config: WebConfig = { apiUrl, signIn: { kind: 'local' } };
      const body = JSON.stringify(config);
      res.writeHead(200, { ...headers, 'content-type': TYPES['.json']!, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const relative = path === '/' ? 'index.html' : path.slice(1);
    const file = resolve(root, normalize(relative));
    if (!file.startsWith(root + sep) || relative.includes('\0')) {
      res.writeHead(404, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
      res.end('Not found\n');
      return;
    }
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile() || relative === 'build.json') {
      res.writeHead(404, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
      res.end('Not found\n');
      return;
    }
    // Hashed names never change their content; index.html is checked again every time.
    const immutable = relative.startsWith('assets/');
    res.writeHead(200, {
      ...headers,
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': String(info.size),
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).pipe(res);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Internal error\n');
    });
  });
  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(options.port, host, () => {
      server.off('error', fail);
      ready();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    origins: [`http://${host}:${port}`, `http://localhost:${port}`],
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 1_000).unref();
      }),
  };
}
