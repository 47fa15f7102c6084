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
import { seal } from '../../client';
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

  /** A user with a number (a random one, so the shared stack's other users never hold it) and a key file published with `inbox key`. */
  async function recipientWithKeyFile(dir: string) {
    const userId = newId('u-msg');
    const userToken = await tokenFor('user', userId);
    const national = `(646) ${randomInt(200, 999)}-${randomInt(1000, 9999)}`;
    const registered = await verify('phone', userToken, `+1 ${national}`);
    expect(registered.status).toBe(200);
    const keyFile = join(dir, `${userId}.key`);
    const published = await cli(['inbox', 'key', '--key-file', keyFile, '--local-user', userId, '--json']);
    expect(published).toMatchObject({ code: 0, stderr: '' });
    const { keyId, publicKey, created } = JSON.parse(published.stdout) as { keyId: string; publicKey: string; created: boolean };
    expect({ keyId, publicKey, created }).toEqual({ keyId: expect.any(String), publicKey: expect.any(String), created: true });
    return { userId, userToken, national, e164: registered.json.phoneNumber as string, keyFile, key: { keyId, publicKey } };
  }

  it('seals --text and --file to the recipient key and sends them; the recipient opens both with the key file and acknowledges; the service never had the text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-messages-'));
    try {
      // Prepare: Bob's device has a key, published with the CLI's user side
      const bob = await recipientWithKeyFile(dir);
      const text = `order ${randomInt(1000, 9999)}: 12 red roses, $54`;
      const fileText = `Receipt ${randomInt(1000, 9999)}\n3 tulips — €12\nThank you!`;
      const file = join(dir, 'receipt.txt');
      writeFileSync(file, fileText);

      // Act: the flower shop sends both, sealed on its machine
      const sentText = await cli(['messages', 'send', '--to', bob.national, '--country', 'US', '--category', 'receipt', '--text', text, '--json']);
      const sentFile = await cli(['messages', 'send', '--to', bob.e164, '--category', 'delivery_update', '--file', file]);

      // Assess: accepted, sealed to Bob's key, nothing personal printed
      expect(sentText).toMatchObject({ code: 0, stderr: '' });
      const receipt = JSON.parse(sentText.stdout);
      expect(receipt).toMatchObject({ messageId: expect.any(String), status: 'accepted', keyId: bob.key.keyId });
      expect(sentText.stdout).not.toContain(bob.national.slice(-4));
      expect(sentText.stdout).not.toContain('roses');
      expect(sentFile).toMatchObject({ code: 0, stderr: '' });
      expect(sentFile.stdout).toMatch(new RegExp(`sealed to key: +${bob.key.keyId}`));
      const fileMessageId = /^Message (\S+): accepted$/m.exec(sentFile.stdout)?.[1];
      expect(fileMessageId).toEqual(expect.any(String));
      // What the service stores and lists is ciphertext only
      const listed = await api('GET', '/v1/me/messages', { token: bob.userToken });
      expect(listed.json.items.map((m: { messageId: string; keyId: string }) => [m.messageId, m.keyId])).toEqual([
        [receipt.messageId, bob.key.keyId],
        [fileMessageId, bob.key.keyId],
      ]);
      for (const secret of [text, fileText, 'roses', 'tulips', Buffer.from(text).toString('base64').slice(0, 12)]) expect(listed.text).not.toContain(secret);
      // Bob opens both with his key file, and acknowledges them
      const read = await cli(['inbox', 'read', '--key-file', bob.keyFile, '--local-user', bob.userId, '--ack', '--json']);
      expect(read).toMatchObject({ code: 0, stderr: '' });
      const opened = JSON.parse(read.stdout);
      expect(opened.items.map((m: { messageId: string; from: string; payload: { text: string } }) => [m.messageId, m.from, m.payload.text])).toEqual([
        [receipt.messageId, business, text],
        [fileMessageId, business, fileText],
      ]);
      expect(opened.acknowledged).toBe(2);
      // ...and the readable form prints the texts
      expect((await cli(['inbox', 'read', '--key-file', bob.keyFile, '--local-user', bob.userId])).stdout).toBe('No messages.\n');
      await eventually(
        async () => {
          for (const id of [receipt.messageId, fileMessageId]) {
            const status = await cli(['messages', 'status', id, '--json']);
            expect(JSON.parse(status.stdout)).toMatchObject({ messageId: id, status: 'delivered' });
          }
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('carries a ciphertext sealed elsewhere (--ciphertext-file with the --key-id that `messages key` prints), which opens with the key file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-messages-'));
    try {
      const bob = await recipientWithKeyFile(dir);
      // The business's own HPKE: here the library, given the key the CLI printed
      const key = await cli(['messages', 'key', '--to', bob.national, '--country', 'US', '--json']);
      expect(JSON.parse(key.stdout)).toEqual(bob.key);
      const bytes = Buffer.from(await seal(bob.key.publicKey, { text: 'sealed elsewhere', orderId: 17 }), 'base64');
      const file = join(dir, 'receipt.bin');
      writeFileSync(file, bytes);
      const args = ['messages', 'send', '--to', bob.national, '--country', 'US', '--category', 'receipt', '--ciphertext-file', file, '--key-id', bob.key.keyId];
      const sent = await cli([...args, '--client-message-id', 'order-1', '--json']);
      expect(sent.code).toBe(0);
      const receipt = JSON.parse(sent.stdout);
      expect(receipt).toMatchObject({ messageId: expect.any(String), status: 'accepted', clientMessageId: 'order-1', keyId: bob.key.keyId });
      expect(Date.parse(receipt.expiresAt) - Date.parse(receipt.acceptedAt)).toBe(30 * 24 * 3600 * 1000);
      // The same client message id again is the same message.
      expect(JSON.parse((await cli([...args, '--client-message-id', 'order-1', '--json'])).stdout).messageId).toBe(receipt.messageId);

      const inbox = await api('GET', '/v1/me/messages', { token: bob.userToken });
      expect(inbox.json.items).toEqual([
        expect.objectContaining({ messageId: receipt.messageId, from: business, keyId: bob.key.keyId, ciphertext: bytes.toString('base64') }),
      ]);
      const read = await cli(['inbox', 'read', '--key-file', bob.keyFile, '--local-user', bob.userId]);
      expect(read.stdout).toBe(
        `1 message, 1 opened:\nMessage ${receipt.messageId}: receipt from ${business}, accepted ${receipt.acceptedAt}\n  sealed elsewhere\n`,
      );
      // A stale keyId is refused (409) once Bob has a new key
      const newKeyFile = join(dir, 'new.key');
      expect((await cli(['inbox', 'key', '--key-file', newKeyFile, '--local-user', bob.userId])).code).toBe(0);
      const stale = await cli([...args, '--client-message-id', 'order-2']);
      expect(stale.code).toBe(1);
      expect(stale.stderr).toMatch(/^audiences: error: 409 /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports an unregistered recipient readably with exit 1', async () => {
    const to = `+1 646 ${randomInt(200, 999)} ${randomInt(1000, 9999)}`;
    const sealed = await cli(['messages', 'send', '--to', to, '--category', 'receipt', '--text', 'hello']);
    expect(sealed.code).toBe(1);
    expect(sealed.stderr).toMatch(/^audiences: error: 404 /);
    const carried = await cli(['messages', 'send', '--to', to, '--category', 'receipt', '--ciphertext', 'AAAA', '--key-id', 'key-x']);
    expect(carried.code).toBe(1);
    expect(carried.stderr).toMatch(/^audiences: error: 404 /);
  });
});
