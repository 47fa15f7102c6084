import * as z from 'zod';
import { functions } from '../../catalog';
import { apiTags, routeContracts } from '../../functions/contract';
import { handler } from '../../functions/openapi/handler';
import { openApiDocument } from '../../functions/shared/openapi';
import type { RouteContract } from '../../functions/shared/http';
import { invokeHttp } from '../support/events';

type Json = Record<string, unknown>;
interface Operation {
  operationId: string;
  tags: string[];
  requestBody?: { content: Record<string, { schema: Json }> };
  responses: Record<string, Json>;
  security?: unknown[];
}
interface Document {
  openapi: string;
  servers: { url: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json>; responses: Record<string, Json>; securitySchemes: Record<string, Json> };
}

/** Every `$ref` anywhere in a value. */
function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) => (key === '$ref' && typeof item === 'string' ? [item] : refsIn(item)));
}

function resolve(doc: Document, ref: string): Json | undefined {
  const [, kind, name] = /^#\/components\/(schemas|responses)\/(.+)$/.exec(ref) ?? [];
  return kind && name ? (doc.components[kind as 'schemas' | 'responses'][name] as Json | undefined) : undefined;
}

describe('GET /openapi.json', () => {
  let doc: Document;
  beforeAll(async () => {
    const res = await invokeHttp(handler, { path: '/openapi.json', claims: null });
    expect(res.status).toBe(200);
    doc = res.json as unknown as Document;
  });

  it('documents every HTTP route of the catalog, tagged, without a token for public ones', () => {
    expect(doc.openapi).toBe('3.1.0');
    const tagNames = doc.tags.map((t) => t.name);
    for (const [name, spec] of Object.entries(functions)) {
      if (spec.trigger.kind !== 'http') continue;
      const operation = doc.paths[spec.trigger.path]?.[spec.trigger.method.toLowerCase()];
      expect(operation?.operationId).toBe(name);
      expect(operation?.tags).toHaveLength(1);
      expect(tagNames).toContain(operation?.tags[0]);
      expect(operation?.responses['500']).toEqual({ $ref: '#/components/responses/InternalError' });
      if (spec.trigger.auth === 'public') expect(operation?.security).toEqual([]);
    }
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
    expect(doc.components.securitySchemes.bearer).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }));
  });

  it('names shared shapes as components, and every reference resolves inside the document', () => {
    for (const name of ['Problem', 'ConsentReceipt', 'Audience', 'AudienceUsersBatch', 'CustomerFileSource', 'MessageCategory']) {
      expect(doc.components.schemas[name]).toBeDefined();
    }
    const refs = refsIn(doc);
    expect(refs.length).toBeGreaterThan(50);
    expect(refs.filter((ref) => resolve(doc, ref) === undefined)).toEqual([]);
    expect(JSON.stringify(doc)).not.toContain('$defs');

    const putConsent = doc.paths['/v1/me/consent']!.put!;
    const body = putConsent.requestBody!.content['application/json']!.schema;
    expect(resolve(doc, body.$ref as string)).toEqual(
      expect.objectContaining({ type: 'object', additionalProperties: false, required: ['policyVersion', 'purposes', 'source'] }),
    );
    expect(resolve(doc, putConsent.responses['400']!.$ref as string)).toEqual(
      expect.objectContaining({ content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } }),
    );
  });

  it('bounds every array and string of every request schema', () => {
    const unbounded: string[] = [];
    let checked = 0;
    const walk = (schema: unknown, where: string): void => {
      if (!schema || typeof schema !== 'object') return;
      const s = schema as Json;
      if (typeof s.$ref === 'string') return walk(resolve(doc, s.$ref), `${where} → ${s.$ref}`);
      if (s.type === 'array' || s.type === 'string') checked += 1;
      if (s.type === 'array' && s.maxItems === undefined) unbounded.push(where);
      if (s.type === 'string' && s.maxLength === undefined && s.pattern === undefined && s.enum === undefined) unbounded.push(where);
      for (const [key, item] of Object.entries(s.properties ?? {})) walk(item, `${where}.${key}`);
      if (s.items) walk(s.items, `${where}[]`);
      for (const branch of [...((s.anyOf as unknown[]) ?? []), ...((s.oneOf as unknown[]) ?? [])]) walk(branch, where);
    };
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const label = `${method.toUpperCase()} ${path}`;
        walk(operation.requestBody?.content['application/json']?.schema, label);
        for (const parameter of (operation as { parameters?: { in: string; name: string; schema: Json }[] }).parameters ?? []) {
          walk(parameter.schema, `${label} ${parameter.in} ${parameter.name}`);
        }
      }
    }
    expect(unbounded).toEqual([]);
    expect(checked).toBeGreaterThan(30);
  });

  it('describes a named schema whose request form differs from its response form twice', () => {
    // A default makes a field optional in requests and present in responses.
    const Sized = z.object({ size: z.number().int().default(10) }).meta({ id: 'SizedForTest' });
    const contract: RouteContract = {
      summary: 'A test route',
      tag: 'Meta',
      body: z.object({ sized: Sized }),
      responses: { 200: { description: 'The same', schema: z.object({ sized: Sized }) } },
    };
    const test = openApiDocument({ ...routeContracts, openapi: contract }, { version: '0', tags: apiTags, problem: z.object({}) });
    expect(test.components.schemas.SizedForTest).toEqual(expect.objectContaining({ required: ['size'] }));
    expect(test.components.schemas.SizedForTestInput).toEqual(expect.not.objectContaining({ required: expect.anything() }));
    const operation = test.paths['/openapi.json']!.get as { requestBody: unknown; responses: Record<string, unknown> };
    expect(refsIn(operation.requestBody)).toEqual(['#/components/schemas/SizedForTestInput']);
    expect(refsIn(operation.responses['200'])).toEqual(['#/components/schemas/SizedForTest']);
  });
});
