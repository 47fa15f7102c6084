/**
 * Account fixtures for integration tests, created through the public API as
 * a client would. Every test file on the shared stack decides under the one
 * fixture policy `ensurePolicy()` publishes, so files running in parallel
 * never make each other's policy stale; a test about a new policy version
 * uses a private stack (`startStack()`).
 */
import { createHash } from 'node:crypto';
import { generateKeyPair, publicKeyOf, type CryptoKeyPair } from '../../../client';
import { api, eventually, newId, tokenFor, type ApiResponse } from './index';

export const FIXTURE_POLICY = {
  version: '2016-08-25',
  purposes: ['ads_targeting', 'friend_suggestions'],
  summary: 'The app may share your phone number with its parent company to suggest friends and to target ads.',
};

/** Publishes the fixture policy once (409 means it already is) and returns its version. */
export async function ensurePolicy(baseUrl?: string): Promise<string> {
  const operator = await tokenFor('operator', 'op-fixture', baseUrl);
  const res = await api('POST', '/v1/policies', { token: operator, body: FIXTURE_POLICY, baseUrl });
  if (res.status !== 201 && res.status !== 409) throw new Error(`Publishing the fixture policy failed: ${res.status}`);
  return FIXTURE_POLICY.version;
}

// Unique, valid North American numbers: a random area code and exchange per process, a counter for the line.
const AREA_CODES = [201, 202, 212, 213, 305, 312, 415, 617, 646, 702, 713, 818, 917];
const area = AREA_CODES[Math.floor(Math.random() * AREA_CODES.length)]!;
const exchange = 200 + Math.floor(Math.random() * 800);
let line = Math.floor(Math.random() * 1000);

/** A fresh E.164 number no other test in this process uses. */
export function uniquePhone(): string {
  line = (line + 1) % 10_000;
  return `+1${area}${exchange}${String(line).padStart(4, '0')}`;
}

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
/** The contract's hashing convention. */
export const phoneHash = (e164: string): string => sha256(e164.replace(/^\+/, ''));
export const emailHash = (email: string): string => sha256(email.trim().toLowerCase());

/** A user's message key: the private key stays in the test, as it stays on a device. */
export interface TestKey {
  keyId: string;
  publicKey: string;
  keyPair: CryptoKeyPair;
}

export interface TestUser {
  userId: string;
  token: string;
  phoneNumber?: string;
  email?: string;
  key?: TestKey;
}

/** Generates an X25519 key pair with the client library and publishes it for the user (PUT /v1/me/keys). */
export async function publishNewKey(token: string, baseUrl?: string): Promise<TestKey> {
  const keyPair = await generateKeyPair();
  const publicKey = await publicKeyOf(keyPair);
  const res = await api('PUT', '/v1/me/keys', { token, body: { publicKey }, baseUrl });
  if (res.status !== 200) throw new Error(`PUT /v1/me/keys failed with ${res.status}: ${res.text}`);
  return { keyId: res.json.keyId, publicKey, keyPair };
}

export interface UserOptions {
  phone?: boolean | string;
  email?: boolean | string;
  ads?: 'granted' | 'denied';
  friends?: 'granted' | 'denied';
  baseUrl?: string;
  /** The policy version the decision is made under (default: the fixture policy, published if missing). */
  policyVersion?: string;
  /** Publish a message key for the user (so businesses can send to them). */
  key?: boolean;
}

async function expectOk(res: { status: number; text: string }, what: string) {
  if (res.status !== 200) throw new Error(`${what} failed with ${res.status}: ${res.text}`);
}

/** What the local stack would have sent (`GET /_local/outbox?to=`), newest first. */
export interface OutboxEntry {
  channel: 'sms' | 'email';
  to: string;
  text: string;
  code: string;
  sentAt: string;
}

export async function outbox(to: string, baseUrl?: string): Promise<OutboxEntry[]> {
  const res = await api<{ items: OutboxEntry[] }>('GET', `/_local/outbox?to=${encodeURIComponent(to)}`, baseUrl ? { baseUrl } : {});
  if (res.status !== 200) throw new Error(`GET /_local/outbox answered ${res.status}: ${res.text}`);
  return res.json.items;
}

export type VerifiedKind = 'phone' | 'email';
const START: Record<VerifiedKind, string> = { phone: '/v1/me/phone/verification', email: '/v1/me/email/verification' };
const BIND: Record<VerifiedKind, string> = { phone: '/v1/me/phone', email: '/v1/me/email' };
const FIELD: Record<VerifiedKind, string> = { phone: 'phoneNumber', email: 'email' };

