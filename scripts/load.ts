/**
 * `npm run load`: load on a local stack, then proof that nothing was lost.
 *
 *   npm run load                                   # its own stack, 60 s
 *   npm run load -- --duration 20 --connections 4
 *   npm run load -- --url http://127.0.0.1:3000    # a running `npm start`
 *
 * 1. Starts a local stack in this process (or uses `--url`, loopback only),
 *    with the per-business message limits raised (MESSAGE_SEND_RATE_PER_BUSINESS,
 *    MESSAGE_NEW_RECIPIENTS_PER_DAY, MESSAGES_PER_RECIPIENT_PER_DAY, unless
 *    set), and creates through the API a pool of users (phone, email, a
 *    message key, a first decision; numbers and addresses bound through the
 *    verification flow, the codes read from the stack's outbox) and businesses
 *    with audiences.
 * 2. For `--duration` seconds (default 60), autocannon against 127.0.0.1 with
 *    `--connections` connections (default 8), at most `--max-requests`
 *    requests, mixes consent changes (alternating choices, never two in
 *    flight for one user), message sends, acknowledgements and audience
 *    uploads (small batches of hashed rows of known users).
 * 3. A verification burst: one account starts 30 phone verifications at
 *    once while 10 other accounts start one each; the burst must get 5
 *    accepted and 25 refused (429 with Retry-After: the account limit) and
 *    every other account must be served.
 * 4. Then waits up to `--settle` seconds (default 180) and checks that nothing
 *    was lost: every accepted consent change (200) is in the user's ledger
 *    (history), and the consumers (match index, suggestions) applied each
 *    user's final version; every accepted batch (202) was matched (its session
 *    is `done`); every accepted message (202) is listed to its recipient or
 *    acknowledged (status `delivered`).
 *
 * Prints a summary (requests, errors by status, 429s apart, p50/p99 latency,
 * lost, the burst) and writes it to `--out` (default load-results.json).
 * Exits 1 when anything was lost or the burst was not limited.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import autocannon from 'autocannon';
import { Command, InvalidArgumentError } from 'commander';
import { generateKeyPair, publicKeyOf } from '../client';
import { emailSha256, normalisePhone, phoneSha256 } from '../functions/core/identifiers';
import { mapLimit, sleep } from '../functions/shared/concurrency';
import { appliedKey } from '../functions/tables/match-index';
import { suggestionKey } from '../functions/tables/suggestions';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localTableName } from '../local/names';
import type { StackLog } from '../local/log';

// ------------------------------------------------------------------ options

interface LoadOptions {
  readonly url?: string;
  readonly duration: number;
  readonly connections: number;
  readonly maxRequests: number;
  readonly users: number;
  readonly businesses: number;
  readonly settle: number;
  readonly out: string;
  readonly rate: string;
}

const intOption = (what: string, min: number, max: number) => (raw: string) => {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new InvalidArgumentError(`${what} must be a whole number from ${min} to ${max}.`);
  return value;
};

function loopbackOnly(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidArgumentError('--url must be a URL.');
  }
  if (url.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    throw new InvalidArgumentError('--url must be a local stack on the loopback interface (http://127.0.0.1:PORT): load never leaves this machine.');
  }
  return url.origin;
}

// ------------------------------------------------------------------ small helpers

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Call {
  status: number;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the wire
  /** The Retry-After header, when there is one. */
  retryAfter?: string;
}

function client(baseUrl: string) {
  return async function call(method: string, path: string, token?: string, body?: unknown): Promise<Call> {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await fetch(`${baseUrl}${path}`, {
          method,
          headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        const retryAfter = res.headers.get('retry-after');
        return {
          status: res.status,
          json: text && /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : undefined,
          ...(retryAfter ? { retryAfter } : {}),
        };
      } catch (error) {
        if (attempt >= 3) throw error;
        await sleep(500 * attempt);
      }
    }
  };
}

type CallFn = ReturnType<typeof client>;
const VERIFY = { phone: ['/v1/me/phone/verification', '/v1/me/phone', 'phoneNumber'], email: ['/v1/me/email/verification', '/v1/me/email', 'email'] } as const;

