/**
 * The local web server (local/web.ts) and the gateway's CORS (applyCors in
 * local/gateway.ts), over real loopback HTTP; and how the web app reads a
 * token's role (web/src/session.ts), including Cognito's groups.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiCors } from '../../catalog/web';
import { applyCors } from '../../local/gateway';
import { startWebServer, type WebServer } from '../../local/web';
import { claimsOf, roleOf, sessionFromToken } from '../../web/src/session';

describe('the local web server', () => {
  let web: WebServer;
  beforeAll(async () => {
    web = await startWebServer({ port: 0, apiUrl: () => 'http://127.0.0.1:3999' });
  });
  afterAll(() => web.close());

  it('serves index.html with a CSP that allows scripts from itself and calls to the API only', async () => {
    const response = await fetch(`${web.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self' http://127.0.0.1:3999");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await response.text();
    const script = /<script type="module" src="(\/assets\/app-[A-Z0-9]+\.js)">/.exec(html)?.[1];
    expect(script).toBeDefined();

    const asset = await fetch(`${web.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('tells the app where the API is and that sign-in is the local picker', async () => {
    const response = await fetch(`${web.url}/config.json`);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({ apiUrl: 'http://127.0.0.1:3999', signIn: { kind: 'local' } });
  });

  it('serves nothing outside the build, not its manifest, and only GET and HEAD', async () => {
    for (const path of ['/build.json', '/../package.json', '/%2e%2e/package.json', '/assets/../../package.json', '/nope.js']) {
      expect({ path, status: (await fetch(`${web.url}${path}`)).status }).toEqual({ path, status: 404 });
    }
    expect((await fetch(`${web.url}/`, { method: 'POST' })).status).toBe(405);
    const head = await fetch(`${web.url}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('names both spellings of its origin, for the API to allow', () => {
    expect(web.origins).toEqual([web.url, web.url.replace('127.0.0.1', 'localhost')]);
  });
});

describe('the gateway’s CORS', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (applyCors(req, res, ['http://web.test'])) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((done) => server.close(done)));

  it('answers a preflight from an allowed origin itself, with the rules of catalog/web.ts', async () => {
    const response = await fetch(`${url}/v1/me/consent`, {
      method: 'OPTIONS',
      headers: { origin: 'http://web.test', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(response.status).toBe(204);
    expect(Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')))).toEqual({
      'access-control-allow-origin': 'http://web.test',
      'access-control-allow-methods': apiCors.allowMethods.join(','),
      'access-control-allow-headers': apiCors.allowHeaders.join(','),
      'access-control-max-age': String(apiCors.maxAgeSeconds),
    });
    // The headers the web app sends, and Global Privacy Control's, which some clients add as a request header.
    expect(response.headers.get('access-control-allow-headers')!.split(',')).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'idempotency-key', 'sec-gpc']),
    );
  });

  it('gives another origin no CORS headers, so its browser refuses the answer', async () => {
    const preflight = await fetch(`${url}/v1/me/consent`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.test', 'access-control-request-method': 'PUT' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const simple = await fetch(`${url}/v1/me/consent`, { headers: { origin: 'http://evil.test' } });
    expect(simple.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('marks answers to an allowed origin and exposes Retry-After; requests without an origin are untouched', async () => {
    const allowed = await fetch(`${url}/v1/me/consent`, { headers: { origin: 'http://web.test' } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://web.test');
    expect(allowed.headers.get('access-control-expose-headers')).toBe('retry-after');
    const plain = await fetch(`${url}/v1/me/consent`);
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    // An OPTIONS that is not a preflight goes to the routes.
    expect((await fetch(`${url}/v1/me/consent`, { method: 'OPTIONS' })).status).toBe(200);
  });
});

describe('the web app’s reading of a token', () => {
  const token = (claims: Record<string, unknown>) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

  it('takes the role from `role` or from a Cognito group, and refuses a token without one', () => {
    expect(roleOf(claimsOf(token({ role: 'business' })))).toBe('business');
    expect(roleOf(claimsOf(token({ 'cognito:groups': ['staff', 'user'] })))).toBe('user');
    expect(roleOf(claimsOf(token({ role: 'admin' })))).toBeUndefined();
    expect(claimsOf('not-a-token')).toEqual({});
    const exp = Math.floor(Date.now() / 1000) + 3600;
    expect(sessionFromToken(token({ sub: 'u-1', 'cognito:groups': ['user'], exp, email: 'ana@example.com' }), 'oidc')).toEqual(
      expect.objectContaining({ role: 'user', sub: 'u-1', name: 'ana@example.com', expiresAt: exp * 1000, via: 'oidc' }),
    );
    expect(sessionFromToken(token({ sub: 'u-1', exp }), 'oidc')).toBeUndefined();
  });
});
