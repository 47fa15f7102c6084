/**
 * Bad input, property-based (fast-check), over every HTTP route of the
 * catalog, on a private local stack so that "no table changes" can be
 * checked globally: a digest of every catalog table before and after.
 *
 * Each route's own zod schemas (functions/contract) tell which requests are
 * invalid: generated bodies and queries are kept only when the route's
 * schema refuses them, so every answer must be a 4xx problem document,
 * never a 5xx and never a write. Routes with no input at all (no body,
 * path or query) cannot be given bad input; GET ones still get junk query
 * strings and bodies and must stay below 500 without writing.
 */
import { createHash } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import type * as z from 'zod';
import { catalog, type Role, type TableName } from '../../catalog';
import { newId, startStack, tableName, type AwsClients, type PrivateStack } from './support';
import { HEX, label, pathOf, pathsOf, replaced, routes, TEMPLATES, type Route } from './support/routes';
import { ensurePolicy } from './support/users';

const RUNS = { body: 40, malformed: 15, contentType: 15, params: 25, query: 25, noInput: 10 };
const fcOptions = (numRuns: number) => ({ numRuns, interruptAfterTimeLimit: 90_000, markInterruptAsFailure: true });

// ------------------------------------------------------------------ generators

/** Values that break things: wrong types, huge strings and arrays, unicode, numbers out of range. */
const nasty: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, true, false, 0, -1, 1.5, -0.0001, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, 5e-324, '', ' ', [], {}, [[]], { '': '' }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.constantFrom('x', 'é', '😀', '\u0000', '\u202e', '\ud800', '0', '+1').chain((c) => fc.integer({ min: 1_000, max: 300_000 }).map((n) => c.repeat(n))),
  fc
    .tuple(fc.constantFrom<unknown>(0, 'a', null, [], {}, HEX, [HEX]), fc.integer({ min: 1_000, max: 20_000 }))
    .map(([v, n]) => Array.from({ length: n }, () => v)),
);

/** What the route would receive after JSON, so the schema judges exactly what was sent. */
const overTheWire = (value: unknown): unknown => JSON.parse(JSON.stringify(value) ?? 'null');
const refusedBy = (schema: z.ZodType | undefined) => (value: unknown) => !schema || !schema.safeParse(overTheWire(value)).success;

function badBodies(route: Route): fc.Arbitrary<unknown> {
  const template = TEMPLATES[route.name] ?? {};
  const paths = pathsOf(template);
  return fc
    .oneof(
      // random JSON shapes
      fc.jsonValue({ maxDepth: 4 }),
      fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 12 }), nasty, { maxKeys: 4 }),
      // one field (or the whole body) replaced by something nasty
      fc.tuple(fc.constantFrom(...paths), nasty).map(([path, value]) => replaced(template, path, value)),
      // one field removed
      fc.constantFrom(...paths.filter((p) => p.length > 0)).map((path) => replaced(template, path, undefined)),
      // an unknown field
      fc.tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), nasty).map(([key, value]) => ({ ...(template as object), [key]: value })),
    )
    .filter(refusedBy(route.contract.body));
}

/** Path segments that are no one's id: a space, a control or non-ASCII character, or over 128 characters. */
const notAnId: fc.Arbitrary<string> = fc
  .oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
    fc.string({ unit: fc.constantFrom(...'abcxyz0189_-'.split('')), minLength: 129, maxLength: 400 }),
    fc.constantFrom('a b', '\u0000', "' OR 1=1 --", ' ', '\t', 'é', '😀', '..%2F..', 'aud-\u0660\u0661', '1\u00a0', `aud-${'0'.repeat(31)}\u0000`),
  )
  // A path carries UTF-8: strings with lone surrogates cannot be sent at all.
  .filter((s) => (/[^\x21-\x7e]/.test(s) || s.length > 128) && Buffer.from(s, 'utf8').toString('utf8') === s);

const notJsonTypes = fc
  .oneof(
    fc.constantFrom(
      'text/plain',
      'text/html',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/octet-stream',
      'application/jsonx',
      'json',
      'application/javascript',
    ),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }),
  )
  .filter((t) => !/^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i.test(t.trim()) && /^[\x20-\x7e]+$/.test(t) && t.trim() === t);

