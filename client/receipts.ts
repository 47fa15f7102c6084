/**
 * Offline verification of a user's consent receipts: with only an export
 * (`GET /v1/me/export`, which carries the receipts and the keys that signed
 * them) or a list of receipts and a key set, check that the chain is whole.
 * Runs in browsers and Node (WebCrypto, `jose`, `canonicalize`).
 *
 * For each receipt, in the order the export lists them (newest first):
 * - its `hash` is the SHA-256 of the RFC 8785 canonical JSON of the receipt
 *   without `hash` and `signature` (so no field was altered);
 * - its `signature` is a valid ES256 JWS over those bytes (payload detached)
 *   by a key of the key set (so the service issued it);
 * - its `prevHash` is the `hash` of the next one in the list, and its
 *   `version` one more (so none was removed or reordered); the oldest is
 *   version 1, or follows receipts recorded before receipts were signed;
 * - it names the export's user.
 * The newest receipt's version is the consent state's in the export.
 */
import canonicalize from 'canonicalize';
import { flattenedVerify, importJWK } from 'jose';
import type { JWK } from 'jose';
import { fromBase64Url, fromUtf8, toBase64Url, toHex, utf8 } from './encoding';
import { subtle } from './webcrypto';

export interface ChainReceipt {
  readonly userId?: string;
  readonly receiptId: string;
  readonly version: number;
  readonly prevHash: string | null;
  readonly hash: string;
  readonly signature: string | null;
}

export interface KeySet {
  readonly keys: readonly JWK[];
}

export interface ReceiptProblem {
  /** Position in the list as given (0 = the first, the newest in an export). */
  readonly index: number;
  readonly receiptId: string;
  readonly version: number;
  readonly problem:
    'hash-mismatch' | 'bad-signature' | 'unknown-key' | 'unsigned-in-chain' | 'chain-broken' | 'version-gap' | 'wrong-user' | 'not-first' | 'missing-newest';
  readonly detail: string;
}

export interface ChainVerification {
  readonly ok: boolean;
  readonly receipts: number;
  readonly signed: number;
  /** Receipts recorded before receipts were signed: their content is hashed but nothing vouches for it. */
  readonly unsigned: number;
  /** Key ids that signed, newest receipt first. */
  readonly keyIds: readonly string[];
  /**
   * Every problem found; `problems[0]` is where the chain breaks: a receipt
   * whose own hash, signature or user is wrong comes before the broken links
   * around it, then the rest in list order.
   */
  readonly problems: readonly ReceiptProblem[];
}

/** The canonical JSON of a receipt without `hash` and `signature`: the bytes its hash and signature cover. */
export function receiptSigningBytes(receipt: ChainReceipt): Uint8Array {
  const { hash: _hash, signature: _signature, ...content } = receipt;
  const text = canonicalize(content);
  if (text === undefined) throw new Error('A receipt has no canonical form');
  return utf8(text);
}

export async function receiptHashOf(receipt: ChainReceipt): Promise<string> {
  return toHex(new Uint8Array(await subtle().digest('SHA-256', receiptSigningBytes(receipt) as Uint8Array<ArrayBuffer>)));
}

async function checkSignature(
  receipt: ChainReceipt,
  bytes: Uint8Array,
  keys: KeySet,
): Promise<{ ok: true; kid: string } | { ok: false; problem: 'bad-signature' | 'unknown-key'; detail: string }> {
  const parts = String(receipt.signature).split('.');
  if (parts.length !== 3 || parts[1] !== '')
    return { ok: false, problem: 'bad-signature', detail: 'The signature is not a compact JWS with a detached payload' };
  let header: { alg?: unknown; kid?: unknown };
  try {
    const bytes = fromBase64Url(parts[0]!);
    header = JSON.parse((bytes && fromUtf8(bytes)) ?? '') as { alg?: unknown; kid?: unknown };
  } catch {
    return { ok: false, problem: 'bad-signature', detail: 'The JWS header is not JSON' };
  }
  if (header.alg !== 'ES256') return { ok: false, problem: 'bad-signature', detail: 'The JWS is not ES256' };
  const jwk = keys.keys.find((k) => k.kid === header.kid);
  if (!jwk) return { ok: false, problem: 'unknown-key', detail: `No key ${String(header.kid)} in the key set` };
  try {
    const key = await importJWK({ ...jwk, alg: 'ES256' }, 'ES256');
    await flattenedVerify({ protected: parts[0]!, payload: toBase64Url(bytes), signature: parts[2]! }, key, { algorithms: ['ES256'] });
    return { ok: true, kid: String(header.kid) };
  } catch {
    return { ok: false, problem: 'bad-signature', detail: `The signature does not verify with key ${String(header.kid)}` };
  }
}

/**
 * Verifies receipts in chain order, newest first (as `GET /v1/me/export` and
 * `GET /v1/me/consent/history` list them), against a key set.
 */