/** The verification flow: start, read the code from the local stack's outbox, send it back; the answer of the last step. */
async function verify(call: CallFn, token: string, kind: 'phone' | 'email', value: string): Promise<Call> {
  const [start, bind, field] = VERIFY[kind];
  const sent = async () => (await call('GET', `/_local/outbox?to=${encodeURIComponent(value)}`)).json.items as { code: string }[];
  const seen = (await sent()).length;
  const started = await call('POST', start, token, { [field]: value });
  if (started.status !== 202) return started;
  for (let waited = 0; ; waited += 50) {
    const items = await sent();
    if (items.length > seen) return call('PUT', bind, token, { verificationId: started.json.verificationId, code: items[0]!.code });
    if (waited > 30_000) throw new Error('no code reached the local outbox within 30 s');
    await sleep(50);
  }
}

/**
 * The verification limits under a burst: one account starts `burst`
 * verifications at once while `others` accounts start one each. The burst
 * must be refused beyond the account limit (429 with Retry-After) while
 * every other account is served.
 */
async function verificationBurst(call: CallFn, token: (role: string, sub: string) => Promise<string>, runId: string, burst: number, others: number) {
  const number = (i: number, j: number) =>
    normalisePhone(`+1415${String(200 + ((i * 37 + j) % 800))}${String((i * 7919 + j * 104_729) % 10_000).padStart(4, '0')}`)!;
  const attacker = await token('user', `load-${runId}-burst`);
  const bystanders = await Promise.all(Array.from({ length: others }, (_, i) => token('user', `load-${runId}-other${i}`)));
  const started = Date.now();
  const [burstAnswers, otherAnswers] = await Promise.all([
    Promise.all(Array.from({ length: burst }, (_, j) => call('POST', '/v1/me/phone/verification', attacker, { phoneNumber: number(1, j) }))),
    Promise.all(bystanders.map((t, i) => call('POST', '/v1/me/phone/verification', t, { phoneNumber: number(2 + i, 0) }))),
  ]);
  const count = (answers: Call[]) => {
    const byStatus: Record<string, number> = {};
    for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    return byStatus;
  };
  return {
    burstFromOneAccount: {
      sent: burst,
      byStatus: count(burstAnswers),
      refusedWithRetryAfter: burstAnswers.filter((a) => a.status === 429 && Number(a.retryAfter) > 0).length,
    },
    otherAccounts: { sent: others, byStatus: count(otherAnswers) },
    ms: Date.now() - started,
  };
}

// ------------------------------------------------------------------ the model of what was sent

interface User {
  readonly id: string;
  readonly token: string;
  readonly phone: string;
  readonly email: string;
  /** The keyId of the user's published message key (messages are random bytes: the load does not seal). */
  readonly keyId: string;
  /** What the last accepted decision chose. */
  ads: 'granted' | 'denied';
  friends: 'granted' | 'denied';
  changes: number;
  busySince: number;
  /** Accepted receipts (ids) of this run, the setup's included. */
  readonly receipts: string[];
  /** Accepted messages not yet acknowledged by this run. */
  readonly inbox: Set<string>;
}

interface Business {
  readonly id: string;
  readonly token: string;
  readonly audiences: string[];
}

type Kind = 'consent' | 'message' | 'ack' | 'upload';
const MIX: readonly [Kind, number][] = [
  ['consent', 45],
  ['message', 35],
  ['ack', 10],
  ['upload', 10],
];

interface Pending {
  kind: Kind;
  startedAt: number;
  user?: User;
  business?: Business;
  ids?: string[];
  session?: { audienceId: string; sessionId: number };
  message?: { clientMessageId: string };
}

// ------------------------------------------------------------------ main