const notJson = fc.string({ unit: 'grapheme', maxLength: 200 }).filter((s) => {
  try {
    JSON.parse(s);
    return false;
  } catch {
    return true;
  }
});

// ------------------------------------------------------------------ the stack, callers and checks

let stack: PrivateStack;
let aws: AwsClients;
const tokens = new Map<string, string>();

beforeAll(async () => {
  stack = await startStack();
  aws = await stack.clients();
  await ensurePolicy(stack.url);
  for (const route of routes) {
    if (route.trigger.auth === 'public') continue;
    const role: Role = route.trigger.auth[0]!;
    tokens.set(route.name, await stack.tokenFor(role, newId(`fuzz-${role}`)));
  }
  await settled();
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

/** A digest of every item of every catalog table. */
async function tablesDigest(): Promise<string> {
  const hash = createHash('sha256');
  for (const table of Object.keys(catalog.tables).sort() as TableName[]) {
    const items: string[] = [];
    let ExclusiveStartKey: Record<string, never> | undefined;
    do {
      const page = await aws.dynamodb.send(new ScanCommand({ TableName: tableName(table), ConsistentRead: true, ExclusiveStartKey }));
      for (const item of page.Items ?? []) items.push(JSON.stringify(Object.entries(item).sort(([a], [b]) => a.localeCompare(b))));
      ExclusiveStartKey = page.LastEvaluatedKey as typeof ExclusiveStartKey;
    } while (ExclusiveStartKey);
    hash.update(`${table}:${items.sort().join('\n')}\n`);
  }
  return hash.digest('hex');
}

/** Waits until the setup's own writes (and their consumers) are done: the digest holds still. */
async function settled(): Promise<string> {
  let last = await tablesDigest();
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await tablesDigest();
    if (now === last) return now;
    last = now;
  }
  throw new Error('The tables never stopped changing');
}

interface Sent {
  readonly path: string;
  readonly body?: string | Uint8Array;
  readonly contentType?: string;
}

async function send(route: Route, sent: Sent) {
  const token = tokens.get(route.name);
  return stack.api(route.trigger.method, sent.path, {
    ...(token ? { token } : {}),
    ...(sent.body !== undefined ? { rawBody: sent.body } : {}),
    headers: sent.contentType !== undefined ? { 'content-type': sent.contentType } : {},
  });
}

/** Long strings of the request that a problem document must never repeat. */
function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return value.length >= 16 && !/^(.)\1*$/su.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.slice(0, 50).flatMap(stringsOf);
  if (value && typeof value === 'object')
    return Object.entries(value)
      .slice(0, 50)
      .flatMap(([k, v]) => [...stringsOf(k), ...stringsOf(v)]);
  return [];
}

/** Field names and values of the templates: the schema's own words, which an error may name. */
const documented = new Set(Object.values(TEMPLATES).flatMap(stringsOf));

function expectProblem(res: { status: number; headers: Record<string, string>; json: unknown; text: string }, sentValue?: unknown): void {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect(res.json).toEqual(expect.objectContaining({ type: expect.any(String), title: expect.any(String), status: res.status, detail: expect.any(String) }));
  for (const s of stringsOf(sentValue).filter((v) => !documented.has(v))) {
    expect(res.text.includes(s) || res.text.includes(JSON.stringify(s).slice(1, -1))).toBe(false);
  }
}

/** Runs a property with the route's answers checked, and the tables compared before and after. */
async function unchangedTables(run: () => Promise<void>): Promise<void> {
  const before = await tablesDigest();
  await run();
  expect(await tablesDigest()).toBe(before);
}

// ------------------------------------------------------------------ the properties

const withBody = routes.filter((r) => r.contract.body);
const withParams = routes.filter((r) => r.params.length > 0);
const withQuery = routes.filter((r) => r.contract.query);
const withoutInput = routes.filter((r) => !r.contract.body && r.params.length === 0 && !r.contract.query);

