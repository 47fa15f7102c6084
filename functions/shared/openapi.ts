import * as z from 'zod';
import { functions } from '../../catalog';
import type { FunctionName } from '../../catalog';
import type { RouteContract } from './http';

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') =>
  z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', reused: 'inline' }) as Record<string, unknown>;

function stripDialect(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

/**
 * The OpenAPI 3.1 document of every HTTP route in the catalog, built from the
 * same zod schemas that validate requests.
 */
export function openApiDocument(contracts: Partial<Record<FunctionName, RouteContract>>, info: { version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [name, spec] of Object.entries(functions)) {
    const trigger = spec.trigger;
    if (trigger.kind !== 'http') continue;
    const contract = contracts[name as FunctionName];
    if (!contract) throw new Error(`No contract for route ${trigger.method} ${trigger.path}`);
    const parameters: unknown[] = [];
    for (const [param, schema] of Object.entries(contract.params?.shape ?? {})) {
      parameters.push({ name: param, in: 'path', required: true, schema: stripDialect(jsonSchema(schema as z.ZodType, 'input')) });
    }
    for (const [param, schema] of Object.entries(contract.query?.shape ?? {})) {
      parameters.push({
        name: param,
        in: 'query',
        required: !(schema as z.ZodType).safeParse(undefined).success,
        schema: stripDialect(jsonSchema(schema as z.ZodType, 'input')),
      });
    }
    for (const [header, description] of Object.entries(contract.headers ?? {})) {
      parameters.push({ name: header, in: 'header', required: false, description, schema: { type: 'string' } });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(contract.responses)) {
      const mediaType = Number(status) >= 400 ? 'application/problem+json' : 'application/json';
      responses[status] = {
        description: response.description,
        ...(response.schema ? { content: { [mediaType]: { schema: stripDialect(jsonSchema(response.schema, 'output')) } } } : {}),
      };
    }
    const operation = {
      operationId: name,
      summary: contract.summary,
      ...(trigger.auth === 'public' ? { security: [] } : { 'x-roles': trigger.auth }),
      ...(parameters.length ? { parameters } : {}),
      ...(contract.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: stripDialect(jsonSchema(contract.body, 'input')) } } } }
        : {}),
      responses,
    };
    (paths[trigger.path] ??= {})[trigger.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Consent-aware audiences and business messages',
      version: info.version,
      description:
        'Users decide whether their phone number may be used for ads and friend suggestions; businesses build custom audiences from hashed customer lists and send end-to-end encrypted transactional messages.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
