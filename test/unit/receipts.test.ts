import { createHash, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import canonicalize from 'canonicalize';
import { NEVER_DECIDED, gpcDenial } from '../../functions/core/consent';
import { canonicalContent, receiptHash, sealReceipt } from '../../functions/core/receipts';
import type { ReceiptContent } from '../../functions/core/receipts';
import { jwkOf, publicKeyOf, signerOf } from '../../functions/shared/keys';
import { verifyReceiptChain } from '../../client/receipts';
import { catalog } from '../../catalog';

const content = (overrides: Partial<ReceiptContent> = {}): ReceiptContent => ({
  userId: 'ana',
  receiptId: 'r-1',
  version: 1,
  policyVersion: '2016-08-25',
  purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' },
  source: 'notification',
  recordedAt: '2026-11-29T12:00:00.000Z',
  prevHash: null,
  ...overrides,
});

describe('receipt hashes', () => {
  it('are the SHA-256 of the RFC 8785 canonical JSON without hash and signature, whatever the field order', () => {
    const c = content();
    const reordered = Object.fromEntries(Object.entries(c).reverse()) as ReceiptContent;

    expect(canonicalContent(c)).toBe(canonicalize(c));
    expect(canonicalContent({ ...c, hash: 'x', signature: 'y' } as never)).toBe(canonicalize(c));
    expect(receiptHash(reordered)).toBe(createHash('sha256').update(canonicalize(c)!).digest('hex'));
    expect(receiptHash(content({ prevHash: 'a'.repeat(64) }))).not.toBe(receiptHash(c));
  });
});

describe('the receipt key', () => {
  const kms = mockClient(KMSClient);
  afterEach(() => kms.reset());

  it('signs locally with the stack key; the chain verifies in the client library', async () => {
    const signer = await signerOf('receiptSigning');
    const first = await sealReceipt(content(), signer);
    const second = await sealReceipt(content({ receiptId: 'r-2', version: 2, prevHash: first.hash }), signer);

    const result = await verifyReceiptChain([second, first], { keys: [await publicKeyOf('receiptSigning')] });

    expect(result).toMatchObject({ ok: true, signed: 2, keyIds: [signer.kid] });
    expect(first.signature).toMatch(/^[\w-]+\.\.[\w-]{86}$/);
  });

  it('deployed, signs in KMS (ECDSA_SHA_256 over the signing input), the DER signature turned into the JWS r||s form', async () => {
    // Prepare: a KMS key stood in for by a local P-256 key pair.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const env = catalog.keys.receiptSigning.env;
    const saved = process.env[env];
    process.env[env] = 'arn:aws:kms:eu-west-1:123456789012:key/receipts';
    kms.on(GetPublicKeyCommand).resolves({ PublicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })) });
    kms.on(SignCommand).callsFake((input: { Message: Uint8Array; MessageType: string; SigningAlgorithm: string }) => {
      expect(input).toMatchObject({ MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' });
      // KMS hashes the message with SHA-256, signs, and answers in DER.
      return { Signature: new Uint8Array(nodeSign('sha256', Buffer.from(input.Message), { key: privateKey, dsaEncoding: 'der' })) };
    });
    try {
      // Act
      const signer = await signerOf('receiptSigning');
      const receipt = await sealReceipt(content(), signer);
      const jwks = { keys: [await publicKeyOf('receiptSigning')] };
      // Assess
      expect(signer.kid).toBe((await jwkOf(publicKey)).kid);
      expect(kms.commandCalls(SignCommand)[0]!.args[0].input.KeyId).toBe('arn:aws:kms:eu-west-1:123456789012:key/receipts');
      expect(await verifyReceiptChain([receipt], jwks)).toMatchObject({ ok: true, signed: 1 });
    } finally {
      if (saved === undefined) delete process.env[env];
      else process.env[env] = saved;
    }
  });
});

describe('gpcDenial', () => {
  const granted = { version: 4, policyVersion: '2015-01-01', purposes: { ads_targeting: 'granted', friend_suggestions: 'granted' }, updatedAt: 't' } as const;

  it('denies a granted ads_targeting under the policy it was decided under, keeping the other purpose, as the next version', () => {
    expect(gpcDenial(granted, 'r', 'now')).toEqual({
      state: { version: 5, policyVersion: '2015-01-01', purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' }, updatedAt: 'now' },
      receipt: {
        receiptId: 'r',
        version: 5,
        policyVersion: '2015-01-01',
        purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' },
        source: 'gpc',
        recordedAt: 'now',
      },
    });
  });

  it('has nothing to deny for a user who never decided or does not grant ads', () => {
    expect(gpcDenial(NEVER_DECIDED, 'r', 'now')).toBeUndefined();
    expect(gpcDenial({ ...granted, purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' } }, 'r', 'now')).toBeUndefined();
  });
});

describe('verifyReceiptChain, receipts recorded before signing', () => {
  it('accepts unsigned receipts only before the first signed one, which starts the chain', async () => {
    const signer = await signerOf('receiptSigning');
    const legacy = { ...content(), hash: receiptHash(content()), signature: null };
    const firstSigned = await sealReceipt(content({ receiptId: 'r-2', version: 2 }), signer);
    const keys = { keys: [await publicKeyOf('receiptSigning')] };

    expect(await verifyReceiptChain([firstSigned, legacy], keys)).toMatchObject({ ok: true, signed: 1, unsigned: 1 });
    // A signed receipt stripped of its signature inside the chain is caught.
    const second = await sealReceipt(content({ receiptId: 'r-3', version: 3, prevHash: firstSigned.hash }), signer);
    const stripped = await verifyReceiptChain([second, { ...firstSigned, signature: null }, legacy], keys);
    expect(stripped.ok).toBe(false);
    expect(stripped.problems[0]).toMatchObject({ index: 1, problem: 'unsigned-in-chain' });
  });
});