describe('bad input on every route', () => {
  it('covers every HTTP route of the catalog', () => {
    const covered = new Set([...withBody, ...withParams, ...withQuery, ...withoutInput].map((r) => r.name));
    expect(routes.map((r) => r.name).filter((n) => !covered.has(n))).toEqual([]);
    expect(routes.length).toBeGreaterThan(10);
  });

  describe.each(withBody.map((r) => [label(r), r] as const))('%s, bodies', (_label, route) => {
    it('answers random shapes, wrong types, huge values, unicode and numbers out of range with a 4xx problem document and writes nothing', async () => {
      await unchangedTables(() =>
        fc.assert(
          fc.asyncProperty(badBodies(route), async (body) => {
            const res = await send(route, { path: pathOf(route), body: JSON.stringify(body) ?? 'null', contentType: 'application/json' });
            expectProblem(res, body);
          }),
          fcOptions(RUNS.body),
        ),
      );
    }, 180_000);

    it('answers malformed JSON with 400 and other content types with 415', async () => {
      const template = JSON.stringify(TEMPLATES[route.name] ?? {});
      await unchangedTables(async () => {
        await fc.assert(
          fc.asyncProperty(notJson, async (text) => {
            const res = await send(route, { path: pathOf(route), body: text, contentType: 'application/json; charset=utf-8' });
            expect(res.status).toBe(400);
            expectProblem(res, text);
          }),
          fcOptions(RUNS.malformed),
        );
        await fc.assert(
          fc.asyncProperty(notJsonTypes, fc.boolean(), async (contentType, binary) => {
            const res = await send(route, { path: pathOf(route), body: binary ? new TextEncoder().encode(template) : template, contentType });
            expect(res.status).toBe(415);
            expectProblem(res);
          }),
          fcOptions(RUNS.contentType),
        );
        // No content type at all (a binary body, so fetch adds none).
        const bare = await send(route, { path: pathOf(route), body: new TextEncoder().encode(template) });
        expect(bare.status).toBe(415);
      });
    }, 120_000);
  });

  describe.each(withParams.map((r) => [label(r), r] as const))('%s, path ids', (_label, route) => {
    it('answers path ids that are not ids with a 4xx problem document and writes nothing', async () => {
      const body = route.contract.body ? JSON.stringify(TEMPLATES[route.name] ?? {}) : undefined;
      await unchangedTables(() =>
        fc.assert(
          fc.asyncProperty(fc.constantFrom(...route.params), notAnId, async (param, junk) => {
            const res = await send(route, { path: pathOf(route, { [param]: junk }), ...(body !== undefined ? { body, contentType: 'application/json' } : {}) });
            expectProblem(res, junk);
          }),
          fcOptions(RUNS.params),
        ),
      );
    }, 120_000);
  });

  describe.each(withQuery.map((r) => [label(r), r] as const))('%s, query strings', (_label, route) => {
    it('answers query values the route refuses with 400', async () => {
      // Values stay short enough for a request line under API Gateway's 10 KB (Node answers 431 beyond 16 KB of headers).
      const names = Object.keys(route.contract.query!.shape);
      const query = fc
        .dictionary(
          fc.constantFrom(...names),
          fc.oneof(
            fc.string({ unit: 'grapheme', maxLength: 30 }),
            nasty.map((v) => JSON.stringify(v)?.slice(0, 500) ?? ''),
          ),
          { minKeys: 1 },
        )
        .filter(refusedBy(route.contract.query));
      await unchangedTables(() =>
        fc.assert(
          fc.asyncProperty(query, async (values) => {
            const res = await send(route, { path: `${pathOf(route)}?${new URLSearchParams(values).toString()}` });
            expect(res.status).toBe(400);
            expectProblem(res, values);
          }),
          fcOptions(RUNS.query),
        ),
      );
    }, 120_000);
  });

  describe.each(withoutInput.filter((r) => r.trigger.method === 'GET').map((r) => [label(r), r] as const))('%s, no input', (_label, route) => {
    it('ignores junk query strings, headers and bodies: never a 5xx, never a write', async () => {
      await unchangedTables(() =>
        fc.assert(
          fc.asyncProperty(
            fc.dictionary(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 10 }), fc.string({ maxLength: 50 }), { maxKeys: 3 }),
            notJsonTypes,
            async (values, contentType) => {
              const res = await send(route, { path: `${pathOf(route)}?${new URLSearchParams(values).toString()}`, body: undefined, contentType });
              expect(res.status).toBeLessThan(500);
              if (res.status >= 400) expectProblem(res);
            },
          ),
          fcOptions(RUNS.noInput),
        ),
      );
    }, 60_000);
  });
});
