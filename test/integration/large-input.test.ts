/**
 * Large and deeply nested bodies, property-based (fast-check), on every HTTP
 * route of the catalog: bodies up to and just over the 1 MiB limit made of
 * long arrays (of numbers, strings, hashes, rows, objects), arrays of rows,
 * and arrays or objects nested up to 100,000 levels deep, placed at the root,
 * in place of any field of a valid request, or under a field of their own.
 *
 * Never a 5xx. A route that takes a body answers every body its schema
 * refuses (or that is too large, or nested too deeply) with a 4xx problem
 * document that is bounded in size and repeats nothing that was sent. Routes
 * without a body (GET ones included) get the same bodies and must still
 * answer below 500. Bodies go out through node:http, which, unlike fetch,
 * sends a body with any method.
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import fc from 'fast-check';
import type { Role } from '../../catalog';
import { MAX_BODY_BYTES, MAX_JSON_DEPTH } from '../../functions/shared/http';
import { MAX_FIELD_ERRORS } from '../../functions/shared/problems';
import { newId, stackUrl, tokenFor } from './support';
import { label, pathOf, pathsOf, replaced, routes, TEMPLATES, type Route } from './support/routes';

/** A value that a problem document must never repeat. */
const SECRET_HASH = createHash('sha256').update('large-input: never echoed').digest('hex');
const RUNS = 60;

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

function send(route: Route, token: string | undefined, body: string): Promise<Answer> {
  const url = new URL(pathOf(route), stackUrl());
  const bytes = Buffer.from(body, 'utf8');
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: route.trigger.method,
        headers: { 'content-type': 'application/json', 'content-length': bytes.length, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(bytes);
  });
}

// ------------------------------------------------------------------ bodies

/** Elements of long arrays, as JSON text: the shortest most often, since they make the most elements of a body. */
const element: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('0', '1', 'null', '""') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('1.5', 'true', '"a"', `"${SECRET_HASH}"`, `["${SECRET_HASH}",""]`, '[]', '{}', '[1,2]', '{"a":1}', `"${'x'.repeat(2000)}"`),
  },
);

type Big =
  | { readonly kind: 'array'; readonly element: string; readonly bytes: number }
  | { readonly kind: 'rows'; readonly element: string; readonly rows: number; readonly bytes: number }
  | { readonly kind: 'nested-arrays'; readonly depth: number }
  | { readonly kind: 'nested-objects'; readonly depth: number }
  | { readonly kind: 'nested-mixed'; readonly depth: number };

/** Body sizes: mostly close under the limit, where a body can hold the most, some small, some over. */
const bytes = fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 64 * 1024 }) },
  { weight: 3, arbitrary: fc.integer({ min: MAX_BODY_BYTES / 4, max: MAX_BODY_BYTES - 4_096 }) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_BODY_BYTES - 4_096, max: MAX_BODY_BYTES + 65_536 }) },
);
const depth = fc.oneof(fc.integer({ min: 1, max: MAX_JSON_DEPTH + 2 }), fc.integer({ min: MAX_JSON_DEPTH, max: 100_000 }));
const big: fc.Arbitrary<Big> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('array' as const), element, bytes }) },
  // A few very wide rows, or many narrow ones.
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('rows' as const),
      element,
      rows: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1_000, max: 20_000 })),
      bytes,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('nested-arrays' as const), depth }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('nested-objects' as const), depth }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('nested-mixed' as const), depth }) },
);

/** The big value as JSON text, and how deep it nests. */
function render(value: Big): { text: string; depth: number } {
  switch (value.kind) {
    case 'array': {
      const n = Math.max(1, Math.floor(value.bytes / (value.element.length + 1)));
      return { text: `[${Array(n).fill(value.element).join(',')}]`, depth: 1 + (/^[[{]/.test(value.element) ? 1 : 0) };
    }
    case 'rows': {
      const width = Math.max(1, Math.floor(value.bytes / value.rows / (value.element.length + 1)));
      const row = `[${Array(width).fill(value.element).join(',')}]`;
      return { text: `[${Array(value.rows).fill(row).join(',')}]`, depth: 2 + (/^[[{]/.test(value.element) ? 1 : 0) };
    }
    case 'nested-arrays':
      return { text: `${'['.repeat(value.depth)}${']'.repeat(value.depth)}`, depth: value.depth };
    case 'nested-objects':
      return { text: `${'{"a":'.repeat(value.depth)}0${'}'.repeat(value.depth)}`, depth: value.depth };
    case 'nested-mixed': {
      const pairs = Math.ceil(value.depth / 2);
      return { text: `${'[{"a":'.repeat(pairs)}0${'}]'.repeat(pairs)}`, depth: pairs * 2 };
    }
  }
}

const PLACEHOLDER = '\u0000big\u0000';

/** Where the big value goes: the whole body, a field of the route's valid request (arrays most often), or a field of its own. */
function placements(route: Route): fc.Arbitrary<readonly (string | number)[]> {
  const template = TEMPLATES[route.name] ?? {};
  const fields = pathsOf(template).filter((p) => p.length > 0);
  const arrays = fields.filter((p) => Array.isArray(p.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], template)));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant([]) },
    { weight: 1, arbitrary: fc.constantFrom(...fields, ['data']) },
    { weight: 3, arbitrary: fc.constantFrom(...arrays, ['data']) },
    { weight: 1, arbitrary: fc.constant(['extra']) },
  );
}

