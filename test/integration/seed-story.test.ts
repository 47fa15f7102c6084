/**
 * The README's worked example, step by step, on a private local stack (it
 * publishes the policy and moves the clock): a user opts out of ads; a flower
 * shop uploads its mailing list with the CLI; Bob's device gets a message
 * key, and the shop seals receipts to it with the CLI; Bob opens the first,
 * and is offline for a month when the second comes. Then the leak scan: no
 * table, queue or log line holds a phone number outside the identity table,
 * an uploaded hash, or the text of any message.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../cli/main';
import { GetCommand, paginateScan } from '@aws-sdk/lib-dynamodb';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { ListTopicsCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { parse } from 'csv-parse/sync';
import { catalog } from '../../catalog';
import type { TableName, TopicName } from '../../catalog';
import { open } from '../../client';
import { readKeyFile } from '../../client/keyfile';
import { emailSha256Sync, phoneSha256Sync } from '../../client/hashing-node';
import { normaliseEmail, normalisePhoneCell } from '../../client/identifiers';
import { REPO_ROOT, eventually, startStack, tableName, topicName } from './support';
import type { PrivateStack } from './support';
import { appliedKey } from '../../functions/tables/match-index';
import { verifyWith, type Caller } from './support/users';

jest.setTimeout(120_000);

/** The texts of the story's messages: the leak scan looks for them everywhere. */
const RECEIPTS = ['order 1017: 12 red roses, $54', 'order 1018: 3 tulips, $12'];

let stack: PrivateStack;
let keyDir: string;
/** Every message the stack's queues held during the story, by id: the topics' copies (taps) and what sampling saw of the rest. */
const queued = new Map<string, string>();
/** A queue of the test's own subscribed to each topic of the stack, unread by anyone: a copy of everything the topic fanned out. */
const taps: string[] = [];
let sampling: Promise<void> | undefined;
let storyDone = false;

/** Subscribes a tap queue to every topic of the catalog, with the raw delivery the consumers' queues have. */
async function tapTopics(): Promise<void> {
  const { sqs, sns } = await stack.clients();
  const arns = (await sns.send(new ListTopicsCommand({}))).Topics?.map((t) => t.TopicArn ?? '') ?? [];
  for (const topic of Object.keys(catalog.topics) as TopicName[]) {
    const topicArn = arns.find((arn) => arn.endsWith(`:${topicName(topic)}`));
    if (!topicArn) throw new Error(`no topic ${topic}`);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `leak-scan-tap-${topic}` }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: Attributes!.QueueArn!, Attributes: { RawMessageDelivery: 'true' } }));
    taps.push(QueueUrl!);
  }
}

/** Takes every message out of the tap queues. */
async function drainTaps(): Promise<void> {
  const { sqs } = await stack.clients();
  for (const queueUrl of taps) {
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'] }),
      );
      if (Messages.length === 0) break;
      for (const message of Messages) queued.set(message.MessageId!, `tap: ${JSON.stringify(message)}`);
      await sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
      );
    }
  }
}

/**
 * Samples every queue of the stack's SQS (fauxqs's non-destructive
 * inspection endpoints) every 100 ms while the story runs, for what is sent
 * to queues directly (upload batches, on-failure records): every message
 * waiting, in flight or delayed, dead-letter queues included, is kept.
 */
