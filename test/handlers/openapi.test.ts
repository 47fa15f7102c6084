import { functions } from '../../catalog';
import { handler } from '../../functions/openapi/handler';
import { invokeHttp } from '../support/events';

describe('GET /openapi.json', () => {
  it('documents every HTTP route of the catalog, with its request schema, without a token', async () => {
    // Act
    const res = await invokeHttp(handler, { path: '/openapi.json', claims: null });
    // Assess
    expect(res.status).toBe(200);
    const doc = res.json as { openapi: string; paths: Record<string, Record<string, { operationId: string; requestBody?: unknown; security?: unknown[] }>> };
    expect(doc.openapi).toBe('3.1.0');
    for (const [name, spec] of Object.entries(functions)) {
      if (spec.trigger.kind !== 'http') continue;
      const operation = doc.paths[spec.trigger.path]?.[spec.trigger.method.toLowerCase()];
      expect(operation?.operationId).toBe(name);
      if (spec.trigger.auth === 'public') expect(operation?.security).toEqual([]);
    }
    const putConsent = doc.paths['/v1/me/consent']!.put!;
    expect(putConsent.requestBody).toEqual({
      required: true,
      content: {
        'application/json': {
          schema: expect.objectContaining({
            type: 'object',
            additionalProperties: false,
            required: ['policyVersion', 'purposes', 'source'],
          }),
        },
      },
    });
  });
});