async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('load')
    .description('Load on a local stack (loopback only), then a check that nothing was lost.')
    .option('--url <url>', 'use this running local stack instead of starting one', loopbackOnly)
    .option('--duration <seconds>', 'how long to load', intOption('--duration', 1, 3_600), 60)
    .option('--connections <n>', 'concurrent connections', intOption('--connections', 1, 64), 8)
    .option('--max-requests <n>', 'stop after this many requests', intOption('--max-requests', 1, 10_000_000), 500_000)
    .option('--users <n>', 'users in the pool', intOption('--users', 2, 5_000), 60)
    .option('--businesses <n>', 'businesses in the pool', intOption('--businesses', 1, 500), 6)
    .option('--settle <seconds>', 'how long to wait for the asynchronous work afterwards', intOption('--settle', 1, 3_600), 180)
    .option('--out <file>', 'where to write the summary', 'load-results.json')
    .option('--rate <perMinute>', 'MESSAGE_SEND_RATE_PER_BUSINESS of the stack it starts', '1000000')
    .exitOverride();
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    return (error as { exitCode?: number }).exitCode ?? 2;
  }
  const options = program.opts<LoadOptions>();
  const say = (line: string) => process.stderr.write(`[load] ${line}\n`);

  // --- the stack
  let stop: (() => Promise<void>) | undefined;
  let baseUrl = options.url;
  const stackLog = { warnings: 0, errors: 0 };
  if (!baseUrl) {
    process.env.MESSAGE_SEND_RATE_PER_BUSINESS ??= options.rate;
    process.env.MESSAGE_NEW_RECIPIENTS_PER_DAY ??= '1000000';
    process.env.MESSAGES_PER_RECIPIENT_PER_DAY ??= '1000000';
    // "Every batch reached done" means matched: no settle time to wait for (core/size-release.ts).
    process.env.UPLOAD_SETTLE_SECONDS ??= '0';
    process.env.UPLOAD_SETTLE_SECONDS_PER_CHUNK ??= '0';
    process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
    const log: StackLog = {
      info: () => {},
      warn: () => {
        stackLog.warnings += 1;
      },
      error: (line) => {
        stackLog.errors += 1;
        if (stackLog.errors <= 20) process.stderr.write(`[local] ERROR ${line}\n`);
      },
    };
    const { startLocalStack } = await import('../local/stack');
    const stack = await startLocalStack({ port: 0, host: '127.0.0.1', log });
    baseUrl = stack.url;
    stop = () => stack.stop();
    say(`local stack at ${baseUrl} (${stack.functions.length} functions) in ${(stack.startupMs / 1000).toFixed(1)} s`);
  }
  try {
    return await run(baseUrl, options, say, stackLog);
  } finally {
    await stop?.();
  }
}

