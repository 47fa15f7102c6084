/**
 * Security on the local stack:
 * - every route's authorisation, one table generated from the catalog: each
 *   role (and no token) against each HTTP route, 401/403 exactly as the
 *   route's `auth` says;
 * - cross-business access answers 404, exactly as a missing resource;
 * - tokens whose claims the functions must refuse (the gateway's refusals of
 *   alg none, wrong key, issuer, audience and expiry are in local-stack.test.ts);
 * - no phone number, email, hash, match key, ciphertext, message text, public
 *   key, pepper, token, one-time code or verification id in the logs of a
 *   private stack running every function at DEBUG.
 *
 * The table runs on the shared stack: requests are harmless (empty bodies,
 * made-up ids, fresh callers), so no policy is ever published here.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { catalog, type FunctionSpec, type Role } from '../../catalog';
import { seal } from '../../client';
import { accountMatchKeys, emailSha256, phoneSha256 } from '../../functions/core/identifiers';
import { api, closeAwsClients, eventually, newId, REPO_ROOT, startStack, tableName, tokenFor, type ApiResponse, type PrivateStack } from './support';
import { signToken, validClaims } from './support/tokens';
import { confirmVerification, createUser, ensurePolicy, nextCode, outbox, startVerification, uniquePhone } from './support/users';
import { stateKey } from '../../functions/tables/consent-states';
import { appliedKey } from '../../functions/tables/match-index';

const functionSpecs: Record<string, FunctionSpec> = catalog.functions;
const present = (name: string) => Boolean(functionSpecs[name]) && existsSync(resolve(REPO_ROOT, functionSpecs[name]!.entry));
type HttpTrigger = Extract<FunctionSpec['trigger'], { kind: 'http' }>;
const httpRoutes = Object.entries(functionSpecs).flatMap(([name, spec]) =>
  spec.trigger.kind === 'http' && present(name) ? [{ name, trigger: spec.trigger }] : [],
);

const PLACEHOLDER: Record<string, string> = { id: `aud-${'0'.repeat(32)}`, sessionId: '1', userId: 'u-nobody' };
const pathOf = (trigger: HttpTrigger, values: Record<string, string> = {}) =>
  trigger.path.replace(/\{(\w+)\+?\}/g, (_, name: string) => encodeURIComponent(values[name] ?? PLACEHOLDER[name] ?? 'x1'));

const isProblem = (res: ApiResponse, status: number) => {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect(res.json).toEqual(expect.objectContaining({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) }));
};

afterAll(() => closeAwsClients());

// ------------------------------------------------------------------ the table

type Caller = 'none' | Role;
const CALLERS: readonly Caller[] = ['none', 'user', 'business', 'operator'];
type Expected = 401 | 403 | 'allowed';
const expectedFor = (auth: HttpTrigger['auth'], caller: Caller): Expected =>
  auth === 'public' ? 'allowed' : caller === 'none' ? 401 : auth.includes(caller) ? 'allowed' : 403;

const table = httpRoutes.flatMap(({ name, trigger }) =>
  CALLERS.map((caller) => ({ route: `${trigger.method} ${trigger.path}`, caller, expected: expectedFor(trigger.auth, caller), name, trigger })),
);

describe('authorisation of every route, for every role (from the catalog)', () => {
  const tokens = new Map<Role, string>();
  beforeAll(async () => {
    for (const role of ['user', 'business', 'operator'] as const) tokens.set(role, await tokenFor(role, newId(`authz-${role}`)));
  });

  it('has a row for every role on every HTTP route', () => {
    expect(table).toHaveLength(httpRoutes.length * CALLERS.length);
    expect(httpRoutes.length).toBeGreaterThan(10);
  });

  it.each(table)('$route as $caller → $expected', async ({ trigger, caller, expected }) => {
    // An empty JSON body: a route that wants one answers 400 once the caller is through; nothing is ever written.
    const res = await api(trigger.method, pathOf(trigger), {
      ...(caller === 'none' ? {} : { token: tokens.get(caller)! }),
      ...(trigger.method === 'GET' ? {} : { body: {} }),
    });

    if (expected === 'allowed') {
      expect([401, 403]).not.toContain(res.status);
      expect(res.status).toBeLessThan(500);
    } else {
      isProblem(res, expected);
      if (expected === 401) expect(res.headers['www-authenticate']).toBe('Bearer');
    }
  });
});

// ------------------------------------------------------------------ claims the functions refuse

describe('tokens the gateway accepts but whose claims name no caller', () => {
  const route = httpRoutes.find(
    (r) => r.trigger.method === 'GET' && Array.isArray(r.trigger.auth) && r.trigger.auth.includes('user') && !r.trigger.path.includes('{'),
  )!;

  it.each([
    ['an unknown role', () => signToken({ ...validClaims('user', newId('u')), role: 'admin' })],
    ['no role at all', () => signToken({ ...validClaims('user', newId('u')), role: undefined })],
    ['no subject', () => signToken({ ...validClaims('user', 'x'), sub: undefined })],
    ['a subject over 128 characters', () => signToken(validClaims('user', 'u'.repeat(129)))],
  ])('answers %s with 401', async (_what, token) => {
    isProblem(await api('GET', route.trigger.path, { token: await token() }), 401);
  });

  it('takes identity from the token only: a token in the query string or a body is no token', async () => {
    const token = await tokenFor('user', newId('u'));
    isProblem(await api('GET', `${route.trigger.path}?access_token=${token}`), 401);
    isProblem(await api('PUT', '/v1/me/phone', { body: { phoneNumber: uniquePhone(), token, sub: 'someone' } }), 401);
  });
});

// ------------------------------------------------------------------ cross-business access

/** Business routes on one resource (`{id}` in their path) and what the owner's resource id is there. */
const ownedRoutes = httpRoutes.filter(({ trigger }) => trigger.path.includes('{id}') && Array.isArray(trigger.auth) && trigger.auth.includes('business'));
const audiencesReady = ['createAudience', 'addAudienceUsers', 'getAudience'].every(present);