/** Starts a verification of `value` as the caller; the 202 answer (or whatever came back). */
export const startVerification = (kind: VerifiedKind, token: string, value: string, baseUrl?: string): Promise<ApiResponse> =>
  api('POST', START[kind], { token, body: { [FIELD[kind]]: value }, baseUrl });

/** Sends back a code for a verification; the answer of `PUT /v1/me/phone` or `/v1/me/email`. */
export const confirmVerification = (kind: VerifiedKind, token: string, verificationId: string, code: string, baseUrl?: string): Promise<ApiResponse> =>
  api('PUT', BIND[kind], { token, body: { verificationId, code }, baseUrl });

/** How a helper calls the API: the shared stack's `api`, or a private stack's. */
export type Caller = (method: string, path: string, options?: { token?: string; body?: unknown }) => Promise<ApiResponse>;
const callerFor =
  (baseUrl?: string): Caller =>
  (method, path, options = {}) =>
    api(method, path, { ...options, baseUrl });

/**
 * The code of the next message to `to`: waits until the outbox holds more
 * than `seen` messages to it and returns the newest one's code.
 */
export async function nextCode(to: string, seen: number, baseUrl?: string): Promise<string> {
  return nextCodeWith(callerFor(baseUrl), to, seen);
}

async function outboxWith(call: Caller, to: string): Promise<OutboxEntry[]> {
  const res = await call('GET', `/_local/outbox?to=${encodeURIComponent(to)}`);
  if (res.status !== 200) throw new Error(`GET /_local/outbox answered ${res.status}: ${res.text}`);
  return res.json.items as OutboxEntry[];
}

async function nextCodeWith(call: Caller, to: string, seen: number): Promise<string> {
  return eventually(
    async () => {
      const items = await outboxWith(call, to);
      if (items.length <= seen) throw new Error('no new code sent to that destination yet');
      return items[0]!.code;
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
}

/**
 * The whole verification flow as a client does it: start, read the code
 * from the local outbox, send it back. Returns the bind answer (200 and the
 * stored value when it worked). Verifications of one destination must not
 * run at the same time (the newest code is taken).
 */
export async function verify(kind: VerifiedKind, token: string, value: string, baseUrl?: string): Promise<ApiResponse> {
  return verifyWith(callerFor(baseUrl), kind, token, value);
}

export async function verifyWith(call: Caller, kind: VerifiedKind, token: string, value: string): Promise<ApiResponse> {
  const seen = (await outboxWith(call, value)).length;
  const started = await call('POST', START[kind], { token, body: { [FIELD[kind]]: value } });
  if (started.status !== 202) return started;
  const code = await nextCodeWith(call, value, seen);
  return call('PUT', BIND[kind], { token, body: { verificationId: started.json.verificationId, code } });
}

/** A user with a phone number and/or email and, optionally, a recorded decision. */
export async function createUser(options: UserOptions = {}): Promise<TestUser> {
  const { baseUrl } = options;
  const userId = newId('u');
  const token = await tokenFor('user', userId, baseUrl);
  const user: TestUser = { userId, token };
  if (options.phone !== false) {
    const phoneNumber = typeof options.phone === 'string' ? options.phone : uniquePhone();
    const res = await verify('phone', token, phoneNumber, baseUrl);
    await expectOk(res, 'Verifying a phone number');
    user.phoneNumber = res.json.phoneNumber;
  }
  if (options.email) {
    const email = typeof options.email === 'string' ? options.email : `${userId}@example.com`;
    const res = await verify('email', token, email, baseUrl);
    await expectOk(res, 'Verifying an email address');
    user.email = res.json.email;
  }
  if (options.ads || options.friends) {
    const policyVersion = options.policyVersion ?? (await ensurePolicy(baseUrl));
    const purposes: Record<string, string> = {};
    if (options.ads) purposes.ads_targeting = options.ads;
    if (options.friends) purposes.friend_suggestions = options.friends;
    const res = await api('PUT', '/v1/me/consent', { token, body: { policyVersion, purposes, source: 'notification' }, baseUrl });
    await expectOk(res, 'PUT /v1/me/consent');
  }
  if (options.key) user.key = await publishNewKey(token, baseUrl);
  return user;
}

export { mapLimit } from '../../../functions/shared/concurrency';
