/**
 * The typed API client (client/api): the generated files match the route
 * contracts, and the client factory sends the token and turns problem
 * documents into `ApiError`s.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ApiError, createApi, customerFileSourceValues, messageCategoryValues, ok } from '../../client/api';
import { CUSTOMER_FILE_SOURCES } from '../../functions/core/audiences';
import { MESSAGE_CATEGORIES } from '../../functions/core/messages';

const ROOT = resolve(__dirname, '../..');
const run = promisify(execFile);
const generate = (...args: string[]) =>
  run(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'scripts/generate-api.ts'), ...args], { cwd: ROOT }).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );

describe('generated API files', () => {
  jest.setTimeout(60_000);

  it('are what `npm run generate:api` makes from the route contracts now', async () => {
    const result = await generate('--check');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('are reported out of date when they differ', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'api-generated-'));
    try {
      copyFileSync(join(ROOT, 'client/api/openapi.json'), join(dir, 'openapi.json'));
      const types = readFileSync(join(ROOT, 'client/api/schema.ts'), 'utf8');
      writeFileSync(join(dir, 'schema.ts'), types.replace("'/v1/audiences'", "'/v1/audience'"));
      const result = await generate('--check', '--dir', dir);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('schema.ts');
      expect(result.stderr).not.toContain('openapi.json');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('carry the values of the enums the contracts define', () => {
    expect(customerFileSourceValues).toEqual(CUSTOMER_FILE_SOURCES);
    expect(messageCategoryValues).toEqual(MESSAGE_CATEGORIES);
  });
});

describe('createApi', () => {
  const audience = {
    id: 'aud-1',
    name: 'Shop',
    customerFileSource: 'USER_PROVIDED_ONLY',
    status: 'empty',
    approximateCount: { lower: 0, upper: 100 },
    targetable: false,
    createdAt: '2026-11-29T10:00:00.000Z',
  };
  const json = (status: number, body: unknown, type = 'application/json') => new Response(JSON.stringify(body), { status, headers: { 'content-type': type } });

  it('sends the bearer token (asked for once) and JSON, and returns the typed data', async () => {
    const seen: Request[] = [];
    let asked = 0;
    const api = createApi({
      baseUrl: 'http://api.test/',
      token: async () => {
        asked += 1;
        return 'tok-1';
      },
      fetch: async (request) => {
        seen.push(request.clone());
        return request.method === 'POST' ? json(201, audience) : json(200, { items: [audience] });
      },
    });
    const created = await ok(api.POST('/v1/audiences', { body: { name: 'Shop', customerFileSource: 'USER_PROVIDED_ONLY' } }));
    const listed = await ok(api.GET('/v1/audiences'));
    expect(created.id).toBe('aud-1');
    expect(listed.items.map((a) => a.name)).toEqual(['Shop']);
    expect(asked).toBe(1);
    expect(seen.map((r) => [r.method, r.url, r.headers.get('authorization')])).toEqual([
      ['POST', 'http://api.test/v1/audiences', 'Bearer tok-1'],
      ['GET', 'http://api.test/v1/audiences', 'Bearer tok-1'],
    ]);
    expect(await seen[0]!.json()).toEqual({ name: 'Shop', customerFileSource: 'USER_PROVIDED_ONLY' });
    expect(seen[0]!.headers.get('content-type')).toBe('application/json');
  });

  it('encodes path parameters', async () => {
    const urls: string[] = [];
    const api = createApi({ baseUrl: 'http://api.test', token: 't', fetch: async (request) => (urls.push(request.url), json(200, audience)) });
    await ok(api.GET('/v1/audiences/{id}', { params: { path: { id: 'a/b c' } } }));
    expect(urls).toEqual(['http://api.test/v1/audiences/a%2Fb%20c']);
  });

  it('throws an ApiError carrying the problem document of an error answer', async () => {
    const problem = {
      type: '/problems/validation-error',
      title: 'Your request is not valid',
      status: 400,
      detail: 'The body is not valid.',
      errors: [{ path: 'name', message: 'Too small' }],
    };
    const api = createApi({ baseUrl: 'http://api.test', token: 't', fetch: async () => json(400, problem, 'application/problem+json') });
    const error = await ok(api.POST('/v1/audiences', { body: { name: '', customerFileSource: 'USER_PROVIDED_ONLY' } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const apiError = error as ApiError;
    expect(apiError.status).toBe(400);
    expect(apiError.problem).toEqual(problem);
    expect(apiError.request).toEqual({ method: 'POST', path: '/v1/audiences' });
    expect(apiError.message).toBe('400 Your request is not valid: The body is not valid. (name: Too small)');
    expect(apiError.toJSON()).toEqual({ status: 400, type: problem.type, title: problem.title, detail: problem.detail, errors: problem.errors });
  });

  it('reports an error answer that is not a problem document by its status alone', async () => {
    const api = createApi({ baseUrl: 'http://api.test', fetch: async () => new Response('<html>Bad gateway</html>', { status: 502 }) });
    const error = (await ok(api.GET('/v1/audiences')).catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.problem).toBeUndefined();
    expect(error.message).toBe('502 HTTP 502');
    expect(error.toJSON()).toEqual({ status: 502 });
  });
});
