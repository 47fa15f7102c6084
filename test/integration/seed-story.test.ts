/**
 * The README's worked example, step by step, on a private local stack (it
 * publishes the policy and moves the clock): a user opts out of ads; a flower
 * shop uploads its mailing list with the CLI; a receipt is sent to a user who
 * is offline for a month.
 */
import { join } from 'node:path';
import { run } from '../../cli/main';
import { readFileSync } from 'node:fs';
import { GetCommand, paginateScan } from '@aws-sdk/lib-dynamodb';
import { parse } from 'csv-parse/sync';
import { catalog } from '../../catalog';
import type { TableName } from '../../catalog';
import { emailSha256Sync, phoneSha256Sync } from '../../client/hashing-node';
import { normaliseEmail, normalisePhoneCell } from '../../client/identifiers';
import { REPO_ROOT, eventually, startStack, tableName } from './support';
import type { PrivateStack } from './support';
import { appliedKey } from '../../functions/tables/match-index';
import { verifyWith, type Caller } from './support/users';

jest.setTimeout(120_000);

let stack: PrivateStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

class Capture {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

async function audiencesCli(args: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await run([...args, '--local-business', 'flower-shop'], { stdout, stderr, env: { AUDIENCES_API_URL: stack.url } });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

it('follows the seed story', async () => {
  const operator = await stack.tokenFor('operator', 'privacy-team');
  const ana = await stack.tokenFor('user', 'ana');
  const bob = await stack.tokenFor('user', 'bob');
  const shop = await stack.tokenFor('business', 'flower-shop');

  // The app publishes its new policy; two users register their numbers.
  const policy = await stack.api('POST', '/v1/policies', {
    token: operator,
    body: {
      version: '2016-08-25',
      purposes: ['ads_targeting', 'friend_suggestions'],
      summary: 'We will share your phone number with our parent company to suggest friends and to target ads.',
    },
  });
  expect(policy.status).toBe(201);
  const call: Caller = (method, path, options) => stack.api(method, path, options);
  expect((await verifyWith(call, 'phone', ana, '+1 (415) 555-0101')).json).toEqual({ phoneNumber: '+14155550101' });
  expect((await verifyWith(call, 'phone', bob, '+1 415 555 0102')).status).toBe(200);
  expect((await stack.api('GET', '/v1/me/consent', { token: ana })).json).toEqual(
    expect.objectContaining({ version: 0, decisionRequired: true, purposes: { ads_targeting: 'denied', friend_suggestions: 'denied' } }),
  );

  // Ana opts out of ads but lets friends find her; Bob allows both.
  const decision = await stack.api('PUT', '/v1/me/consent', {
    token: ana,
    headers: { 'Idempotency-Key': 'ana-notification-1' },
    body: { policyVersion: '2016-08-25', purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' }, source: 'notification' },
  });
  expect(decision.json).toEqual(expect.objectContaining({ version: 1, source: 'notification' }));
  expect(
    (
      await stack.api('PUT', '/v1/me/consent', {
        token: bob,
        body: { policyVersion: '2016-08-25', purposes: { ads_targeting: 'granted', friend_suggestions: 'granted' }, source: 'notification' },
      })
    ).status,
  ).toBe(200);
  expect((await stack.api('GET', '/v1/me/consent/history', { token: ana })).json.items).toEqual([decision.json]);

  // Matching is asynchronous: the upload below must find Bob in the match index.
  const { ddb } = await stack.clients();
  await eventually(async () => {
    const state = await ddb.send(new GetCommand({ TableName: tableName('matchIndex'), Key: appliedKey('bob'), ConsistentRead: true }));
    expect(state.Item?.keys).toHaveLength(1);
  });

  // The flower shop uploads its mailing list with the CLI.
  const created = await audiencesCli(['create', '--name', 'Flower shop mailing list', '--json']);
  expect(created.code).toBe(0);
  const audienceId = JSON.parse(created.stdout).id as string;
  const upload = await audiencesCli([
    'upload',
    join(REPO_ROOT, 'examples/customers.csv'),
    '--audience',
    audienceId,
    '--country',
    'US',
    '--state-dir',
    join(REPO_ROOT, 'test-results'),
  ]);
  expect(upload.code).toBe(0);
  await eventually(
    async () => {
      const audience = await stack.api('GET', `/v1/audiences/${audienceId}`, { token: shop });
      expect(audience.json).toEqual(expect.objectContaining({ status: 'ready', approximateCount: { lower: 0, upper: 100 }, targetable: false }));
    },
    { timeoutMs: 30_000 },
  );
  const status = await audiencesCli(['status', audienceId]);
  expect(status.code).toBe(0);
  await eventually(async () => {
    expect((await stack.api('GET', '/v1/ops/users/bob/audiences', { token: operator })).json.items).toEqual([{ audienceId, businessId: 'flower-shop' }]);
  });
  expect((await stack.api('GET', '/v1/ops/users/ana/audiences', { token: operator })).json.items).toEqual([]);

  // A receipt for Bob, who then stays offline for a month.
  const ciphertext = Buffer.from('order 1017: 12 red roses, $54').toString('base64');
  const sent = await stack.api('POST', '/v1/messages', {
    token: shop,
    body: { to: '+14155550102', category: 'receipt', ciphertext, clientMessageId: 'order-1017' },
  });
  expect(sent.status).toBe(202);
  expect(Date.parse(sent.json.expiresAt) - Date.parse(sent.json.acceptedAt)).toBe(2_592_000_000);
  expect((await stack.api('GET', `/v1/messages/${sent.json.messageId}`, { token: shop })).json.status).toBe('accepted');
  expect((await stack.api('POST', '/_local/clock', { body: { advanceSeconds: 2592001 } })).status).toBe(200);
  expect((await stack.api('GET', '/v1/me/messages', { token: bob })).json).toEqual({ items: [] });
  expect((await stack.api('POST', '/_local/ttl-sweep')).json.deleted).toBeGreaterThanOrEqual(1);
  await eventually(async () => {
    expect((await stack.api('GET', `/v1/messages/${sent.json.messageId}`, { token: shop })).json.status).toBe('expired');
  });
});

/**
 * The leak scan: after the story, the only table that holds a phone number
 * or an email is the identity table, and no item anywhere holds a SHA-256
 * value the flower shop uploaded (they exist only in the upload request's
 * memory; the match index holds HMACs of them).
 */
it('leaves phone numbers and emails in the identity table only, and no uploaded hash anywhere', async () => {
  // Prepare: what the story bound and what the shop uploaded, as the CLI hashed it
  const rows = parse(readFileSync(join(REPO_ROOT, 'examples/customers.csv')), { columns: true, bom: true }) as Record<string, string>[];
  const phones = rows.flatMap((r) => {
    const e164 = normalisePhoneCell(r['Phone Number'] ?? '', (r.country || 'US').trim());
    return e164 ? [e164] : [];
  });
  const emails = rows.flatMap((r) => {
    const email = normaliseEmail(r['E-mail'] ?? '');
    return email ? [email] : [];
  });
  const identifiers = [...new Set(['+14155550101', '+14155550102', ...phones, ...emails])];
  const uploadedHashes = [...phones.map(phoneSha256Sync), ...emails.map(emailSha256Sync)];
  expect(uploadedHashes.length).toBeGreaterThan(10);
  const { ddb } = await stack.clients();
  const dump = async (table: TableName) => {
    const items: unknown[] = [];
    for await (const page of paginateScan({ client: ddb }, { TableName: tableName(table), ConsistentRead: true })) items.push(...(page.Items ?? []));
    return JSON.stringify(items);
  };

  // Act: every table of the catalog, item by item
  const found: string[] = [];
  for (const table of Object.keys(catalog.tables) as TableName[]) {
    const text = await dump(table);
    for (const value of identifiers) if (table !== 'identities' && text.includes(value)) found.push(`${table} holds an identifier`);
    for (const hash of uploadedHashes) if (text.includes(hash)) found.push(`${table} holds an uploaded hash`);
  }

  // Assess: and the identity table does hold the story's numbers, so the scan can see them
  expect([...new Set(found)]).toEqual([]);
  expect(await dump('identities')).toContain('+14155550102');
});
