/**
 * Verified phone numbers and emails on a private local stack (it moves the
 * clock): the code flow, wrong, expired, reused and foreign codes, answers
 * that never tell whether another account holds a number, the takeover of a
 * number by the account that proves it holds it, both rate limits, and
 * erasure resetting consent.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { appliedKey } from '../../functions/tables/match-index';
import { CODE_TTL_SECONDS } from '../../functions/core/verification';
import { eventually, newId, startStack, tableName, type ApiResponse, type PrivateStack } from './support';
import {
  confirmVerification,
  createUser,
  emailHash,
  ensurePolicy,
  mapLimit,
  nextCode,
  outbox,
  phoneHash,
  startVerification,
  uniquePhone,
  verify,
  type TestUser,
  publishNewKey,
} from './support/users';
import { audiencesOf, createAudience, newBusiness, newSessionId, upload, waitForMatchIndex, waitForSession } from './audiences.helpers';

let stack: PrivateStack;
let baseUrl: string;

beforeAll(async () => {
  stack = await startStack();
  baseUrl = stack.url;
  await ensurePolicy(baseUrl);
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

const user = (options: Parameters<typeof createUser>[0] = {}) => createUser({ phone: false, ...options, baseUrl });
const wrongOf = (code: string) => (code === '000000' ? '000001' : '000000');
const exportOf = async (u: TestUser) => (await stack.api('GET', '/v1/me/export', { token: u.token })).json;

describe('the code flow', () => {
  it('sends a 6-digit code by SMS naming the app, never the requester, and binds the number in E.164', async () => {
    // Prepare
    const ana = await user();
    const phone = uniquePhone();
    const typed = `+1 (${phone.slice(2, 5)}) ${phone.slice(5, 8)}-${phone.slice(8)}`;
    // Act
    const started = await startVerification('phone', ana.token, typed, baseUrl);
    // Assess
    expect(started.status).toBe(202);
    expect(started.json).toEqual({ verificationId: expect.any(String), expiresAt: expect.any(String) });
    const ttl = Date.parse(started.json.expiresAt) - Date.parse((await stack.health()).clock.now);
    expect(ttl).toBeGreaterThan((CODE_TTL_SECONDS - 30) * 1000);
    expect(ttl).toBeLessThanOrEqual(CODE_TTL_SECONDS * 1000);
    const code = await nextCode(phone, 0, baseUrl);
    const [sent] = await outbox(typed, baseUrl);
    expect(sent).toEqual({
      channel: 'sms',
      to: phone,
      text: expect.stringContaining(code),
      code: expect.stringMatching(/^[0-9]{6}$/),
      sentAt: expect.any(String),
    });
    expect(sent!.text).toContain('Consent Audiences');
    expect(sent!.text).not.toContain(ana.userId);
    const bound = await confirmVerification('phone', ana.token, started.json.verificationId, code, baseUrl);
    expect(bound).toEqual(expect.objectContaining({ status: 200, json: { phoneNumber: phone } }));
    expect((await exportOf(ana)).account.phoneNumber).toBe(phone);
  });

  it('sends the code of an email by email and binds the address trimmed and lower-cased', async () => {
    const ana = await user();
    const address = `${newId('ana')}@example.com`;
    const bound = await verify('email', ana.token, `  ${address.toUpperCase()} `, baseUrl);
    expect(bound.json).toEqual({ email: address });
    expect((await outbox(address, baseUrl))[0]).toEqual(expect.objectContaining({ channel: 'email', to: address }));
  });

  it('binds nothing from a plain PUT with a number: 400 naming the verification to start', async () => {
    const ana = await user();
    const res = await stack.api('PUT', '/v1/me/phone', { token: ana.token, body: { phoneNumber: uniquePhone() } });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'verificationId', message: expect.stringContaining('POST /v1/me/phone/verification') })]),
    );
    expect((await exportOf(ana)).account.phoneNumber).toBeNull();
  });

  it('answers 400 to a wrong code and still takes the right one; the fifth wrong code ends the verification (410)', async () => {
    // Prepare
    const ana = await user();
    const phone = uniquePhone();
    const first = await startVerification('phone', ana.token, phone, baseUrl);
    const code = await nextCode(phone, 0, baseUrl);
    // Act, assess: one wrong code, then the right one
    const wrong = await confirmVerification('phone', ana.token, first.json.verificationId, wrongOf(code), baseUrl);
    expect(wrong.status).toBe(400);
    expect(wrong.json).toEqual(expect.objectContaining({ type: '/problems/wrong-code', status: 400, triesLeft: 4 }));
    expect((await confirmVerification('phone', ana.token, first.json.verificationId, code, baseUrl)).status).toBe(200);

    // A second verification: four wrong codes answer 400, the fifth 410, and the right code is then refused too
    const other = uniquePhone();
    const second = await startVerification('phone', ana.token, other, baseUrl);
    const otherCode = await nextCode(other, 0, baseUrl);
    const answers: number[] = [];
    for (let i = 0; i < 5; i++) answers.push((await confirmVerification('phone', ana.token, second.json.verificationId, wrongOf(otherCode), baseUrl)).status);
    expect(answers).toEqual([400, 400, 400, 400, 410]);
    const after = await confirmVerification('phone', ana.token, second.json.verificationId, otherCode, baseUrl);
    expect(after.status).toBe(410);
    expect(after.json).toEqual(expect.objectContaining({ type: '/problems/verification-gone', status: 410 }));
    expect((await exportOf(ana)).account.phoneNumber).toBe(phone);
  });

  it('refuses a used, an unknown and a foreign verification with 410, and a foreign try does not spend the owner’s', async () => {
    const ana = await user();
    const bob = await user();
    const phone = uniquePhone();
    const started = await startVerification('phone', ana.token, phone, baseUrl);
    const code = await nextCode(phone, 0, baseUrl);
    // Foreign: bob sends ana's verification with its right code
    expect((await confirmVerification('phone', bob.token, started.json.verificationId, code, baseUrl)).status).toBe(410);
    expect((await confirmVerification('email', ana.token, started.json.verificationId, code, baseUrl)).status).toBe(410);
    expect((await exportOf(bob)).account.phoneNumber).toBeNull();
    // Unknown
    expect((await confirmVerification('phone', ana.token, 'AAAAAAAAAAAAAAAAAAAAAA', code, baseUrl)).status).toBe(410);
    // The owner's still works, once
    expect((await confirmVerification('phone', ana.token, started.json.verificationId, code, baseUrl)).status).toBe(200);
    expect((await confirmVerification('phone', ana.token, started.json.verificationId, code, baseUrl)).status).toBe(410);
  });

  it('refuses an expired code with 410', async () => {
    const ana = await user();
    const phone = uniquePhone();
    const started = await startVerification('phone', ana.token, phone, baseUrl);
    const code = await nextCode(phone, 0, baseUrl);
    await stack.api('POST', '/_local/clock', { body: { advanceSeconds: CODE_TTL_SECONDS + 1 } });
    expect((await confirmVerification('phone', ana.token, started.json.verificationId, code, baseUrl)).status).toBe(410);
    expect((await exportOf(ana)).account.phoneNumber).toBeNull();
  });
});

// ------------------------------------------------------------------ held or free: the same answers

/** What an answer shows, without the values that differ on every request anyway. */
const shapeOf = (res: ApiResponse) => ({
  status: res.status,
  headers: Object.keys(res.headers)
    .filter((h) => !['date', 'content-length'].includes(h))
    .sort(),
  contentType: res.headers['content-type'],
  retryAfter: res.headers['retry-after'],
  body: res.json === undefined ? res.text : Object.keys(res.json).sort(),
  type: res.json?.type,
});

