/**
 * Account fixtures for integration tests, created through the public API as
 * a client would. Every test file on the shared stack decides under the one
 * fixture policy `ensurePolicy()` publishes, so files running in parallel
 * never make each other's policy stale; a test about a new policy version
 * uses a private stack (`startStack()`).
 */
import { createHash } from 'node:crypto';
import { generateKeyPair, publicKeyOf, type CryptoKeyPair } from '../../../client';
import { api, newId, tokenFor } from './index';

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

/** A user with a phone number and/or email and, optionally, a recorded decision. */
export async function createUser(options: UserOptions = {}): Promise<TestUser> {
  const { baseUrl } = options;
  const userId = newId('u');
  const token = await tokenFor('user', userId, baseUrl);
  const user: TestUser = { userId, token };
  if (options.phone !== false) {
    const phoneNumber = typeof options.phone === 'string' ? options.phone : uniquePhone();
    const res = await api('PUT', '/v1/me/phone', { token, body: { phoneNumber }, baseUrl });
    await expectOk(res, 'PUT /v1/me/phone');
    user.phoneNumber = res.json.phoneNumber;
  }
  if (options.email) {
    const email = typeof options.email === 'string' ? options.email : `${userId}@example.com`;
    const res = await api('PUT', '/v1/me/email', { token, body: { email }, baseUrl });
    await expectOk(res, 'PUT /v1/me/email');
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
