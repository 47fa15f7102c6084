import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Io } from '../../cli/context';
import { run } from '../../cli/main';
import { open, seal } from '../../client';
import { readKeyFile } from '../../client/keyfile';
import { Capture, type FakeApi, problem, startFakeApi, TEST_AUDIENCE } from './cli-fake-api';

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

const CUSTOMERS = [
  'name,Phone Number,E-mail',
  'Ana,+1 (415) 555-0101,Ana.Silva@Example.com',
  'Ben,415-555-0102,',
  'Cleo,(415) 555 0103,cleo@example.com',
  'Dan,n/a,not-an-email',
  'Eve,001 415 555 0105,',
].join('\n');
const RAW_VALUES = ['555-0101', '555-0102', '555 0103', '0105', 'Ana.Silva', 'cleo@example.com', 'not-an-email', 'n/a'];
const HASHES = [sha256('14155550101'), sha256('14155550102'), sha256('ana.silva@example.com'), sha256('cleo@example.com')];

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

describe('CLI commands', () => {
  let fake: FakeApi;
  let dir: string;
  let csv: string;

  async function cli(args: string[], options: { env?: NodeJS.ProcessEnv; tty?: boolean } = {}): Promise<Ran> {
    const stdout = new Capture(options.tty);
    const stderr = new Capture(options.tty);
    const io: Io = {
      stdout,
      stderr,
      env: options.env ?? { AUDIENCES_API_URL: fake.url, AUDIENCES_TOKEN: 'env-token' },
      client: { retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 } },
    };
    const code = await run(args, io);
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  const expectNoPersonalData = (ran: Ran): void => {
    for (const value of [...RAW_VALUES, ...HASHES]) {
      expect(ran.stdout).not.toContain(value);
      expect(ran.stderr).not.toContain(value);
    }
  };

  beforeEach(async () => {
    fake = await startFakeApi();
    dir = mkdtempSync(join(tmpdir(), 'cli-commands-'));
    csv = join(dir, 'customers.csv');
    writeFileSync(csv, CUSTOMERS);
  });
  afterEach(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('create, list, status', () => {
    it('creates an audience and prints one JSON document with --json', async () => {
      const ran = await cli(['create', '--name', 'Flower shop', '--source', 'BOTH_USER_AND_PARTNER_PROVIDED', '--json']);
      expect(ran.code).toBe(0);
      expect(JSON.parse(ran.stdout)).toMatchObject({ id: 'aud-1', name: 'Flower shop', customerFileSource: 'BOTH_USER_AND_PARTNER_PROVIDED' });
      expect(fake.requests.at(-1)).toMatchObject({
        method: 'POST',
        path: '/v1/audiences',
        body: { name: 'Flower shop', customerFileSource: 'BOTH_USER_AND_PARTNER_PROVIDED' },
      });
      expect(fake.requests.at(-1)?.headers.authorization).toBe('Bearer env-token');
    });

    it('prints readable text by default', async () => {
      const ran = await cli(['create', '--name', 'Flower shop']);
      expect(ran.code).toBe(0);
      expect(ran.stdout).toContain('Audience aud-1: "Flower shop"');
      expect(ran.stdout).toContain('audiences upload <file.csv> --audience aud-1');
      expect(ran.stdout).toMatch(/size:\s+not counted yet/);
      expect(ran.stdout).toMatch(/counted:\s+never/);
      expect(ran.stdout).toMatch(/next count:\s+after your next change \(an upload or removal\)/);
      expect((fake.requests.at(-1)?.body as { customerFileSource: string }).customerFileSource).toBe('USER_PROVIDED_ONLY');
    });

    it('shows an audience and its session', async () => {
      const ran = await cli(['status', 'aud-1', '--session', '12', '--json']);
      expect(ran.code).toBe(0);
      expect(JSON.parse(ran.stdout)).toEqual({
        audience: TEST_AUDIENCE,
        session: { sessionId: 12, stage: 'processing', batchesReceived: 3, numReceived: 25001, numInvalid: 0 },
      });
      const text = await cli(['status', 'aud-1']);
      expect(text.stdout).toMatch(/size:\s+fewer than 100 \(below the minimum audience size\)/);
      expect(text.stdout).toMatch(/targetable:\s+no/);
      expect(text.stdout).toMatch(/counted:\s+2026-11-25T10:01:00.000Z/);
      expect(text.stdout).toMatch(/next count:\s+not before 2999-11-26T10:01:00.000Z \(in \d+ days\)/);
    });

    it('waits with --wait until the audience is no longer processing and the session is done', async () => {
      let looks = 0;
      fake.respond = (request) => {
        if (request.method !== 'GET') return undefined;
        if (request.path === '/v1/audiences/aud-1') {
          looks += 1;
          return { status: 200, body: { ...TEST_AUDIENCE, status: looks < 3 ? 'processing' : 'ready' } };
        }
        if (request.path === '/v1/audiences/aud-1/sessions/12') {
          return { status: 200, body: { sessionId: 12, stage: looks < 2 ? 'processing' : 'done', batchesReceived: 1, numReceived: 5, numInvalid: 0 } };
        }
        return undefined;
      };
      const stdout = new Capture();
      const stderr = new Capture();
      const slept: number[] = [];
      const io: Io = {
        stdout,
        stderr,
        env: { AUDIENCES_API_URL: fake.url, AUDIENCES_TOKEN: 'env-token' },
        client: { retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 }, sleep: async (ms) => void slept.push(ms) },
      };
      expect(await run(['status', 'aud-1', '--session', '12', '--wait'], io)).toBe(0);
      expect(looks).toBe(3);
      expect(slept).toEqual([1_000, 1_000]);
      expect(stdout.text).toMatch(/status:\s+ready/);
      expect(stdout.text).toMatch(/stage:\s+done/);
    });

    it('lists audiences', async () => {
      const ran = await cli(['list', '--json']);
      expect(JSON.parse(ran.stdout)).toEqual({ items: [TEST_AUDIENCE] });
    });

    it('shows a problem document readably and exits 1', async () => {
      const ran = await cli(['status', 'aud-missing']);
      expect(ran.code).toBe(1);
      expect(ran.stdout).toBe('');
      expect(ran.stderr).toContain('404 Not Found: No such audience.');
      const json = await cli(['status', 'aud-missing', '--json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toEqual({
        error: {
          kind: 'api',
          message: '404 Not Found: No such audience.',
          status: 404,
          type: 'https://example.com/problems/404',
          title: 'Not Found',
          detail: 'No such audience.',
        },
      });
    });

    it('exits 2 on usage errors', async () => {
      expect((await cli(['create'])).code).toBe(2);
      expect((await cli(['create', '--name', 'x', '--source', 'SOMEONE'])).code).toBe(2);
      expect((await cli(['status'])).code).toBe(2);
      expect((await cli(['status', 'aud-1', '--session', 'abc'])).code).toBe(2);
      expect((await cli(['frobnicate'])).code).toBe(2);
      expect((await cli(['--help'])).code).toBe(0);
      expect((await cli(['upload', '--help'])).stdout).toContain('--phone-column');
      const json = await cli(['create', '--json']);
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stdout)).toEqual({ error: { kind: 'usage', message: "required option '--name <name>' not specified" } });
    });
  });

  describe('connection', () => {
    it('fetches a local token for the default local business when none is given', async () => {
      const ran = await cli(['list', '--url', fake.url], { env: {} });
      expect(ran.code).toBe(0);
      expect(fake.requests[0]).toMatchObject({ method: 'POST', path: '/_local/token', body: { role: 'business', sub: 'local-business' } });
      expect(fake.requests[1]?.headers.authorization).toBe('Bearer local-token-local-business');
    });

    it('uses --local-business, and a --token flag over the environment', async () => {
      await cli(['list', '--url', fake.url, '--local-business', 'b-7'], { env: {} });
      expect(fake.requests.at(-1)?.headers.authorization).toBe('Bearer local-token-b-7');
      await cli(['list', '--token', 'flag-token']);
      expect(fake.requests.at(-1)?.headers.authorization).toBe('Bearer flag-token');
    });

    it('needs a token for a stack that is not on this machine', async () => {
      const ran = await cli(['list', '--url', 'https://api.example.com'], { env: {} });
      expect(ran.code).toBe(2);
      expect(ran.stderr).toContain('no token');
    });

    it('retries 429 and 5xx answers with backoff', async () => {
      let calls = 0;
      fake.respond = () => {
        calls += 1;
        if (calls === 1) return { ...problem(429, 'Too Many Requests', 'Slow down.'), headers: { 'retry-after': '0' } };
        if (calls === 2) return problem(503, 'Service Unavailable', 'Busy.');
        return undefined;
      };
      const ran = await cli(['status', 'aud-1', '--json']);
      expect(ran.code).toBe(0);
      expect(calls).toBe(3);
    });

    it('does not retry a 4xx, and reports a network failure with exit 1', async () => {
      fake.respond = () => problem(403, 'Forbidden', 'This route needs the business role.');
      const ran = await cli(['list']);
      expect(ran.code).toBe(1);
      expect(fake.requests).toHaveLength(1);
      expect(ran.stderr).toContain('403 Forbidden: This route needs the business role.');
      await fake.close();
      const offline = await cli(['list', '--json']);
      expect(offline.code).toBe(1);
      expect(JSON.parse(offline.stdout).error.kind).toBe('network');
      fake = await startFakeApi();
    });
  });

  describe('upload and remove', () => {
    it('uploads with --json: one JSON document, no phone, email or hash printed', async () => {
      const ran = await cli(['upload', csv, '--audience', 'aud-1', '--country', 'US', '--json']);
      expect(ran.code).toBe(0);
      expect(ran.stderr).toBe('');
      const result = JSON.parse(ran.stdout);
      expect(result).toMatchObject({
        audienceId: 'aud-1',
        schema: ['PHONE_SHA256', 'EMAIL_SHA256'],
        columns: { phone: 'Phone Number', email: 'E-mail' },
        rowsRead: 5,
        rowsUploaded: 4,
        batches: 1,
        numReceived: 4,
        skipped: { count: 1, lines: [5], truncated: false },
      });
      expect(fake.batches[0]?.data).toEqual([
        [sha256('14155550101'), sha256('ana.silva@example.com')],
        [sha256('14155550102'), ''],
        [sha256('14155550103'), sha256('cleo@example.com')],
        [sha256('14155550105'), ''],
      ]);
      expectNoPersonalData(ran);
    });

    it('prints a readable summary with skipped line numbers only', async () => {
      const ran = await cli(['upload', csv, '--audience', 'aud-1', '--country', 'us', '--session', '31']);
      expect(ran.code).toBe(0);
      expect(ran.stdout).toContain('Uploaded 4 hashed rows in 1 batch (audience aud-1, session 31).');
      expect(ran.stdout).toContain('on line 5.');
      expect(ran.stdout).toContain('audiences status aud-1 --session 31');
      expectNoPersonalData(ran);
    });

    it('draws a progress bar on a TTY (stderr only), and none with --json', async () => {
      const tty = await cli(['upload', csv, '--audience', 'aud-1', '--country', 'US'], { tty: true });
      expect(tty.code).toBe(0);
      expect(tty.stderr).toMatch(/rows \| batch/);
      expect(tty.stdout).not.toMatch(/rows \| batch/);
      expectNoPersonalData(tty);
      const json = await cli(['upload', csv, '--audience', 'aud-1', '--country', 'US', '--json'], { tty: true });
      expect(json.stderr).toBe('');
      expect(() => JSON.parse(json.stdout)).not.toThrow();
    });

    it('removes with DELETE', async () => {
      const ran = await cli(['remove', csv, '--audience', 'aud-1', '--country', 'US', '--json']);
      expect(ran.code).toBe(0);
      expect(JSON.parse(ran.stdout)).toMatchObject({ operation: 'remove', rowsUploaded: 4 });
      expect(fake.batches.map((b) => [b.method, b.lastBatch])).toEqual([['DELETE', true]]);
    });

    it('shows a rejected batch readably, with the resume command, and a parseable --json error', async () => {
      fake.respond = (_request, batch) =>
        batch
          ? problem(400, 'Validation failed', 'The body does not match the schema.', { errors: [{ path: 'session.id', message: 'Expected a number' }] })
          : undefined;
      const ran = await cli(['upload', csv, '--audience', 'aud-1', '--country', 'US', '--session', '8']);
      expect(ran.code).toBe(1);
      expect(ran.stderr).toContain('400 Validation failed: The body does not match the schema. (session.id: Expected a number)');
      expectNoPersonalData(ran);
      const json = await cli(['upload', csv, '--audience', 'aud-1', '--country', 'US', '--session', '9', '--json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout).error).toMatchObject({ kind: 'failure', sessionId: 9, lastAckedBatchSeq: 0, cause: { kind: 'api', status: 400 } });
    });

    it('prints the resume command after a server failure', async () => {
      fake.respond = (_request, batch) => (batch ? problem(503, 'Service Unavailable', 'Down.') : undefined);
      const ran = await cli(['upload', csv, '--audience', 'aud-1', '--country', 'US', '--session', '4']);
      expect(ran.code).toBe(1);
      expect(ran.stderr).toContain(`Resume with: audiences upload ${csv} --audience aud-1 --country US --session 4`);
    });

    it('exits 2 for bad arguments and unusable files', async () => {
      const base = ['--audience', 'aud-1'];
      expect((await cli(['upload', csv, ...base])).code).toBe(2); // no --country
      expect((await cli(['upload', csv, ...base, '--country', 'Narnia'])).code).toBe(2);
      expect((await cli(['upload', csv, ...base, '--country', 'US', '--batch-size', '10001'])).code).toBe(2);
      expect((await cli(['upload', join(dir, 'missing.csv'), ...base, '--country', 'US'])).code).toBe(2);
      expect((await cli(['upload', csv, ...base, '--country', 'US', '--phone-column', 'Handy'])).code).toBe(2);
      writeFileSync(join(dir, 'names.csv'), 'first,last\nAna,Silva\n');
      const noColumns = await cli(['upload', join(dir, 'names.csv'), ...base, '--country', 'US', '--json']);
      expect(noColumns.code).toBe(2);
      expect(JSON.parse(noColumns.stdout).error.kind).toBe('usage');
      expect(fake.batches).toHaveLength(0);
    });
  });

  describe('messages', () => {
    it('seals --text to the recipient key it looks up, and sends only the ciphertext with that keyId', async () => {
      // Act
      const ran = await cli([
        'messages',
        'send',
        '--to',
        '(415) 555-0123',
        '--country',
        'US',
        '--category',
        'receipt',
        '--text',
        'order 1017: 12 red roses',
        '--json',
      ]);
      // Assess
      expect(ran).toMatchObject({ code: 0, stderr: '' });
      const lookup = fake.requests.find((r) => r.path.startsWith('/v1/recipients/'));
      expect(lookup?.path).toBe(`/v1/recipients/${encodeURIComponent('+14155550123')}/key`);
      const body = fake.requests.at(-1)?.body as Record<string, string>;
      expect(body).toMatchObject({ to: '+14155550123', category: 'receipt', keyId: 'key-1', ciphertext: expect.any(String) });
      expect(JSON.stringify(fake.requests)).not.toContain('roses');
      expect(await open(fake.recipientKey.keyPair, body.ciphertext!)).toEqual({ text: 'order 1017: 12 red roses' });
      expect(body.clientMessageId).toMatch(/^[0-9a-f-]{36}$/);
      expect(JSON.parse(ran.stdout)).toMatchObject({ messageId: 'msg-1', status: 'accepted', clientMessageId: body.clientMessageId, keyId: 'key-1' });
      expect(ran.stdout).not.toContain('555');
    });

    it('seals the text of --file (UTF-8, as written) and prints the message readably', async () => {
      const file = join(dir, 'receipt.txt');
      writeFileSync(file, 'Receipt 1018\n3 tulips — €12\n');
      const ran = await cli(['messages', 'send', '--to', '+14155550123', '--category', 'receipt', '--file', file, '--client-message-id', 'order-1018']);
      expect(ran.code).toBe(0);
      const body = fake.requests.at(-1)?.body as Record<string, string>;
      expect(await open(fake.recipientKey.keyPair, body.ciphertext!)).toEqual({ text: 'Receipt 1018\n3 tulips — €12\n' });
      expect(ran.stdout).toContain('Message msg-1: accepted');
      expect(ran.stdout).toMatch(/sealed to key: +key-1/);
      expect(ran.stdout).toMatch(/client message id: +order-1018/);
    });

    it('looks the key up again and seals again when the recipient replaced it meanwhile (409)', async () => {
      // Prepare: the first send finds a stale key
      let sends = 0;
      fake.respond = (request) => {
        if (request.path === '/v1/messages' && ++sends === 1) return problem(409, 'Conflict', 'stale', { type: '/problems/stale-key' });
        return undefined;
      };
      // Act
      const ran = await cli(['messages', 'send', '--to', '+14155550123', '--category', 'receipt', '--text', 'hello']);
      // Assess
      expect(ran.code).toBe(0);
      expect(fake.requests.filter((r) => r.path.startsWith('/v1/recipients/'))).toHaveLength(2);
      const [first, second] = fake.requests.filter((r) => r.path === '/v1/messages').map((r) => r.body as Record<string, string>);
      expect(second!.ciphertext).not.toBe(first!.ciphertext);
      expect(second!.clientMessageId).toBe(first!.clientMessageId);
    });

    it('sends a base64 ciphertext sealed elsewhere with its --key-id', async () => {
      const ciphertext = Buffer.from('opaque encrypted bytes').toString('base64');
      const ran = await cli(['messages', 'send', '--to', '+14155550123', '--category', 'receipt', '--ciphertext', ciphertext, '--key-id', 'key-7', '--json']);
      expect(ran.code).toBe(0);
      expect(fake.requests.some((r) => r.path.startsWith('/v1/recipients/'))).toBe(false);
      expect(fake.requests.at(-1)?.body).toMatchObject({ to: '+14155550123', category: 'receipt', keyId: 'key-7', ciphertext });
    });

    it('reads a binary ciphertext file and encodes it', async () => {
      const file = join(dir, 'message.bin');
      const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255]);
      writeFileSync(file, bytes);
      const ran = await cli([
        'messages',
        'send',
        '--to',
        '+14155550123',
        '--category',
        'delivery_update',
        '--ciphertext-file',
        file,
        '--key-id',
        'key-7',
        '--client-message-id',
        'order-17',
      ]);
      expect(ran.code).toBe(0);
      expect(fake.requests.at(-1)?.body).toEqual({
        to: '+14155550123',
        category: 'delivery_update',
        keyId: 'key-7',
        ciphertext: bytes.toString('base64'),
        clientMessageId: 'order-17',
      });
      expect(ran.stdout).toContain('Message msg-1: accepted');
    });

    it('rejects bad input with exit 2 and never echoes the number or the text', async () => {
      const ok = ['--category', 'receipt', '--text', 'secret words'];
      const national = await cli(['messages', 'send', '--to', '415 555 0123', ...ok]);
      expect(national.code).toBe(2);
      const invalid = await cli(['messages', 'send', '--to', '+1 555 0123', ...ok]);
      expect(invalid.code).toBe(2);
      expect(invalid.stderr).not.toContain('555');
      const to = ['--to', '+14155550123', '--category', 'receipt'];
      expect((await cli(['messages', 'send', ...to, '--ciphertext', 'not base64!', '--key-id', 'k'])).code).toBe(2);
      expect((await cli(['messages', 'send', ...to, '--ciphertext', 'AAAA'])).code).toBe(2);
      expect((await cli(['messages', 'send', ...to, '--text', 'x', '--key-id', 'k'])).code).toBe(2);
      expect((await cli(['messages', 'send', ...to, '--text', 'x', '--ciphertext', 'AAAA'])).code).toBe(2);
      expect((await cli(['messages', 'send', ...to, '--text', '   '])).code).toBe(2);
      expect((await cli(['messages', 'send', ...to])).code).toBe(2);
      expect((await cli(['messages', 'send', '--to', '+14155550123', '--category', 'spam', '--text', 'x'])).code).toBe(2);
      writeFileSync(join(dir, 'latin1.txt'), Buffer.from([0x66, 0xe9, 0x65]));
      expect((await cli(['messages', 'send', ...to, '--file', join(dir, 'latin1.txt')])).code).toBe(2);
      expect((await cli(['messages', 'send', ...to, '--file', join(dir, 'missing.txt')])).code).toBe(2);
      const big = Buffer.alloc(64 * 1024 + 1).toString('base64');
      expect((await cli(['messages', 'send', ...to, '--ciphertext', big, '--key-id', 'k'])).code).toBe(2);
      const long = await cli(['messages', 'send', ...to, '--text', `secret ${'x'.repeat(70_000)}`]);
      expect(long.code).toBe(2);
      expect(long.stderr).toContain('too long');
      expect(long.stderr).not.toContain('secret');
      expect(fake.requests.filter((r) => r.path === '/v1/messages')).toHaveLength(0);
    });

    it('says in its help that it seals, prints a recipient key, and shows a message status', async () => {
      expect((await cli(['messages', 'send', '--help'])).stdout).toContain('seals the');
      const key = await cli(['messages', 'key', '--to', '+14155550123', '--json']);
      expect(JSON.parse(key.stdout)).toEqual({ keyId: 'key-1', publicKey: fake.recipientKey.publicKey });
      const ran = await cli(['messages', 'status', 'msg-9', '--json']);
      expect(JSON.parse(ran.stdout)).toMatchObject({ messageId: 'msg-9', status: 'delivered' });
    });

    it('reports a long Retry-After at once instead of waiting it out', async () => {
      fake.respond = (request) =>
        request.path.startsWith('/v1/recipients/')
          ? { ...problem(429, 'Too many requests', 'limit'), headers: { 'retry-after': '3600', 'content-type': 'application/problem+json' } }
          : undefined;
      const ran = await cli(['messages', 'send', '--to', '+14155550123', '--category', 'receipt', '--text', 'x']);
      expect(ran.code).toBe(1);
      expect(fake.requests.filter((r) => r.path.startsWith('/v1/recipients/'))).toHaveLength(1);
      expect(ran.stderr).toContain('429');
    });
  });

  describe('inbox', () => {
    const user = (extra: string[] = []) => [...extra, '--local-user', 'bob'];

    it('creates a key file (mode 0600), publishes its public key as the user, and records the keyId in the file', async () => {
      const keyFile = join(dir, 'bob.key');
      const ran = await cli(['inbox', 'key', '--key-file', keyFile, ...user()], { env: { AUDIENCES_API_URL: fake.url } });
      expect(ran).toMatchObject({ code: 0, stderr: '' });
      const file = await readKeyFile(keyFile);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(file.keyId).toBe('key-published');
      expect(fake.requests.find((r) => r.path === '/_local/token')?.body).toEqual({ role: 'user', sub: 'bob' });
      expect(fake.requests.find((r) => r.path === '/v1/me/keys')?.body).toEqual({ publicKey: file.publicKey });
      expect(ran.stdout).toContain('Published key key-published');
      expect(ran.stdout).not.toContain(JSON.parse(readFileSync(keyFile, 'utf8')).privateKey.d);
      // Run again: the same key is published again, the file unchanged.
      const again = await cli(['inbox', 'key', '--key-file', keyFile, ...user(), '--json'], { env: { AUDIENCES_API_URL: fake.url } });
      expect(JSON.parse(again.stdout)).toMatchObject({ keyId: 'key-published', publicKey: file.publicKey, created: false });
    });

    it('opens the messages sealed to the key file, says which it cannot open, and acknowledges what it opened', async () => {
      // Prepare: a key file, and an inbox of one message sealed to it, one to another key and one with no such key
      const keyFile = join(dir, 'bob.key');
      await cli(['inbox', 'key', '--key-file', keyFile, ...user()], { env: { AUDIENCES_API_URL: fake.url } });
      const file = await readKeyFile(keyFile);
      const item = (messageId: string, keyId: string, ciphertext: string) => ({
        messageId,
        from: 'flower-shop',
        category: 'receipt',
        keyId,
        ciphertext,
        acceptedAt: '2026-11-25T10:00:00Z',
        expiresAt: '2026-12-25T10:00:00Z',
      });
      fake.inbox = [
        item('m-1', 'key-published', await seal(file.publicKey, { text: 'order 1017\n12 red roses \u001b[2J' })),
        item('m-2', 'key-published', await seal(fake.recipientKey.publicKey, { text: 'not for this key' })),
        item('m-3', 'key-old', await seal(file.publicKey, { text: 'old' })),
      ];
      // Act
      const ran = await cli(['inbox', 'read', '--key-file', keyFile, '--ack', ...user()], { env: { AUDIENCES_API_URL: fake.url } });
      // Assess
      expect(ran).toMatchObject({ code: 0, stderr: '' });
      expect(ran.stdout.split('\n')).toEqual([
        '3 messages, 1 opened:',
        'Message m-1: receipt from flower-shop, accepted 2026-11-25T10:00:00Z',
        '  order 1017',
        '  12 red roses \ufffd[2J',
        'Message m-2: receipt from flower-shop, accepted 2026-11-25T10:00:00Z',
        '  (does not open with this key: it was sealed to another key, or altered)',
        'Message m-3: receipt from flower-shop, accepted 2026-11-25T10:00:00Z',
        '  (sealed to another key of this account (keyId key-old); open it with that key file)',
        'Acknowledged 1 message.',
        '',
      ]);
      expect(fake.requests.find((r) => r.path === '/v1/me/messages/ack')?.body).toEqual({ messageIds: ['m-1'] });
      expect(fake.inbox.map((m) => m.messageId)).toEqual(['m-2', 'm-3']);
    });

    it('refuses a key file other users can read, and a user command without a token away from the local stack', async () => {
      const keyFile = join(dir, 'open.key');
      await cli(['inbox', 'key', '--key-file', keyFile, ...user()], { env: { AUDIENCES_API_URL: fake.url } });
      chmodSync(keyFile, 0o644);
      const ran = await cli(['inbox', 'read', '--key-file', keyFile, ...user()], { env: { AUDIENCES_API_URL: fake.url } });
      expect(ran.code).toBe(1);
      expect(ran.stderr).toContain('chmod 600');
      const remote = await cli(['inbox', 'blocks'], { env: { AUDIENCES_API_URL: 'https://api.example.com', AUDIENCES_TOKEN: 'a-business-token' } });
      expect(remote.code).toBe(2);
      expect(remote.stderr).toContain('AUDIENCES_USER_TOKEN');
    });

    it('blocks, unblocks and lists blocked businesses with the user token', async () => {
      const env = { AUDIENCES_API_URL: fake.url, AUDIENCES_USER_TOKEN: 'user-token' };
      expect((await cli(['inbox', 'block', 'flower-shop'], { env })).stdout).toBe('Blocked flower-shop.\n');
      expect((await cli(['inbox', 'unblock', 'flower-shop'], { env })).stdout).toBe('Unblocked flower-shop.\n');
      expect(JSON.parse((await cli(['inbox', 'blocks', '--json'], { env })).stdout)).toEqual({
        items: [{ businessId: 'flower-shop', blockedAt: '2026-11-25T10:00:00.000Z' }],
      });
      expect(fake.requests.map((r) => `${r.method} ${r.path} ${r.headers.authorization}`)).toEqual([
        'PUT /v1/me/blocks/flower-shop Bearer user-token',
        'DELETE /v1/me/blocks/flower-shop Bearer user-token',
        'GET /v1/me/blocks Bearer user-token',
      ]);
    });
  });
});