async function sampleQueues(sqsEndpoint: string): Promise<void> {
  while (!storyDone) {
    try {
      const queues = (await (await fetch(`${sqsEndpoint}/_fauxqs/queues`)).json()) as { name: string }[];
      for (const queue of queues) {
        const state = (await (await fetch(`${sqsEndpoint}/_fauxqs/queues/${encodeURIComponent(queue.name)}`)).json()) as {
          messages: Record<string, Array<{ message?: { messageId: string; body: string }; messageId?: string; body?: string }>>;
        };
        for (const entries of Object.values(state.messages ?? {})) {
          for (const entry of entries) {
            const message = entry.message ?? (entry as { messageId: string; body: string });
            if (message?.messageId) queued.set(message.messageId, `${queue.name}: ${JSON.stringify(entry)}`);
          }
        }
      }
    } catch {
      // The stack is stopping; the story is over.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  // Every function logs at DEBUG, events included, and the stack keeps all of its output: the log scan reads it.
  stack = await startStack({ env: { POWERTOOLS_LOG_LEVEL: 'DEBUG', POWERTOOLS_LOGGER_LOG_EVENT: 'true' }, outputChunks: Infinity });
  keyDir = mkdtempSync(join(tmpdir(), 'seed-story-'));
  await tapTopics();
  sampling = sampleQueues((await stack.health()).endpoints.sqs);
});
afterAll(async () => {
  storyDone = true;
  await sampling;
  await stack?.stop();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
});

class Capture {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

async function audiencesCli(args: string[], as: string[] = ['--local-business', 'flower-shop']) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await run([...args, ...as], { stdout, stderr, env: { AUDIENCES_API_URL: stack.url } });
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

  // Bob's device gets a message key: generated into a key file and published, with the CLI's user side.
  const bobKey = join(keyDir, 'bob.key');
  const published = await audiencesCli(['inbox', 'key', '--key-file', bobKey, '--json'], ['--local-user', 'bob']);
  expect(published).toMatchObject({ code: 0, stderr: '' });
  const { keyId } = JSON.parse(published.stdout) as { keyId: string };

  // A receipt for Bob, sealed to his key by the shop's CLI; the service lists only ciphertext; Bob opens it and acknowledges.
  const first = await audiencesCli([
    'messages',
    'send',
    '--to',
    '+14155550102',
    '--category',
    'receipt',
    '--text',
    RECEIPTS[0]!,
    '--client-message-id',
    'order-1017',
    '--json',
  ]);
  expect(first).toMatchObject({ code: 0, stderr: '' });
  const firstId = JSON.parse(first.stdout).messageId as string;
  expect((await stack.api('GET', `/v1/messages/${firstId}`, { token: shop })).json.status).toBe('accepted');
  const listed = await stack.api('GET', '/v1/me/messages', { token: bob });
  expect(listed.json.items).toEqual([expect.objectContaining({ messageId: firstId, from: 'flower-shop', category: 'receipt', keyId })]);
  expect(listed.text).not.toContain('roses');
  expect(await open((await readKeyFile(bobKey)).keyPair, listed.json.items[0].ciphertext)).toEqual({ text: RECEIPTS[0] });
  const read = await audiencesCli(['inbox', 'read', '--key-file', bobKey, '--ack'], ['--local-user', 'bob']);
  expect(read).toMatchObject({ code: 0, stderr: '' });
  expect(read.stdout).toContain(`  ${RECEIPTS[0]}\nAcknowledged 1 message.`);
  await eventually(async () => {
    expect((await stack.api('GET', `/v1/messages/${firstId}`, { token: shop })).json.status).toBe('delivered');
  });

  // A second receipt, while Bob stays offline for a month.
  const second = await audiencesCli(['messages', 'send', '--to', '+14155550102', '--category', 'receipt', '--text', RECEIPTS[1]!, '--json']);
  expect(second.code).toBe(0);
  const sent = JSON.parse(second.stdout) as { messageId: string; acceptedAt: string; expiresAt: string };
  expect(Date.parse(sent.expiresAt) - Date.parse(sent.acceptedAt)).toBe(2_592_000_000);
  expect((await stack.api('GET', `/v1/messages/${sent.messageId}`, { token: shop })).json.status).toBe('accepted');
  expect((await stack.api('POST', '/_local/clock', { body: { advanceSeconds: 2592001 } })).status).toBe(200);
  expect((await stack.api('GET', '/v1/me/messages', { token: bob })).json).toEqual({ items: [] });
  expect((await stack.api('POST', '/_local/ttl-sweep')).json.deleted).toBeGreaterThanOrEqual(1);
  await eventually(async () => {
    expect((await stack.api('GET', `/v1/messages/${sent.messageId}`, { token: shop })).json.status).toBe('expired');
  });
  expect((await stack.api('POST', '/_local/settle', { body: {} })).json).toEqual({ settled: true });
});