async function run(baseUrl: string, options: LoadOptions, say: (line: string) => void, stackLog: { warnings: number; errors: number }): Promise<number> {
  const call = client(baseUrl);
  const health = await call('GET', '/_local/health');
  if (health.status !== 200) throw new Error(`${baseUrl}/_local/health answered ${health.status}: load runs against local stacks only`);
  const token = async (role: string, sub: string) => (await call('POST', '/_local/token', undefined, { role, sub })).json.token as string;
  const runId = randomBytes(4).toString('hex');

  // --- setup
  const policy = { version: '2016-08-25', purposes: ['ads_targeting', 'friend_suggestions'], summary: 'Load test policy.' };
  const published = await call('POST', '/v1/policies', await token('operator', `load-op-${runId}`), policy);
  if (published.status !== 201 && published.status !== 409) throw new Error(`POST /v1/policies answered ${published.status}`);
  const current = await call('GET', '/v1/policies/current', await token('user', `load-reader-${runId}`));
  const policyVersion = current.json.version as string;

  say(`creating ${options.users} users and ${options.businesses} businesses`);
  const areas = ['212', '312', '415', '503', '617', '646', '720', '206'];
  const users = await mapLimit(Array.from({ length: options.users }), 8, async (_, i): Promise<User> => {
    const id = `load-${runId}-u${i}`;
    const userToken = await token('user', id);
    const candidate = normalisePhone(
      `+1${areas[randomBytes(1)[0]! % areas.length]}${200 + (randomBytes(2).readUInt16BE() % 800)}${String(randomBytes(2).readUInt16BE() % 10_000).padStart(4, '0')}`,
    );
    if (!candidate) throw new Error('made an invalid phone number');
    // Bound as a client binds them: a code sent to each (the local outbox shows it), sent back.
    const bound = await verify(call, userToken, 'phone', candidate);
    if (bound.status !== 200) throw new Error(`Verifying a phone number answered ${bound.status}`);
    const phone = bound.json.phoneNumber as string;
    const email = `${id}@example.com`;
    if ((await verify(call, userToken, 'email', email)).status !== 200) throw new Error('Verifying an email address failed');
    const first = await call('PUT', '/v1/me/consent', userToken, {
      policyVersion,
      purposes: { ads_targeting: 'granted', friend_suggestions: 'granted' },
      source: 'notification',
    });
    if (first.status !== 200) throw new Error(`PUT /v1/me/consent answered ${first.status}`);
    const key = await call('PUT', '/v1/me/keys', userToken, { publicKey: await publicKeyOf(await generateKeyPair()) });
    if (key.status !== 200) throw new Error(`PUT /v1/me/keys answered ${key.status}`);
    return {
      id,
      token: userToken,
      phone,
      email,
      keyId: key.json.keyId,
      ads: 'granted',
      friends: 'granted',
      changes: 0,
      busySince: 0,
      receipts: [first.json.receiptId],
      inbox: new Set(),
    };
  });
  const businesses = await mapLimit(Array.from({ length: options.businesses }), 4, async (_, i): Promise<Business> => {
    const id = `load-${runId}-b${i}`;
    const business: Business = { id, token: await token('business', id), audiences: [] };
    for (let a = 0; a < 2; a++) {
      const created = await call('POST', '/v1/audiences', business.token, { name: `Load ${i}.${a}`, customerFileSource: 'USER_PROVIDED_ONLY' });
      if (created.status !== 201) throw new Error(`POST /v1/audiences answered ${created.status}`);
      business.audiences.push(created.json.id);
    }
    return business;
  });

  // --- the load
  const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
  const mix = MIX;
  const weightSum = mix.reduce((sum, [, w]) => sum + w, 0);
  const chooseKind = (): Kind => {
    let r = Math.random() * weightSum;
    for (const [kind, w] of mix) if ((r -= w) < 0) return kind;
    return 'consent';
  };
  const stats = new Map<Kind, { sent: number; status: Record<string, number>; latencies: number[] }>();
  const statOf = (kind: Kind) => {
    let s = stats.get(kind);
    if (!s) stats.set(kind, (s = { sent: 0, status: {}, latencies: [] }));
    return s;
  };
  const accepted = {
    consent: [] as { user: User; receiptId: string; version: number }[],
    messages: [] as { business: Business; user: User; messageId: string }[],
    uploads: [] as { business: Business; audienceId: string; sessionId: number }[],
    acks: 0,
  };
  let sessionCounter = 0;
  let sentTotal = 0;
  let instance: autocannon.Instance | undefined;
  let stopping = false;
  const STALE_MS = 35_000;

  const build = (p: Pending): autocannon.Request => {
    const now = Date.now();
    if (p.kind === 'ack') {
      const candidates = users.filter((u) => u.inbox.size > 0 && now - u.busySince > STALE_MS);
      if (candidates.length === 0) p.kind = 'consent';
      else {
        const user = pick(candidates);
        user.busySince = now;
        p.user = user;
        p.ids = [...user.inbox].slice(0, 5);
        return {
          method: 'POST',
          path: '/v1/me/messages/ack',
          headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ messageIds: p.ids }),
        };
      }
    }
    if (p.kind === 'consent') {
      const free = users.filter((u) => now - u.busySince > STALE_MS);
      if (free.length === 0) p.kind = 'message';
      else {
        const user = pick(free);
        user.busySince = now;
        p.user = user;
        const ads = user.ads === 'granted' ? 'denied' : 'granted';
        const friends = user.changes % 2 === 1 ? (user.friends === 'granted' ? 'denied' : 'granted') : user.friends;
        return {
          method: 'PUT',
          path: '/v1/me/consent',
          headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ policyVersion, purposes: { ads_targeting: ads, friend_suggestions: friends }, source: 'settings' }),
        };
      }
    }
    if (p.kind === 'upload') {
      const business = pick(businesses);
      const audienceId = pick(business.audiences);
      const sessionId = ++sessionCounter;
      p.business = business;
      p.session = { audienceId, sessionId };
      const rows = Array.from({ length: 10 }, () => {
        const u = pick(users);
        return [phoneSha256(u.phone), emailSha256(u.email)];
      }).concat([[randomBytes(32).toString('hex'), '']]);
      return {
        method: 'POST',
        path: `/v1/audiences/${audienceId}/users`,
        headers: { authorization: `Bearer ${business.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          session: { id: sessionId, batchSeq: 1, lastBatch: true, estimatedTotal: rows.length },
          schema: ['PHONE_SHA256', 'EMAIL_SHA256'],
          data: rows,
        }),
      };
    }
    p.kind = 'message';
    const business = pick(businesses);
    const user = pick(users);
    p.business = business;
    p.user = user;
    p.message = { clientMessageId: `${runId}-${randomBytes(8).toString('hex')}` };
    return {
      method: 'POST',
      path: '/v1/messages',
      headers: { authorization: `Bearer ${business.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        to: user.phone,
        category: 'receipt',
        keyId: user.keyId,
        ciphertext: randomBytes(64).toString('base64'),
        clientMessageId: p.message.clientMessageId,
      }),
    };
  };

  const onResponse = (status: number, body: string, p: Pending) => {
    const s = statOf(p.kind);
    s.status[status] = (s.status[status] ?? 0) + 1;
    s.latencies.push(Date.now() - p.startedAt);
    const json = () => {
      try {
        return JSON.parse(body) as Record<string, unknown>;
      } catch {
        return {};
      }
    };
    if (p.kind === 'consent' && p.user) {
      p.user.busySince = 0;
      if (status === 200) {
        const receipt = json() as {
          receiptId: string;
          version: number;
          purposes: { ads_targeting: 'granted' | 'denied'; friend_suggestions: 'granted' | 'denied' };
        };
        p.user.ads = receipt.purposes.ads_targeting;
        p.user.friends = receipt.purposes.friend_suggestions;
        p.user.changes += 1;
        p.user.receipts.push(receipt.receiptId);
        accepted.consent.push({ user: p.user, receiptId: receipt.receiptId, version: receipt.version });
      }
    } else if (p.kind === 'ack' && p.user) {
      p.user.busySince = 0;
      if (status === 200) {
        for (const id of p.ids ?? []) p.user.inbox.delete(id);
        accepted.acks += 1;
      }
    } else if (p.kind === 'message' && p.user && p.business && status === 202) {
      const messageId = json().messageId as string;
      p.user.inbox.add(messageId);
      accepted.messages.push({ business: p.business, user: p.user, messageId });
    } else if (p.kind === 'upload' && p.business && p.session && status === 202) {
      accepted.uploads.push({ business: p.business, ...p.session });
    }
  };

  say(`loading ${baseUrl} for ${options.duration} s with ${options.connections} connections (mix: ${mix.map(([k, w]) => `${k} ${w}`).join(', ')})`);
  const result = await new Promise<autocannon.Result>((done, fail) => {
    instance = autocannon(
      {
        url: baseUrl,
        connections: options.connections,
        pipelining: 1,
        duration: options.duration,
        timeout: 30,
        requests: [
          {
            setupRequest: (request, context) => {
              sentTotal += 1;
              if (sentTotal >= options.maxRequests && !stopping) {
                stopping = true;
                setImmediate(() => instance?.stop());
              }
              const p: Pending = { kind: chooseKind(), startedAt: Date.now() };
              const built = build(p);
              statOf(p.kind).sent += 1;
              (context as { pending?: Pending }).pending = p;
              return { ...request, ...built };
            },
            onResponse: (status, body, context) => {
              const p = (context as { pending?: Pending }).pending;
              if (p) onResponse(status, body, p);
            },
          },
        ],
      },
      (error, res) => (error ? fail(error) : done(res)),
    );
  });
  say(`sent ${result.requests.sent} requests in ${result.duration.toFixed(1)} s; now checking that nothing was lost (up to ${options.settle} s)`);

  // --- the verification limits under a burst from one account
  const burst = await verificationBurst(call, token, runId, 30, 10);
  const limitHeld =
    burst.burstFromOneAccount.byStatus['202'] === 5 && burst.burstFromOneAccount.refusedWithRetryAfter === 25 && burst.otherAccounts.byStatus['202'] === 10;
  say(
    `verification burst: one account sent 30 at once, ${burst.burstFromOneAccount.byStatus['202'] ?? 0} accepted, ${burst.burstFromOneAccount.byStatus['429'] ?? 0} refused (429); ` +
      `10 other accounts: ${burst.otherAccounts.byStatus['202'] ?? 0} accepted`,
  );

  // --- verification
  const deadline = Date.now() + options.settle * 1000;
  const untilDeadline = async <T>(check: () => Promise<T[]>): Promise<T[]> => {
    for (;;) {
      const left = await check();
      if (left.length === 0 || Date.now() >= deadline) return left;
      await sleep(1_000);
    }
  };
  const endpoints = (await call('GET', '/_local/health')).json.endpoints as { dynamodb: string };
  const dynamo = new DynamoDBClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: endpoints.dynamodb });
  const ddb = DynamoDBDocumentClient.from(dynamo);
  const item = async (table: string, key: Record<string, string>) =>
    (await ddb.send(new GetCommand({ TableName: localTableName(table), Key: key, ConsistentRead: true }))).Item;

  // Consent: in the ledger, and applied by every consumer at the user's final version
  const missingReceipts: string[] = [];
  const finalVersion = new Map<User, { version: number; ads: string; friends: string }>();
  await mapLimit(users, 8, async (user) => {
    const history = await call('GET', '/v1/me/consent/history', user.token);
    const ids = new Set((history.json.items as { receiptId: string }[]).map((r) => r.receiptId));
    for (const id of user.receipts) if (!ids.has(id)) missingReceipts.push(id);
    const now = await call('GET', '/v1/me/consent', user.token);
    finalVersion.set(user, { version: now.json.version, ads: now.json.purposes.ads_targeting, friends: now.json.purposes.friend_suggestions });
  });
  const consumersBehind = await untilDeadline(async () => {
    const behind: string[] = [];
    await mapLimit(users, 8, async (user) => {
      const want = finalVersion.get(user)!;
      const [index, suggestions] = await Promise.all([item('matchIndex', appliedKey(user.id)), item('suggestions', suggestionKey(user.id))]);
      const indexOk = index?.appliedVersion === want.version && ((index?.keys as string[] | undefined)?.length ?? 0) === (want.ads === 'granted' ? 2 : 0);
      const suggestionsOk = suggestions?.appliedVersion === want.version && suggestions?.allowed === (want.friends === 'granted');
      if (!indexOk || !suggestionsOk) behind.push(user.id);
    });
    return behind;
  });

  // Uploads: every accepted batch matched
  const notMatched = await untilDeadline(async () => {
    const left: string[] = [];
    await mapLimit(accepted.uploads, 8, async (u) => {
      const session = await call('GET', `/v1/audiences/${u.audienceId}/sessions/${u.sessionId}`, u.business.token);
      if (session.json?.stage !== 'done') left.push(`${u.audienceId}/${u.sessionId}`);
    });
    return left;
  });

  // Messages: listed to the recipient, or acknowledged (delivered)
  const listed = new Set<string>();
  await mapLimit(users, 8, async (user) => {
    let nextToken: string | undefined;
    do {
      const page = await call('GET', `/v1/me/messages?limit=100${nextToken ? `&nextToken=${nextToken}` : ''}`, user.token);
      for (const m of page.json.items as { messageId: string }[]) listed.add(m.messageId);
      nextToken = page.json.nextToken;
    } while (nextToken);
  });
  let delivered = 0;
  const unaccounted = await untilDeadline(async () => {
    const left: string[] = [];
    delivered = 0;
    await mapLimit(
      accepted.messages.filter((m) => !listed.has(m.messageId)),
      8,
      async (m) => {
        const status = await call('GET', `/v1/messages/${m.messageId}`, m.business.token);
        if (status.json?.status === 'delivered') delivered += 1;
        else left.push(m.messageId);
      },
    );
    return left;
  });
  dynamo.destroy();

  // --- summary
  const byStatus: Record<string, number> = {};
  let rateLimited = 0;
  for (const s of stats.values()) {
    for (const [status, n] of Object.entries(s.status)) {
      if (status === '429') rateLimited += n;
      else if (Number(status) >= 400) byStatus[status] = (byStatus[status] ?? 0) + n;
    }
  }
  const lost = {
    consentChangesMissingFromLedger: missingReceipts.length,
    usersWhoseConsumersAreBehind: consumersBehind.length,
    batchesNotMatched: notMatched.length,
    messagesNeitherListedNorAcknowledged: unaccounted.length,
  };
  const lostTotal = Object.values(lost).reduce((a, b) => a + b, 0);
  const summary = {
    finishedAt: new Date().toISOString(),
    target: options.url ? `${baseUrl} (given)` : `${baseUrl} (started in process)`,
    durationSeconds: Number(result.duration.toFixed(1)),
    connections: options.connections,
    pool: { users: users.length, businesses: businesses.length, audiences: businesses.reduce((n, b) => n + b.audiences.length, 0) },
    requests: {
      total: result.requests.sent,
      completed: result.requests.total,
      perSecond: Number(result.requests.average.toFixed(1)),
      byKind: Object.fromEntries(
        [...stats].map(([kind, s]) => {
          const sorted = [...s.latencies].sort((a, b) => a - b);
          return [kind, { sent: s.sent, byStatus: s.status, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) }];
        }),
      ),
    },
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: Number(result.latency.mean.toFixed(1)),
    },
    errors: { byStatus, transport: result.errors, timeouts: result.timeouts },
    rateLimited429: rateLimited,
    accepted: {
      consentChanges: accepted.consent.length,
      messages: accepted.messages.length,
      acknowledgements: accepted.acks,
      batches: accepted.uploads.length,
    },
    checked: {
      consentReceiptsInLedger: users.reduce((n, u) => n + u.receipts.length, 0) - missingReceipts.length,
      usersWithConsumersAtFinalVersion: users.length - consumersBehind.length,
      batchesMatched: accepted.uploads.length - notMatched.length,
      messagesListed: accepted.messages.filter((m) => listed.has(m.messageId)).length,
      messagesDelivered: delivered,
    },
    lost: { total: lostTotal, ...lost },
    verificationLimits: { ...burst, limitHeld },
    stackLog,
  };
  const out = resolve(process.cwd(), options.out);
  writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
  const line = (label: string, value: unknown) => process.stdout.write(`${label.padEnd(22)}${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
  process.stdout.write('\nLoad summary\n');
  line('target', summary.target);
  line('duration', `${summary.durationSeconds} s, ${summary.connections} connections`);
  line('requests', `${summary.requests.total} (${summary.requests.perSecond}/s)`);
  for (const [kind, s] of Object.entries(summary.requests.byKind)) line(`  ${kind}`, s);
  line('latency', `p50 ${summary.latencyMs.p50} ms, p99 ${summary.latencyMs.p99} ms, max ${summary.latencyMs.max} ms`);
  line('errors by status', summary.errors.byStatus);
  line('transport errors', `${summary.errors.transport} (timeouts ${summary.errors.timeouts})`);
  line('429 (rate limited)', summary.rateLimited429);
  line('accepted', summary.accepted);
  line('checked', summary.checked);
  line('verification burst', { ...burst.burstFromOneAccount, otherAccounts: burst.otherAccounts.byStatus, limitHeld });
  line('lost', summary.lost.total);
  if (lostTotal > 0) line('lost detail', { ...lost, examples: [...missingReceipts, ...consumersBehind, ...notMatched, ...unaccounted].slice(0, 10) });
  line('written to', out);
  return lostTotal === 0 && limitHeld ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`load: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
