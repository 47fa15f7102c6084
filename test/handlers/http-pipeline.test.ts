import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as putEmail } from '../../functions/start-email-verification/handler';
import { handler as createPolicy } from '../../functions/create-policy/handler';
import { handler as notFound } from '../../functions/not-found/handler';
import { invokeHttp } from '../support/events';

/** The middleware pipeline every HTTP function shares: auth, body parsing, validation, problem documents. */
describe('HTTP pipeline', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  afterEach(() => ddb.reset());

  const expectProblem = (res: { status: number; headers: Record<string, string>; json: Record<string, unknown> }, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json).toEqual(expect.objectContaining({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) }));
    expect(ddb.calls()).toHaveLength(0);
  };

  it('answers 401 without claims from the authorizer', async () => {
    const res = await invokeHttp(putEmail, { method: 'PUT', body: { email: 'a@example.com' }, claims: null });
    expectProblem(res, 401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it('answers 401 for a token with no known role', async () => {
    expectProblem(await invokeHttp(putEmail, { method: 'PUT', body: { email: 'a@example.com' }, claims: { sub: 'u-1', role: 'admin' } }), 401);
  });

  it('answers 403 for a user token on an operator route', async () => {
    const res = await invokeHttp(createPolicy, { method: 'POST', body: { version: 'v1', purposes: ['ads_targeting'], summary: 's' } });
    expectProblem(res, 403);
  });

  it('accepts a Cognito group as the role', async () => {
    ddb.onAnyCommand().resolves({});
    const res = await invokeHttp(createPolicy, {
      method: 'POST',
      body: { version: 'v1', purposes: ['ads_targeting'], summary: 's' },
      claims: { sub: 'op-1', 'cognito:groups': '[operator]' },
    });
    expect(res.status).toBe(201);
  });

  it('answers 400 for malformed JSON', async () => {
    expectProblem(await invokeHttp(putEmail, { method: 'PUT', rawBody: '{"email": ' }), 400);
  });

  it('answers 415 for a body that is not JSON', async () => {
    expectProblem(await invokeHttp(putEmail, { method: 'PUT', rawBody: 'email=a@example.com', contentType: 'application/x-www-form-urlencoded' }), 415);
    expectProblem(await invokeHttp(putEmail, { method: 'PUT', rawBody: '{}', contentType: null }), 415);
  });

  it('answers 413 for a body over 1 MiB', async () => {
    const res = await invokeHttp(putEmail, { method: 'PUT', body: { email: 'x'.repeat(1024 * 1024) } });
    expectProblem(res, 413);
  });

  it('answers 400 with field errors for wrong types and unknown fields, without echoing values', async () => {
    const res = await invokeHttp(putEmail, { method: 'PUT', body: { email: 12345, phone: '+14155550123' } });
    expectProblem(res, 400);
    expect(res.json.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'email' })]));
    expect(JSON.stringify(res.json)).not.toContain('+14155550123');
  });

  it.each([
    ['100,000 levels of arrays', '['.repeat(100_000) + ']'.repeat(100_000)],
    ['100,000 levels of objects', '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)],
    ['100,000 unclosed arrays', '['.repeat(100_000)],
    ['33 levels inside a field', `{"email":${'['.repeat(33)}${']'.repeat(33)}}`],
  ])('answers 400 for JSON nested too deeply (%s)', async (_label, rawBody) => {
    const res = await invokeHttp(putEmail, { method: 'PUT', rawBody });
    expectProblem(res, 400);
  });

  it('accepts JSON nested 32 levels deep as far as the parser is concerned', async () => {
    const res = await invokeHttp(putEmail, { method: 'PUT', rawBody: `{"email":${'['.repeat(31)}${']'.repeat(31)}}` });
    expectProblem(res, 400);
    expect(res.json.errors).toEqual([expect.objectContaining({ path: 'email' })]);
  });

  it('turns an unexpected error into a generic 500 with no error text', async () => {
    ddb.onAnyCommand().rejects(new Error('ResourceNotFoundException: table test-identities secret detail'));
    const res = await invokeHttp(putEmail, { method: 'PUT', body: { email: 'ana@example.com' } });
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(JSON.stringify(res.json)).not.toMatch(/secret|test-identities|ResourceNotFound|ana@/);
  });

  it('answers unknown routes with a 404 problem document that does not echo the path', async () => {
    const res = await invokeHttp(notFound, { method: 'GET', path: '/v1/users/+14155550123', claims: null });
    expectProblem(res, 404);
    expect(JSON.stringify(res.json)).not.toContain('4155550123');
  });
});