/** The text itself, as JSON string content, and its base64 at each of the three byte alignments (standard and URL alphabets). */
function traces(text: string): string[] {
  const bytes = Buffer.from(text, 'utf8');
  const base64 = [0, 1, 2].flatMap((offset) => {
    const core = Buffer.concat([Buffer.alloc(offset), bytes])
      .toString('base64')
      .slice(4, -4);
    return [core, core.replace(/\+/g, '-').replace(/\//g, '_')];
  });
  return [text, JSON.stringify(text).slice(1, -1), ...base64];
}

/** Every item of every catalog table, as text. */
async function dumpTables(): Promise<Map<TableName, string>> {
  const { ddb } = await stack.clients();
  const dumps = new Map<TableName, string>();
  for (const table of Object.keys(catalog.tables) as TableName[]) {
    const items: unknown[] = [];
    for await (const page of paginateScan({ client: ddb }, { TableName: tableName(table), ConsistentRead: true })) items.push(...(page.Items ?? []));
    dumps.set(table, JSON.stringify(items));
  }
  return dumps;
}

/**
 * The leak scan: after the story, the only table that holds a phone number
 * or an email is the identity table; no item anywhere holds a SHA-256 value
 * the flower shop uploaded (they exist only in the upload request's memory;
 * the match index holds HMACs of them); and no table, no message any queue
 * held during the story (a copy of everything the topics fanned out, and
 * samples of the queues), and no line the stack logged holds the text of a
 * message, plain or base64-encoded (the CLI sealed it on the shop's side:
 * the service only ever had ciphertext).
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

  // Act: every table of the catalog, item by item
  const dumps = await dumpTables();
  const found: string[] = [];
  for (const [table, text] of dumps) {
    for (const value of identifiers) if (table !== 'identities' && text.includes(value)) found.push(`${table} holds an identifier`);
    for (const hash of uploadedHashes) if (text.includes(hash)) found.push(`${table} holds an uploaded hash`);
  }

  // Assess: and the identity table does hold the story's numbers, so the scan can see them
  expect([...new Set(found)]).toEqual([]);
  expect(dumps.get('identities')).toContain('+14155550102');
});

it('leaves the text of no message in any table, queue or log line: the service only ever had ciphertext', async () => {
  // Prepare: the queues were sampled while the story ran; the stack's output holds every function's DEBUG log
  storyDone = true;
  await sampling;
  await drainTaps();
  const sources = new Map<string, string>([...(await dumpTables())].map(([table, text]) => [`table ${table}`, text]));
  sources.set('queues', [...queued.values()].join('\n'));
  sources.set('logs', stack.output());
  // Act
  const found = [...sources].flatMap(([source, text]) =>
    RECEIPTS.flatMap((receipt, n) =>
      traces(receipt)
        .filter((trace) => text.includes(trace))
        .map(() => `${source} holds receipt ${n + 1}`),
    ),
  );
  // Assess: nothing found...
  expect([...new Set(found)]).toEqual([]);
  // ...where the scan could have found something: the queues carried the story's events (two decisions, two numbers bound, one
  // key per topic copy at least), the logs its requests, the tables its messages' traces
  expect([...queued.values()].filter((m) => m.startsWith('tap: ')).length).toBeGreaterThanOrEqual(4);
  expect(sources.get('logs')).toContain('Message accepted');
  expect(sources.get('table messageStatus')).toContain('flower-shop');
  // ...and the scan itself finds a text that is there
  expect(traces(RECEIPTS[0]!).some((trace) => `{"ciphertext":"${Buffer.from(`{"text":"${RECEIPTS[0]}"}`).toString('base64')}"}`.includes(trace))).toBe(true);
});