export async function verifyReceiptChain(
  receipts: readonly ChainReceipt[],
  keys: KeySet,
  options: { readonly userId?: string; readonly currentVersion?: number } = {},
): Promise<ChainVerification> {
  const problems: ReceiptProblem[] = [];
  const keyIds: string[] = [];
  const hashes = await Promise.all(receipts.map(receiptHashOf));
  let signed = 0;
  const add = (index: number, problem: ReceiptProblem['problem'], detail: string) => {
    const r = receipts[index]!;
    problems.push({ index, receiptId: String(r.receiptId), version: Number(r.version), problem, detail });
  };
  if (options.currentVersion !== undefined && (receipts[0]?.version ?? 0) !== options.currentVersion) {
    if (receipts.length > 0)
      add(0, 'missing-newest', `The consent state is at version ${options.currentVersion}, but the newest receipt is version ${receipts[0]!.version}`);
    else
      problems.push({
        index: 0,
        receiptId: '',
        version: 0,
        problem: 'missing-newest',
        detail: `The consent state is at version ${options.currentVersion}, but there are no receipts`,
      });
  }
  for (let i = 0; i < receipts.length; i++) {
    const r = receipts[i]!;
    const older = receipts[i + 1];
    if (options.userId !== undefined && r.userId !== undefined && r.userId !== options.userId) add(i, 'wrong-user', `The receipt is another user's`);
    if (r.hash !== hashes[i]) add(i, 'hash-mismatch', 'The hash does not match the content: the receipt was altered');
    if (r.signature === null || r.signature === undefined) {
      // Recorded before receipts were signed: hashed, vouched for by nothing, never part of the chain.
      if (r.prevHash !== null) add(i, 'chain-broken', 'An unsigned receipt claims a predecessor');
    } else {
      const check = await checkSignature(r, receiptSigningBytes(r), keys);
      if (check.ok) {
        signed += 1;
        if (!keyIds.includes(check.kid)) keyIds.push(check.kid);
      } else add(i, check.problem, check.detail);
    }
    if (older) {
      if (r.version !== older.version + 1) add(i, 'version-gap', `Version ${r.version} follows version ${older.version}`);
      const olderSigned = older.signature !== null && older.signature !== undefined;
      const signedHere = r.signature !== null && r.signature !== undefined;
      if (signedHere && olderSigned && r.prevHash !== hashes[i + 1]) add(i, 'chain-broken', 'prevHash is not the hash of the receipt before it');
      if (signedHere && !olderSigned && r.prevHash !== null) {
        // Chaining to an unsigned receipt: its signature was removed, or the link is wrong.
        if (r.prevHash === hashes[i + 1]) add(i + 1, 'unsigned-in-chain', 'A receipt inside the signed chain has no signature');
        else add(i, 'chain-broken', 'The first signed receipt must start the chain (prevHash null)');
      }
      if (!signedHere && olderSigned) add(i, 'unsigned-in-chain', 'An unsigned receipt follows a signed one');
    } else {
      if (r.prevHash !== null) add(i, 'chain-broken', 'The oldest receipt names a predecessor that is not there');
      if (r.version !== 1) add(i, 'not-first', `The oldest receipt is version ${r.version}, not 1: earlier receipts are missing`);
    }
  }
  // A receipt whose own content or signature is wrong is where the chain breaks; the links it breaks around it follow.
  const own = (p: ReceiptProblem) => (['hash-mismatch', 'bad-signature', 'unknown-key', 'wrong-user', 'unsigned-in-chain'].includes(p.problem) ? 0 : 1);
  const unique = problems
    .filter((p, n) => problems.findIndex((o) => o.index === p.index && o.problem === p.problem) === n)
    .map((p, n) => ({ p, n }))
    .sort((a, b) => own(a.p) - own(b.p) || a.n - b.n)
    .map(({ p }) => p);
  const unsigned = receipts.filter((r) => r.signature === null || r.signature === undefined).length;
  return { ok: unique.length === 0, receipts: receipts.length, signed, unsigned, keyIds, problems: unique };
}

/** An export as `GET /v1/me/export` returns it (the fields verification reads). */
export interface ReceiptExport {
  readonly userId: string;
  readonly consent?: { readonly version?: number };
  readonly consentHistory: readonly ChainReceipt[];
  readonly receiptKeys?: KeySet;
}

/**
 * Verifies an export with only what it holds, or against `keys` given
 * separately (the published `/.well-known/jwks.json`, fetched or saved
 * earlier), which is stronger: the export's own keys vouch only for
 * themselves.
 */
export async function verifyExport(exported: ReceiptExport, keys?: KeySet): Promise<ChainVerification & { readonly keySource: 'given' | 'export' }> {
  const keySet = keys ?? exported.receiptKeys;
  if (!keySet || !Array.isArray(keySet.keys)) throw new Error('No key set: the export carries none (receiptKeys) and none was given');
  if (!Array.isArray(exported.consentHistory)) throw new Error('Not an export: consentHistory is missing');
  const result = await verifyReceiptChain(exported.consentHistory, keySet, {
    userId: exported.userId,
    ...(typeof exported.consent?.version === 'number' ? { currentVersion: exported.consent.version } : {}),
  });
  return { ...result, keySource: keys ? 'given' : 'export' };
}
