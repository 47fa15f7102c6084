import * as z from 'zod';
import { functions } from '../../catalog';
import type { FunctionName } from '../../catalog';
import type { ResponseContract, RouteContract } from './http';
import { documentedBy } from '../contract/common';

type Json = Record<string, unknown>;
type Io = 'input' | 'output';

export interface OpenApiOptions {
  readonly version: string;
  /** Every tag a contract may carry, with its description. */
  readonly tags: readonly { readonly name: string; readonly description: string }[];
  /** The problem document: every route may answer 500 with it, and a route with path or query parameters 400. */
  readonly problem: z.ZodType;
}

const SCHEMAS = '#/components/schemas/';
const RESPONSES = '#/components/responses/';
const LOCAL_DEF = /^#\/\$defs\/(.+)$/;

/** JSON with object keys sorted, to compare two schemas by content. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A deep copy of a converted schema with every `#/$defs/<id>` reference renamed. */
function withRefs(value: unknown, rename: (id: string) => string): unknown {
  if (Array.isArray(value)) return value.map((item) => withRefs(item, rename));
  if (!value || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [key, item] of Object.entries(value as Json)) {
    const local = key === '$ref' && typeof item === 'string' ? LOCAL_DEF.exec(item) : null;
    out[key] = local ? `${SCHEMAS}${rename(local[1]!)}` : withRefs(item, rename);
  }
  return out;
}

/** A zod schema as JSON Schema; a `checkedFast` schema is described by its full schema. */
function toJsonSchema(schema: z.ZodType, io: Io): Json {
  return z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    override: ({ zodSchema, jsonSchema }) => {
      const full = documentedBy.get(zodSchema);
      if (full) Object.assign(jsonSchema, omitDialect(toJsonSchema(full, io)));
    },
  }) as Json;
}

const omitDialect = ({ $schema: _dialect, ...rest }: Json): Json => rest;

/**
 * Converts zod schemas to JSON Schema and collects the named ones (`.meta({ id })`)
 * as components. A named schema whose request form differs from its response
 * form (a default, a transform) gets a second component, `<id>Input`.
 */
class SchemaCollector {
  private readonly named: Record<Io, Map<string, Json>> = { input: new Map(), output: new Map() };
  private readonly placed: { readonly json: Json; readonly io: Io }[] = [];

  /** A placeholder for the schema's JSON Schema, filled in by `finish()`. */
  convert(schema: z.ZodType, io: Io): Json {
    const converted = toJsonSchema(schema, io);
    const { $schema: _dialect, $defs, ...root } = converted;
    for (const [id, def] of Object.entries(($defs ?? {}) as Record<string, Json>)) {
      if (id.startsWith('__schema')) throw new Error('A recursive schema needs an id (.meta({ id })) to be described');
      const known = this.named[io].get(id);
      if (known && canonical(known) !== canonical(def)) throw new Error(`Two different schemas are named ${id}`);
      this.named[io].set(id, def);
    }
    this.placed.push({ json: root, io });
    return root;
  }

  /** Resolves every placeholder's references and returns `components.schemas`, sorted by name. */
  finish(): Record<string, Json> {
    const { input, output } = this.named;
    const split = new Set<string>();
    const nameOf = (io: Io) => (id: string) => (io === 'input' && split.has(id) ? `${id}Input` : id);
    // A schema that refers to a split one differs too: repeat until nothing more splits.
    for (let changed = true; changed;) {
      changed = false;
      for (const [id, def] of input) {
        const other = output.get(id);
        if (!other || split.has(id)) continue;
        if (canonical(withRefs(def, nameOf('input'))) !== canonical(withRefs(other, nameOf('output')))) {
          split.add(id);
          changed = true;
        }
      }
    }
    for (const { json, io } of this.placed) {
      const resolved = withRefs(json, nameOf(io)) as Json;
      for (const key of Object.keys(json)) delete json[key];
      Object.assign(json, resolved);
    }
    const schemas: Record<string, Json> = {};
    for (const io of ['output', 'input'] as const) {
      for (const [id, def] of this.named[io]) schemas[nameOf(io)(id)] ??= withRefs(def, nameOf(io)) as Json;
    }
    return Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

/**
 * The OpenAPI 3.1 document of every HTTP route in the catalog, built from the
 * same zod schemas that validate requests. A route is described by its
 * catalog entry (method, path, roles) and its contract (schemas, answers,
 * tag): nothing else needs writing for a new route to appear here and in
 * the generated client types.
 */
export function openApiDocument(contracts: Partial<Record<FunctionName, RouteContract>>, options: OpenApiOptions) {
  const schemas = new SchemaCollector();
  const responseComponents: Record<string, { readonly object: Json; readonly key: string }> = {};
  const knownTags = new Set(options.tags.map((t) => t.name));
  const standard = {
    invalidParameters: {
      description: 'A path or query parameter is not valid (see errors)',
      schema: options.problem,
      component: 'InvalidParameters',
    } satisfies ResponseContract,
    internalError: {
      description: "Something went wrong on the service's side; the problem document carries no detail of it",
      schema: options.problem,
      component: 'InternalError',
    } satisfies ResponseContract,
  };

  const responseObject = (status: number, response: ResponseContract): Json => {
    const mediaType = status >= 400 ? 'application/problem+json' : 'application/json';
    const object: Json = {
      description: response.description,
      ...(response.headers
        ? {
            headers: Object.fromEntries(Object.entries(response.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }])),
          }
        : {}),
      ...(response.schema ? { content: { [mediaType]: { schema: schemas.convert(response.schema, 'output') } } } : {}),
    };
    if (!response.component) return object;
    // Compared before references are resolved: the same answer is the same response and schema.
    const key = canonical({ status: status >= 400, description: response.description, headers: response.headers, schema: object.content });
    const known = responseComponents[response.component];
    if (known && known.key !== key) throw new Error(`Two different responses are named ${response.component}`);
    responseComponents[response.component] ??= { object, key };
    return { $ref: `${RESPONSES}${response.component}` };
  };