/** Mann-Whitney U test, normal approximation with tie correction: the z of `a` against `b`. */
function mannWhitneyZ(a: readonly number[], b: readonly number[]): number {
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(all.length);
  let ties = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++;
    for (let k = i; k <= j; k++) ranks[k] = (i + j) / 2 + 1;
    const t = j - i + 1;
    ties += t ** 3 - t;
    i = j + 1;
  }
  const rankA = all.reduce((sum, x, i) => sum + (x.g === 0 ? ranks[i]! : 0), 0);
  const n1 = a.length;
  const n2 = b.length;
  const u = rankA - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1))));
  return (u - (n1 * n2) / 2) / sd;
}

describe('answers that never tell whether another account holds a number', () => {
  const TRIES = 50;
  // |z| below this: the two timing distributions are not told apart at p = 0.001 (two-sided).
  const Z_0_001 = 3.29;

  it(`answers ${TRIES} starts and ${TRIES} wrong codes for held numbers exactly as for free ones, in shape and in timing`, async () => {
    // Prepare: 50 numbers held by other accounts, 50 that nobody holds; probers that each start at most 5 (the account limit)
    const held = (await mapLimit(Array.from({ length: TRIES }), 8, () => createUser({ baseUrl }))).map((u) => u.phoneNumber!);
    const free = Array.from({ length: TRIES }, () => uniquePhone());
    const probers = await mapLimit(Array.from({ length: (2 * TRIES) / 5 }), 8, () => user());
    // Interleaved, so drift in the machine's load falls on both alike
    const trials = held.flatMap((h, i) => [
      { kind: 'held' as const, phone: h },
      { kind: 'free' as const, phone: free[i]! },
    ]);
    const results: { kind: 'held' | 'free'; start: ApiResponse; startMs: number; wrong: ApiResponse; wrongMs: number }[] = [];
    // Act: one at a time, as timing must not overlap
    for (const [i, trial] of trials.entries()) {
      const prober = probers[Math.floor(i / 5)]!;
      let t = performance.now();
      const start = await startVerification('phone', prober.token, trial.phone, baseUrl);
      const startMs = performance.now() - t;
      t = performance.now();
      const wrong = await confirmVerification('phone', prober.token, start.json.verificationId, '000000', baseUrl);
      const wrongMs = performance.now() - t;
      results.push({ kind: trial.kind, start, startMs, wrong, wrongMs });
    }
    // Assess: every answer has one shape, held or free (a 400 wrong code, or a 410 in the 1 in 10^6 chance the code was 000000)
    const shapes = (kind: 'held' | 'free', which: 'start' | 'wrong') =>
      new Set(results.filter((r) => r.kind === kind).map((r) => JSON.stringify(shapeOf(r[which]))));
    expect([...shapes('held', 'start')]).toEqual([...shapes('free', 'start')]);
    expect(shapes('held', 'start').size).toBe(1);
    expect(results.every((r) => r.start.status === 202)).toBe(true);
    expect([...shapes('held', 'wrong')]).toEqual([...shapes('free', 'wrong')]);
    // Timing within noise: the distributions are not told apart
    const ms = (kind: 'held' | 'free', which: 'startMs' | 'wrongMs') => results.filter((r) => r.kind === kind).map((r) => r[which]);
    const zStart = mannWhitneyZ(ms('held', 'startMs'), ms('free', 'startMs'));
    const zWrong = mannWhitneyZ(ms('held', 'wrongMs'), ms('free', 'wrongMs'));
    expect({ zStart: Math.abs(zStart) < Z_0_001, zWrong: Math.abs(zWrong) < Z_0_001 }).toEqual({ zStart: true, zWrong: true });
    // The held numbers stayed with their holders: a start changes nothing
    expect(results.filter((r) => r.kind === 'held')).toHaveLength(TRIES);
  }, 300_000);
});

