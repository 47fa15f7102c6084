/**
 * The business CLI against a real local stack (a private one: this file
 * publishes a policy, which would change the current policy under the other
 * test files on the shared stack).
 *
 * Users register phones (and one an email) and decide on `ads_targeting`; a
 * business creates an audience and uploads a CSV of mixed-format numbers with
 * the CLI; the operator's ad-delivery lookup then shows exactly the users who
 * are listed and consented. A second upload is interrupted after two batches
 * and resumed: the server receives every batch once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Io } from '../../cli/context';
import { run } from '../../cli/main';
import { randomInt } from 'node:crypto';
import { waitForMatchIndex } from './audiences.helpers';
import { api, eventually, newId, stackUrl, startStack, tokenFor, type PrivateStack } from './support';
import { verify, verifyWith, type Caller } from './support/users';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

class Capture {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

describe('CLI over the local stack', () => {
  jest.setTimeout(120_000);
  let stack: PrivateStack;
  let dir: string;
  let operator: string;
  const business = newId('biz');
  const policyVersion = '2026-11-25';

  /** Runs the CLI in process as `business` against the private stack. */
  async function cli(args: string[], client: Io['client'] = {}): Promise<Ran> {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await run(args, { stdout, stderr, env: { AUDIENCES_API_URL: stack.url, AUDIENCES_LOCAL_BUSINESS: business }, client });
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  interface TestUser {
    readonly id: string;
    readonly phone?: string;
    readonly email?: string;
    readonly adsTargeting: 'granted' | 'denied';
  }

  async function register(user: TestUser): Promise<void> {
    const token = await stack.tokenFor('user', user.id);
    const call: Caller = (method, path, options) => stack.api(method, path, options);
    if (user.phone) expect((await verifyWith(call, 'phone', token, user.phone)).status).toBe(200);
    if (user.email) expect((await verifyWith(call, 'email', token, user.email)).status).toBe(200);
    const consent = await stack.api('PUT', '/v1/me/consent', {
      token,
      body: { policyVersion, purposes: { ads_targeting: user.adsTargeting, friend_suggestions: 'denied' }, source: 'settings' },
    });
    expect(consent.status).toBe(200);
  }

  async function audiencesOf(userId: string): Promise<Array<{ audienceId: string; businessId: string }>> {
    const response = await stack.api('GET', `/v1/ops/users/${encodeURIComponent(userId)}/audiences`, { token: operator });
    expect(response.status).toBe(200);
    return response.json.items;
  }

  async function createAudience(name: string): Promise<string> {
    const created = await cli(['create', '--name', name, '--json']);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const audience = JSON.parse(created.stdout);
    expect(audience).toMatchObject({ id: expect.any(String), name, customerFileSource: 'USER_PROVIDED_ONLY' });
    return audience.id;
  }

  // Listed and consented (each written differently in the CSV), listed but denied, consented but not listed.
  const users = {
    parens: { id: newId('u-parens'), phone: '+14155550101', adsTargeting: 'granted' },
    dashes: { id: newId('u-dashes'), phone: '+14155550102', adsTargeting: 'granted' },
    national: { id: newId('u-national'), phone: '+14155550103', adsTargeting: 'granted' },
    zeroZero: { id: newId('u-00'), phone: '+14155550104', adsTargeting: 'granted' },
    gbNational: { id: newId('u-gb'), phone: '+442079460018', adsTargeting: 'granted' },
    email: { id: newId('u-email'), email: 'ana.silva@example.com', adsTargeting: 'granted' },
    denied: { id: newId('u-denied'), phone: '+14155550106', adsTargeting: 'denied' },
    unlisted: { id: newId('u-unlisted'), phone: '+14155550107', adsTargeting: 'granted' },
  } satisfies Record<string, TestUser>;
  const expectedMembers = [users.parens, users.dashes, users.national, users.zeroZero, users.gbNational, users.email];
  const nonMembers = [users.denied, users.unlisted];

  const MIXED_CSV = [
    'name,Phone Number,E-mail,country',
    'Parens,(415) 555-0101,,US', //           line 2
    'Dashes,415-555-0102,,', //                line 3
    'National,415 555 0103,,', //              line 4
    'Invalid,n/a,not-an-email,', //            line 5: skipped
    'Zero zero,001 415 555 0104,,', //         line 6: 00 international prefix
    'GB national,020 7946 0018,,GB', //        line 7: trunk zero, per-row country
    'Email only,12,"  Ana.Silva@Example.COM ",', // line 8: bad phone, good email
    'Denied,+1 415 555 0106,,', //             line 9
    'Too short,555-0199,,', //                 line 10: skipped
    'Stranger,+1 (646) 555-0142,,', //         line 11: nobody has it
    '', //                                     a blank line is ignored
    'Leading zeros,00 1 415 555 0102,,', //    line 13: a duplicate, still fine
  ].join('\n');

  beforeAll(async () => {
    stack = await startStack();
    dir = mkdtempSync(join(tmpdir(), 'cli-integration-'));
    operator = await stack.tokenFor('operator', newId('ops'));
    const policy = await stack.api('POST', '/v1/policies', {
      token: operator,
      body: { version: policyVersion, purposes: ['ads_targeting', 'friend_suggestions'], summary: 'CLI integration test policy' },
    });
    expect(policy.status).toBe(201);
    for (const user of Object.values(users)) await register(user);
    // Matching is asynchronous: upload only once the match index holds every decision.
    const indexed = (adsTargeting: string) =>
      Object.values(users)
        .filter((u) => u.adsTargeting === adsTargeting)
        .map((u) => ({ userId: u.id, ...('phone' in u ? { phoneNumber: u.phone } : {}), ...('email' in u ? { email: u.email } : {}) }));
    await waitForMatchIndex({ baseUrl: stack.url }, indexed('granted'), 'granted');
    await waitForMatchIndex({ baseUrl: stack.url }, indexed('denied'), 'denied');
  });

  afterAll(async () => {
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('uploads a CSV of mixed-format numbers and matches exactly the listed, consenting users', async () => {
    const audienceId = await createAudience('CLI mixed formats');
    const csv = join(dir, 'mixed.csv');
    writeFileSync(csv, MIXED_CSV);

    const uploaded = await cli(['upload', csv, '--audience', audienceId, '--country', 'US', '--json']);
    expect(uploaded.code).toBe(0);
    const result = JSON.parse(uploaded.stdout);
    expect(result).toMatchObject({
      audienceId,
      schema: ['PHONE_SHA256', 'EMAIL_SHA256'],
      rowsRead: 11,
      rowsUploaded: 9,
      batches: 1,
      numReceived: 9,
      numInvalid: 0,
      skipped: { count: 2, lines: [5, 10] },
    });
    // Nothing personal is printed, hashed or not.
    expect(uploaded.stdout + uploaded.stderr).not.toMatch(/555|example\.com|[0-9a-f]{64}/i);

    await eventually(
      async () => {
        for (const user of expectedMembers) {
          expect(await audiencesOf(user.id)).toContainEqual({ audienceId, businessId: business });
        }
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    for (const user of nonMembers) {
      expect((await audiencesOf(user.id)).filter((m) => m.audienceId === audienceId)).toEqual([]);
    }

    await eventually(
      async () => {
        const status = await cli(['status', audienceId, '--session', String(result.sessionId), '--json']);
        expect(status.code).toBe(0);
        const parsed = JSON.parse(status.stdout);
        expect(parsed.audience.id).toBe(audienceId);
        expect(parsed.session).toMatchObject({ stage: 'done', batchesReceived: 1, numReceived: 9 });
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
  });

  it('resumes an interrupted upload without sending any acknowledged batch again', async () => {
    const audienceId = await createAudience('CLI resume');
    const csv = join(dir, 'resume.csv');
    const lines = ['phone'];
    lines.push('(415) 555-0101'); // a consenting user, so the audience gets a member
    for (let i = 0; i < 24; i += 1) lines.push(`+1 646-555-01${String(i + 10).padStart(2, '0')}`);
    writeFileSync(csv, `${lines.join('\n')}\n`);

    // Every batch request that reaches the server, by batchSeq; the third one fails before it is sent, like a dropped network.
    const sent: number[] = [];
    let failThird = true;
    const recordingFetch: typeof fetch = async (input, init) => {
      const url = String(input);
      if (url.endsWith('/users') && typeof init?.body === 'string') {
        const seq = (JSON.parse(init.body) as { session: { batchSeq: number } }).session.batchSeq;
        if (seq === 3 && failThird) throw new TypeError('fetch failed');
        sent.push(seq);
      }
      return fetch(input, init);
    };
    const args = ['upload', csv, '--audience', audienceId, '--country', 'US', '--batch-size', '10', '--session', '4242', '--json'];

    const first = await cli(args, { fetch: recordingFetch, retry: { attempts: 1 } });
    expect(first.code).toBe(1);
    expect(JSON.parse(first.stdout).error).toMatchObject({ sessionId: 4242, lastAckedBatchSeq: 2 });
    expect(sent).toEqual([1, 2]);

    failThird = false;
    const second = await cli(args, { fetch: recordingFetch });
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ sessionId: 4242, resumed: true, batchesSkipped: 2, batchesSent: 1, batches: 3, rowsUploaded: 25 });
    expect(sent).toEqual([1, 2, 3]);

    await eventually(
      async () => {
        const session = await stack.api('GET', `/v1/audiences/${encodeURIComponent(audienceId)}/sessions/4242`, {
          token: await stack.tokenFor('business', business),
        });
        expect(session.status).toBe(200);
        expect(session.json).toMatchObject({ stage: 'done', batchesReceived: 3, numReceived: 25, numInvalid: 0 });
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    await eventually(async () => expect(await audiencesOf(users.parens.id)).toContainEqual({ audienceId, businessId: business }), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
  });
});

describe('CLI messages over the local stack', () => {
  const business = newId('biz');

  async function cli(args: string[]): Promise<Ran> {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await run(args, { stdout, stderr, env: { AUDIENCES_API_URL: stackUrl(), AUDIENCES_LOCAL_BUSINESS: business } });
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  it('sends ciphertext from a file to a national number, which the recipient receives unchanged', async () => {
    const userId = newId('u-msg');
    const userToken = await tokenFor('user', userId);
    // A random number, so the shared stack's other users never hold it.
    const national = `(646) ${randomInt(200, 999)}-${randomInt(1000, 9999)}`;
    const registered = await verify('phone', userToken, `+1 ${national}`);
    expect(registered.status).toBe(200);

    const dir = mkdtempSync(join(tmpdir(), 'cli-messages-'));
    try {
      const bytes = Buffer.from([0x00, 0xff, 0x10, 0x80, ...Buffer.from('sealed by the business E2E library')]);
      const file = join(dir, 'receipt.bin');
      writeFileSync(file, bytes);
      const sent = await cli([
        'messages',
        'send',
        '--to',
        national,
        '--country',
        'US',
        '--category',
        'receipt',
        '--ciphertext-file',
        file,
        '--client-message-id',
        'order-1',
        '--json',
      ]);
      expect(sent.code).toBe(0);
      const receipt = JSON.parse(sent.stdout);
      expect(receipt).toMatchObject({ messageId: expect.any(String), status: 'accepted', clientMessageId: 'order-1' });
      expect(Date.parse(receipt.expiresAt) - Date.parse(receipt.acceptedAt)).toBe(30 * 24 * 3600 * 1000);
      expect(sent.stdout).not.toContain(national.slice(-4));

      // The same client message id again is the same message.
      const again = await cli([
        'messages',
        'send',
        '--to',
        national,
        '--country',
        'US',
        '--category',
        'receipt',
        '--ciphertext-file',
        file,
        '--client-message-id',
        'order-1',
        '--json',
      ]);
      expect(JSON.parse(again.stdout).messageId).toBe(receipt.messageId);

      const inbox = await api('GET', '/v1/me/messages', { token: userToken });
      expect(inbox.status).toBe(200);
      expect(inbox.json.items).toEqual([
        expect.objectContaining({ messageId: receipt.messageId, from: business, category: 'receipt', ciphertext: bytes.toString('base64') }),
      ]);

      expect((await api('POST', '/v1/me/messages/ack', { token: userToken, body: { messageIds: [receipt.messageId] } })).status).toBe(200);
      await eventually(
        async () => {
          const status = await cli(['messages', 'status', receipt.messageId, '--json']);
          expect(status.code).toBe(0);
          expect(JSON.parse(status.stdout)).toMatchObject({ messageId: receipt.messageId, status: 'delivered' });
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports an unregistered recipient readably with exit 1', async () => {
    const sent = await cli([
      'messages',
      'send',
      '--to',
      `+1 646 ${randomInt(200, 999)} ${randomInt(1000, 9999)}`,
      '--category',
      'receipt',
      '--ciphertext',
      'AAAA',
    ]);
    expect(sent.code).toBe(1);
    expect(sent.stderr).toMatch(/^audiences: error: 404 /);
  });
});