function bodyOf(route: Route, at: readonly (string | number)[], value: { text: string }): string {
  const template = TEMPLATES[route.name] ?? {};
  const withPlaceholder = JSON.stringify(at.length === 0 ? PLACEHOLDER : replaced(template, at, PLACEHOLDER));
  return withPlaceholder.replace(JSON.stringify(PLACEHOLDER), () => value.text);
}

/** Whether the route must refuse this body: too large, nested too deeply, or not what its schema accepts. */
function mustRefuse(route: Route, body: string, nesting: number, placedDeep: boolean): boolean {
  if (Buffer.byteLength(body) > MAX_BODY_BYTES) return true;
  // The value sits one level (or more, inside a field) below the body's root.
  if (nesting + (placedDeep ? 1 : 0) > MAX_JSON_DEPTH) return true;
  return !route.contract.body!.safeParse(JSON.parse(body)).success;
}

// ------------------------------------------------------------------ checks

function expectBoundedProblem(answer: Answer): void {
  expect(answer.status).toBeGreaterThanOrEqual(400);
  expect(answer.status).toBeLessThan(500);
  expect(answer.contentType).toBe('application/problem+json');
  const problem = JSON.parse(answer.text) as { type: unknown; title: unknown; status: unknown; detail: unknown; errors?: unknown[] };
  expect(problem).toEqual(expect.objectContaining({ type: expect.any(String), title: expect.any(String), status: answer.status, detail: expect.any(String) }));
  expect((problem.errors ?? []).length).toBeLessThanOrEqual(MAX_FIELD_ERRORS);
  expect(answer.text.length).toBeLessThan(16 * 1024);
  expect(answer.text).not.toContain(SECRET_HASH);
  expect(answer.text).not.toContain('xxxxxxxxxxxxxxxx');
}

const tokens = new Map<string, string>();
beforeAll(async () => {
  for (const route of routes) {
    if (route.trigger.auth === 'public') continue;
    const role: Role = route.trigger.auth[0]!;
    tokens.set(route.name, await tokenFor(role, newId(`large-${role}`)));
  }
});

const withBody = routes.filter((r) => r.contract.body);
const withoutBody = routes.filter((r) => !r.contract.body);
const fcOptions = { numRuns: RUNS, interruptAfterTimeLimit: 150_000, markInterruptAsFailure: true };

describe('large and deeply nested bodies on every route', () => {
  it('covers every HTTP route of the catalog', () => {
    expect(withBody.length + withoutBody.length).toBe(routes.length);
    expect(withBody.length).toBeGreaterThan(5);
  });

  describe.each(withBody.map((r) => [label(r), r] as const))('%s', (_label, route) => {
    it('answers every large or deeply nested body it must refuse with a bounded 4xx problem document', async () => {
      let refused = 0;
      await fc.assert(
        fc.asyncProperty(big, placements(route), async (value, at) => {
          const rendered = render(value);
          const body = bodyOf(route, at, rendered);
          fc.pre(mustRefuse(route, body, rendered.depth, at.length > 0));
          refused += 1;
          expectBoundedProblem(await send(route, tokens.get(route.name), body));
        }),
        fcOptions,
      );
      expect(refused).toBeGreaterThan(0);
    }, 180_000);
  });

  describe.each(withoutBody.map((r) => [label(r), r] as const))('%s (takes no body)', (_label, route) => {
    it('never answers a large or deeply nested body with a 5xx', async () => {
      await fc.assert(
        fc.asyncProperty(big, async (value) => {
          const answer = await send(route, tokens.get(route.name), render(value).text);
          expect(answer.status).toBeLessThan(500);
          if (answer.status >= 400) expectBoundedProblem(answer);
        }),
        { ...fcOptions, numRuns: Math.ceil(RUNS / 2) },
      );
    }, 120_000);
  });

  describe.each(withBody.map((r) => [label(r), r] as const))('%s, known worst cases', (_label, route) => {
    it.each([
      ['one row of 125,000 numbers in data', (r: Route) => bodyOf(r, ['data'], { text: `[[${Array(125_000).fill('1').join(',')}]]` })],
      ['100,000 levels of [ never closed', () => '['.repeat(100_000)],
      ['100,000 levels of arrays', () => `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
      ['100,000 levels of objects', () => `${'{"a":'.repeat(100_000)}0${'}'.repeat(100_000)}`],
      ['100,000 levels of arrays in a field', (r: Route) => bodyOf(r, ['data'], { text: `${'['.repeat(100_000)}${']'.repeat(100_000)}` })],
    ])('%s: a bounded 400 problem document', async (_case, make) => {
      const answer = await send(route, tokens.get(route.name), make(route));
      expect(answer.status).toBe(400);
      expectBoundedProblem(answer);
    });
  });
});