// ------------------------------------------------------------------ takeover

describe('a number registered by another account that proves it holds it', () => {
  it('moves to the new holder; the earlier holder loses it, leaves the audiences matched through it only, keeps its messages', async () => {
    // Prepare: ana has a number and an email and grants ads targeting; two audiences match her, one by phone only, one by email
    const ana = await createUser({ baseUrl, email: true, ads: 'granted', key: true });
    const phone = ana.phoneNumber!;
    await waitForMatchIndex({ baseUrl }, [ana], 'granted');
    const business = await newBusiness({ baseUrl });
    const byPhone = await createAudience({ baseUrl }, business, 'By phone');
    const byEmail = await createAudience({ baseUrl }, business, 'By email');
    const s1 = newSessionId();
    const s2 = newSessionId();
    expect((await upload({ baseUrl }, business, byPhone, { sessionId: s1, rows: [[phoneHash(phone)]], schema: ['PHONE_SHA256'] })).status).toBe(202);
    expect((await upload({ baseUrl }, business, byEmail, { sessionId: s2, rows: [[emailHash(ana.email!)]], schema: ['EMAIL_SHA256'] })).status).toBe(202);
    await waitForSession({ baseUrl }, business, byPhone, s1);
    await waitForSession({ baseUrl }, business, byEmail, s2);
    expect((await audiencesOf({ baseUrl }, ana.userId)).map((a) => a.audienceId).sort()).toEqual([byPhone, byEmail].sort());
    // ...and a message to the number waits for her
    const sender = await stack.tokenFor('business', newId('shop'));
    const before = await stack.api('POST', '/v1/messages', {
      token: sender,
      body: { to: phone, category: 'receipt', keyId: ana.key!.keyId, ciphertext: 'YmVmb3Jl' },
    });
    expect(before.status).toBe(202);

    // Act: bob proves he holds the number
    const bob = await user();
    const bound = await verify('phone', bob.token, phone, baseUrl);

    // Assess
    expect(bound).toEqual(expect.objectContaining({ status: 200, json: { phoneNumber: phone } }));
    const anaExport = await exportOf(ana);
    expect(anaExport.account).toEqual(expect.objectContaining({ phoneNumber: null, email: ana.email }));
    expect((await exportOf(bob)).account.phoneNumber).toBe(phone);
    // Ana leaves the audience matched through the phone only, keeps the one matched through her email
    await eventually(async () => expect((await audiencesOf({ baseUrl }, ana.userId)).map((a) => a.audienceId)).toEqual([byEmail]), { timeoutMs: 30_000 });
    // The match index holds only her email's key
    const { ddb } = await stack.clients();
    await eventually(
      async () => {
        const state = (await ddb.send(new GetCommand({ TableName: tableName('matchIndex'), Key: appliedKey(ana.userId), ConsistentRead: true }))).Item;
        expect(state?.keys).toHaveLength(1);
      },
      { timeoutMs: 30_000 },
    );
    // Her pending message stays hers; a later one to the number reaches bob
    const anaInbox = (await stack.api('GET', '/v1/me/messages', { token: ana.token })).json.items;
    expect(anaInbox.map((m: { messageId: string }) => m.messageId)).toEqual([before.json.messageId]);
    expect((await exportOf(ana)).pendingMessages).toHaveLength(1);
    const bobKey = await publishNewKey(bob.token, baseUrl);
    const later = await stack.api('POST', '/v1/messages', {
      token: sender,
      body: { to: phone, category: 'receipt', keyId: bobKey.keyId, ciphertext: 'YWZ0ZXI=' },
    });
    expect(later.status).toBe(202);
    expect((await stack.api('GET', '/v1/me/messages', { token: bob.token })).json.items.map((m: { messageId: string }) => m.messageId)).toEqual([
      later.json.messageId,
    ]);
    expect((await stack.api('GET', '/v1/me/messages', { token: ana.token })).json.items).toHaveLength(1);
  }, 180_000);
});