  const paths: Record<string, Record<string, unknown>> = {};
  for (const [name, spec] of Object.entries(functions)) {
    const trigger = spec.trigger;
    if (trigger.kind !== 'http') continue;
    const contract = contracts[name as FunctionName];
    if (!contract) throw new Error(`No contract for route ${trigger.method} ${trigger.path}`);
    if (!contract.tag || !knownTags.has(contract.tag)) throw new Error(`The contract of ${name} has no known tag`);

    const parameters: Json[] = [];
    const parameter = (param: string, where: 'path' | 'query', schema: z.ZodType, required: boolean) => {
      const json = schemas.convert(schema, 'input');
      const description = typeof json.description === 'string' ? json.description : undefined;
      delete json.description;
      parameters.push({ name: param, in: where, required, ...(description ? { description } : {}), schema: json });
    };
    for (const [param, schema] of Object.entries(contract.params?.shape ?? {})) parameter(param, 'path', schema as z.ZodType, true);
    for (const [param, schema] of Object.entries(contract.query?.shape ?? {})) {
      parameter(param, 'query', schema as z.ZodType, !(schema as z.ZodType).safeParse(undefined).success);
    }
    for (const [header, { description, schema }] of Object.entries(contract.headers ?? {})) {
      parameters.push({ name: header, in: 'header', required: false, description, schema: schemas.convert(schema, 'input') });
    }

    const answers: Record<number, ResponseContract> = { ...contract.responses };
    if ((contract.params || contract.query) && !answers[400]) answers[400] = standard.invalidParameters;
    answers[500] ??= standard.internalError;
    const responses: Record<string, unknown> = {};
    for (const status of Object.keys(answers)
      .map(Number)
      .sort((a, b) => a - b))
      responses[status] = responseObject(status, answers[status]!);

    const roles = trigger.auth === 'public' ? 'No token needed.' : `Roles: ${trigger.auth.join(', ')}.`;
    (paths[trigger.path] ??= {})[trigger.method.toLowerCase()] = {
      operationId: name,
      summary: contract.summary,
      description: roles,
      tags: [contract.tag],
      ...(trigger.auth === 'public' ? { security: [] } : { 'x-roles': trigger.auth }),
      ...(parameters.length ? { parameters } : {}),
      ...(contract.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemas.convert(contract.body, 'input') } } } } : {}),
      responses,
    };
  }

  const componentSchemas = schemas.finish();
  return {
    openapi: '3.1.0',
    info: {
      title: 'Consent-aware audiences and business messages',
      version: options.version,
      description:
        'Users decide whether their phone number may be used for ads and friend suggestions; businesses build custom audiences from hashed customer lists and send end-to-end encrypted transactional messages. ' +
        'Every error is an RFC 9457 problem document (application/problem+json).',
    },
    servers: [
      {
        url: '/',
        description: 'The stack that serves this document: locally http://127.0.0.1:3000 (or the URL `npm start` prints), deployed the ApiUrl stack output',
      },
    ],
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    tags: options.tags.map((t) => ({ name: t.name, description: t.description })),
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: componentSchemas,
      responses: Object.fromEntries(
        Object.entries(responseComponents)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([name, { object }]) => [name, object]),
      ),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT with `sub` (the caller) and `role` (user, business or operator)' },
      },
    },
  };
}

export type OpenApiDocument = ReturnType<typeof openApiDocument>;