describe('cross-business access', () => {
  const owned: Record<'audience' | 'message', string> = { audience: '', message: '' };
  let owner: string;
  let intruder: string;
  let audienceBody: Record<string, unknown>;

  beforeAll(async () => {
    owner = await tokenFor('business', newId('biz-owner'));
    intruder = await tokenFor('business', newId('biz-intruder'));
    const recipient = await createUser({ key: true });
    const sent = await api('POST', '/v1/messages', {
      token: owner,
      body: { to: recipient.phoneNumber, category: 'receipt', keyId: recipient.key!.keyId, ciphertext: randomBytes(24).toString('base64') },
    });
    expect(sent.status).toBe(202);
    owned.message = sent.json.messageId;
    if (audiencesReady) {
      const created = await api('POST', '/v1/audiences', { token: owner, body: { name: 'Owner only', customerFileSource: 'USER_PROVIDED_ONLY' } });
      expect(created.status).toBe(201);
      owned.audience = created.json.id;
      audienceBody = { session: { id: 7, batchSeq: 1, lastBatch: true }, schema: ['PHONE_SHA256'], data: [[phoneSha256(recipient.phoneNumber!)]] };
      expect((await api('POST', `/v1/audiences/${owned.audience}/users`, { token: owner, body: audienceBody })).status).toBe(202);
    }
  });

  it('knows which resource every business route on an {id} belongs to', () => {
    expect(ownedRoutes.map(({ trigger }) => trigger.path).filter((p) => !/^\/v1\/(audiences|messages)\//.test(p))).toEqual([]);
  });

  it.each(ownedRoutes.map((r) => [`${r.trigger.method} ${r.trigger.path}`, r] as const))(
    '%s: another business gets exactly the 404 of a resource that does not exist',
    async (_label, { trigger }) => {
      const kind = trigger.path.startsWith('/v1/audiences/') ? 'audience' : 'message';
      if (kind === 'audience' && !audiencesReady) return;
      const missing = kind === 'audience' ? `aud-${randomBytes(16).toString('hex')}` : '01KAZZZZZZZZZZZZZZZZZZZZZZ';
      const options = (token: string) => ({
        token,
        ...(trigger.method === 'GET' || (trigger.method === 'DELETE' && !trigger.path.endsWith('/users')) ? {} : { body: audienceBody }),
      });

      const foreign = await api(trigger.method, pathOf(trigger, { id: owned[kind], sessionId: '7' }), options(intruder));
      const absent = await api(trigger.method, pathOf(trigger, { id: missing, sessionId: '7' }), options(intruder));

      isProblem(foreign, 404);
      expect(foreign.json).toEqual(absent.json);
      expect(foreign.text).not.toContain(owned[kind]);
    },
  );

  it("leaves the owner's resources untouched and unlisted for the intruder", async () => {
    expect((await api('GET', `/v1/messages/${owned.message}`, { token: owner })).status).toBe(200);
    if (!audiencesReady) return;
    expect((await api('GET', `/v1/audiences/${owned.audience}`, { token: owner })).status).toBe(200);
    expect((await api('GET', '/v1/audiences', { token: intruder })).json.items).toEqual([]);
    expect((await api('GET', '/v1/audiences', { token: owner })).json.items.map((a: { id: string }) => a.id)).toContain(owned.audience);
  });
});

// ------------------------------------------------------------------ nothing personal in the logs

describe('logs of a private stack at DEBUG, after a full flow', () => {
  const pepper = randomBytes(32).toString('hex');
  let stack: PrivateStack;

  beforeAll(async () => {
    stack = await startStack({
      env: { POWERTOOLS_LOG_LEVEL: 'DEBUG', LOG_LEVEL: 'DEBUG', POWERTOOLS_LOGGER_LOG_EVENT: 'true', AWS_LAMBDA_LOG_LEVEL: 'DEBUG', LOCAL_PEPPER: pepper },
      outputChunks: Infinity,
    });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('holds no phone number, email, hash, match key, ciphertext, message text, public key, pepper, bearer token, one-time code or verification id', async () => {
    const baseUrl = stack.url;
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    // A user with a phone (typed with separators) and an email, who grants both purposes
    await ensurePolicy(baseUrl);
    const phone = uniquePhone();
    const typed = `+1 (${phone.slice(2, 5)}) ${phone.slice(5, 8)}-${phone.slice(8)}`;
    const email = `${newId('ana')}@example.com`;
    const ana = await createUser({ baseUrl, phone: typed, email: ` ${email.toUpperCase()} `, ads: 'granted', friends: 'granted', key: true });
    expect(ana.phoneNumber).toBe(phone);
    const tokens = [ana.token];
    const codes = (await outbox(phone, baseUrl)).concat(await outbox(email, baseUrl)).map((m) => m.code);
    expect(codes).toHaveLength(2);
    // Verifications that carry the same identifiers: a held number started again, a wrong and a foreign code, a plain PUT,
    // a malformed number and address; then a number that moves to another account (its holder loses it)
    const bob = await createUser({ baseUrl, phone: false });
    tokens.push(bob.token);
    const verificationIds: string[] = [];
    const started = await startVerification('phone', bob.token, typed, baseUrl);
    expect(started.status).toBe(202);
    verificationIds.push(started.json.verificationId);
    const bobCode = await nextCode(phone, 1, baseUrl);
    codes.push(bobCode);
    const wrong = bobCode === '000000' ? '000001' : '000000';
    expect((await confirmVerification('phone', bob.token, started.json.verificationId, wrong, baseUrl)).status).toBe(400);
    expect((await confirmVerification('phone', ana.token, started.json.verificationId, bobCode, baseUrl)).status).toBe(410);
    expect((await stack.api('PUT', '/v1/me/phone', { token: bob.token, body: { phoneNumber: typed } })).status).toBe(400);
    expect((await stack.api('POST', '/v1/me/phone/verification', { token: bob.token, body: { phoneNumber: `${phone}999` } })).status).toBe(400);
    expect((await stack.api('POST', '/v1/me/email/verification', { token: bob.token, body: { email: `${email}@@` } })).status).toBe(400);
    const cat = await createUser({ baseUrl, phone: false });
    tokens.push(cat.token);
    const spare = uniquePhone();
    const spareStart = await startVerification('phone', cat.token, spare, baseUrl);
    verificationIds.push(spareStart.json.verificationId);
    const spareCode = await nextCode(spare, 0, baseUrl);
    codes.push(spareCode);
    expect((await confirmVerification('phone', cat.token, spareStart.json.verificationId, spareCode, baseUrl)).status).toBe(200);
    // The fan-out keys the identifiers with the pepper
    const keys = accountMatchKeys(Buffer.from(pepper, 'utf8'), { phoneNumber: phone, email });
    const { ddb } = await stack.clients();
    await eventually(
      async () => {
        const state = (await ddb.send(new GetCommand({ TableName: tableName('matchIndex'), Key: appliedKey(ana.userId), ConsistentRead: true }))).Item;
        expect(state?.keys).toEqual(expect.arrayContaining(keys));
      },
      { timeoutMs: 30_000 },
    );
    // A business looks up Ana's key, seals a known text to it, sends; Ana lists and acknowledges; one to a number nobody has
    const business = await stack.tokenFor('business', newId('biz'));
    tokens.push(business);
    const plaintext = `order ${randomBytes(6).toString('hex')}: 12 red roses`;
    const key = await stack.api('GET', `/v1/recipients/${encodeURIComponent(phone)}/key`, { token: business });
    expect(key.json).toEqual({ keyId: ana.key!.keyId, publicKey: ana.key!.publicKey });
    const ciphertext = await seal(key.json.publicKey, { text: plaintext });
    const keyId = key.json.keyId as string;
    const sent = await stack.api('POST', '/v1/messages', {
      token: business,
      body: { to: typed, category: 'receipt', keyId, ciphertext, clientMessageId: newId('order') },
    });
    expect(sent.status).toBe(202);
    expect((await stack.api('POST', '/v1/messages', { token: business, body: { to: uniquePhone(), category: 'receipt', keyId, ciphertext } })).status).toBe(
      404,
    );
    expect(
      (await stack.api('POST', '/v1/messages', { token: business, body: { to: typed, category: 'receipt', keyId, ciphertext: `${ciphertext}!` } })).status,
    ).toBe(400);
    const inbox = await stack.api('GET', '/v1/me/messages', { token: ana.token });
    expect(inbox.json.items.map((m: { ciphertext: string }) => m.ciphertext)).toEqual([ciphertext]);
    expect((await stack.api('POST', '/v1/me/messages/ack', { token: ana.token, body: { messageIds: [sent.json.messageId] } })).json.acknowledged).toBe(1);
    await eventually(async () => expect((await stack.api('GET', `/v1/messages/${sent.json.messageId}`, { token: business })).json.status).toBe('delivered'), {
      timeoutMs: 30_000,
    });
    // An upload with the user's hashes and a row that wrongly holds the plain number
    if (audiencesReady) {
      const created = await stack.api('POST', '/v1/audiences', { token: business, body: { name: 'Customers', customerFileSource: 'USER_PROVIDED_ONLY' } });
      expect(created.status).toBe(201);
      const upload = await stack.api('POST', `/v1/audiences/${created.json.id}/users`, {
        token: business,
        body: {
          session: { id: 1, batchSeq: 1, lastBatch: true },
          schema: ['PHONE_SHA256', 'EMAIL_SHA256'],
          data: [
            [phoneSha256(phone), emailSha256(email)],
            [phone, email],
          ],
        },
      });
      expect(upload.json).toEqual(expect.objectContaining({ numReceived: 2, numInvalid: 1 }));
      await eventually(
        async () => expect((await stack.api('GET', `/v1/audiences/${created.json.id}/sessions/1`, { token: business })).json.stage).toBe('done'),
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      const operator = await stack.tokenFor('operator', newId('op'));
      tokens.push(operator);
      expect((await stack.api('GET', `/v1/ops/users/${ana.userId}/audiences`, { token: operator })).json.items).toHaveLength(1);
    }
    // The caller's own export, then a change of mind that every consumer follows
    if (present('exportMe')) expect((await stack.api('GET', '/v1/me/export', { token: ana.token })).status).toBe(200);
    expect(
      (
        await stack.api('PUT', '/v1/me/consent', {
          token: ana.token,
          body: { policyVersion: '2016-08-25', purposes: { ads_targeting: 'denied' }, source: 'settings' },
        })
      ).status,
    ).toBe(200);
    await eventually(
      async () => {
        const state = (await ddb.send(new GetCommand({ TableName: tableName('matchIndex'), Key: appliedKey(ana.userId), ConsistentRead: true }))).Item;
        expect(state?.appliedVersion).toBe(2);
      },
      { timeoutMs: 30_000 },
    );
    // The number moves to bob, who proved he holds it: ana loses it, through the account events
    expect((await confirmVerification('phone', bob.token, started.json.verificationId, bobCode, baseUrl)).status).toBe(200);
    // Erasure, when it exists: its events flow through every consumer too
    if (present('eraseMe')) {
      expect((await stack.api('DELETE', '/v1/me', { token: ana.token })).status).toBe(202);
      await eventually(
        async () => {
          const account = (await ddb.send(new GetCommand({ TableName: tableName('consentStates'), Key: stateKey(ana.userId), ConsistentRead: true }))).Item;
          expect(account?.erasedAt).toEqual(expect.any(String));
          expect((await stack.api('GET', '/v1/me/messages', { token: ana.token })).json.items).toEqual([]);
        },
        { timeoutMs: 30_000 },
      );
    }
    await new Promise((r) => setTimeout(r, 1_500));

    // Assess
    const output = stack.output();
    expect(output).toContain('"level":"INFO"'); // the functions' own logs were captured
    const digits = phone.slice(1);
    const secrets: Record<string, string[]> = {
      'phone (E.164)': [phone, spare],
      'one-time codes': codes,
      'verification ids': verificationIds,
      'phone as typed': [typed],
      'phone digits': [digits, phone.slice(2), spare.slice(1)],
      email: [email, email.toUpperCase()],
      'SHA-256 of the phone': [phoneSha256(phone), sha(phone)],
      'SHA-256 of the email': [emailSha256(email)],
      'match keys': keys,
      ciphertext: [ciphertext, ciphertext.slice(0, 24)],
      'message text': [plaintext, Buffer.from(plaintext).toString('base64').slice(0, 16)],
      'public key': [ana.key!.publicKey],
      pepper: [pepper],
      'bearer tokens': tokens.flatMap((t) => [t, t.split('.')[2]!]),
    };
    const found = Object.entries(secrets).flatMap(([what, values]) =>
      values.filter((v) => (/^\d+$/.test(v) ? new RegExp(`(?<!\\d)${v}(?!\\d)`).test(output) : output.includes(v))).map(() => what),
    );
    expect(found).toEqual([]);
  }, 180_000);
});