// ------------------------------------------------------------------ limits

describe('limits', () => {
  it('refuses a sixth verification of one account within an hour (429, Retry-After, problem document) while others are served', async () => {
    const ana = await user();
    const answers: ApiResponse[] = [];
    for (let i = 0; i < 6; i++)
      answers.push(await startVerification(i % 2 === 0 ? 'phone' : 'email', ana.token, i % 2 === 0 ? uniquePhone() : `${newId('a')}@example.com`, baseUrl));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202, 429]);
    const refused = answers[5]!;
    expect(refused.headers['content-type']).toBe('application/problem+json');
    expect(refused.json).toEqual(
      expect.objectContaining({ type: '/problems/rate-limited', status: 429, title: expect.any(String), detail: expect.any(String) }),
    );
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(3500);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    // Another account is served meanwhile
    expect((await startVerification('phone', (await user()).token, uniquePhone(), baseUrl)).status).toBe(202);
    // An hour later the account may start again
    await stack.api('POST', '/_local/clock', { body: { advanceSeconds: retryAfter } });
    expect((await startVerification('phone', ana.token, uniquePhone(), baseUrl)).status).toBe(202);
  });

  it('sends at most 10 codes to one number a day, whoever asks', async () => {
    const phone = uniquePhone();
    const askers = await mapLimit(Array.from({ length: 3 }), 3, () => user());
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await startVerification('phone', askers[i % 3]!.token, phone, baseUrl)).status);
    expect(statuses).toEqual([...Array(10).fill(202), 429]);
    const refused = await startVerification('phone', (await user()).token, phone, baseUrl);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(86_000);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(86_400);
    // The refused starts sent nothing
    await eventually(async () => expect(await outbox(phone, baseUrl)).toHaveLength(10));
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await outbox(phone, baseUrl)).toHaveLength(10);
  });
});

// ------------------------------------------------------------------ erasure

describe('erasure', () => {
  it('resets consent to undecided, so a number verified later is not matched under the old grant', async () => {
    // Prepare
    const ana = await createUser({ baseUrl, ads: 'granted', friends: 'granted' });
    await waitForMatchIndex({ baseUrl }, [ana], 'granted');
    // Act
    expect((await stack.api('DELETE', '/v1/me', { token: ana.token })).status).toBe(202);
    // Assess
    const consent = (await stack.api('GET', '/v1/me/consent', { token: ana.token })).json;
    expect(consent).toEqual(
      expect.objectContaining({ decisionRequired: true, policyVersion: null, purposes: { ads_targeting: 'denied', friend_suggestions: 'denied' } }),
    );
    // A number verified after erasure and a decision about friend suggestions only: ads targeting stays denied
    expect((await verify('phone', ana.token, uniquePhone(), baseUrl)).status).toBe(200);
    const decided = await stack.api('PUT', '/v1/me/consent', {
      token: ana.token,
      body: { policyVersion: '2016-08-25', purposes: { friend_suggestions: 'granted' }, source: 'settings' },
    });
    expect(decided.json.purposes).toEqual({ ads_targeting: 'denied', friend_suggestions: 'granted' });
    expect((await stack.api('POST', '/_local/settle', { body: { timeoutSeconds: 60 } })).status).toBe(200);
    const { ddb } = await stack.clients();
    const state = (await ddb.send(new GetCommand({ TableName: tableName('matchIndex'), Key: appliedKey(ana.userId), ConsistentRead: true }))).Item;
    expect(state?.keys ?? []).toEqual([]);
  }, 120_000);
});
