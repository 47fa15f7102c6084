/**
 * Proof of consent on the local stack: receipts chained and signed, checked
 * offline with only an export and the published key set; every tampering
 * with an export caught, naming the receipt; Global Privacy Control both
 * ways.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import { compactVerify, importJWK } from 'jose';
import { verifyExport, type ChainReceipt, type KeySet } from '../../client/receipts';
import { api, REPO_ROOT, settle, stackUrl, type JsonBody } from './support';
import { createUser, ensurePolicy } from './support/users';

async function decide(token: string, purposes: Record<string, string | undefined>, headers: Record<string, string> = {}) {
  return api('PUT', '/v1/me/consent', { token, headers, body: { policyVersion: await ensurePolicy(), purposes, source: 'settings' } });
}

async function exportOf(token: string): Promise<JsonBody> {
  const res = await api('GET', '/v1/me/export', { token });
  expect(res.status).toBe(200);
  return res.json;
}

async function publishedKeys(): Promise<KeySet> {
  const res = await api('GET', '/.well-known/jwks.json');
  expect(res.status).toBe(200);
  expect(res.headers['cache-control']).toBe('public, max-age=300');
  return res.json;
}

describe('signed, hash-chained receipts', () => {
  let user: Awaited<ReturnType<typeof createUser>>;
  let exported: Awaited<ReturnType<typeof exportOf>>;
  let jwks: KeySet;

  beforeAll(async () => {
    user = await createUser();
    for (const purposes of [{ ads_targeting: 'granted', friend_suggestions: 'denied' }, { friend_suggestions: 'granted' }, { ads_targeting: 'denied' }]) {
      expect((await decide(user.token, purposes)).status).toBe(200);
    }
    exported = await exportOf(user.token);
    jwks = await publishedKeys();
  });

  it("chains a user's three decisions, newest first, each to the one before, all signed by a published key", async () => {
    const [third, second, first] = exported.consentHistory;

    expect(exported.consentHistory.map((r: ChainReceipt) => r.version)).toEqual([3, 2, 1]);
    expect(first!.prevHash).toBeNull();
    expect(second!.prevHash).toBe(first!.hash);
    expect(third!.prevHash).toBe(second!.hash);
    expect(new Set(exported.consentHistory.map((r: ChainReceipt) => r.userId))).toEqual(new Set([user.userId]));
    expect(exported.receiptKeys).toEqual(jwks);
    // The history route shows the same receipts.
    expect((await api('GET', '/v1/me/consent/history', { token: user.token })).json.items).toEqual(exported.consentHistory);
  });

  it('verifies offline against the published key set, with any JOSE library too', async () => {
    const result = await verifyExport(exported, jwks);

    expect(result).toMatchObject({ ok: true, receipts: 3, signed: 3, unsigned: 0, keySource: 'given', problems: [] });
    expect(result.keyIds).toEqual([jwks.keys[0]!.kid]);
    // Independently: re-attach the canonical payload to the detached JWS and verify it with jose.
    const receipt = exported.consentHistory[0]!;
    const [header, , signature] = receipt.signature!.split('.');
    const { hash: _h, signature: _s, ...content } = receipt;
    const canonical = canonicalize(content)!;
    const key = await importJWK(jwks.keys[0]!, 'ES256');
    const { payload } = await compactVerify(`${header}.${Buffer.from(canonical).toString('base64url')}.${signature}`, key);
    expect(Buffer.from(payload).toString('utf8')).toBe(canonical);
    expect(receipt.hash).toBe(createHash('sha256').update(canonical).digest('hex'));
  });

  const copy = (): JsonBody => structuredClone(exported);

  it.each([
    ['altering the purposes of the oldest receipt', (e: JsonBody) => void (e.consentHistory[2].purposes.ads_targeting = 'denied'), 2, 'hash-mismatch'],
    [
      'altering the time of the middle receipt and recomputing its hash',
      (e: JsonBody) => {
        const r = e.consentHistory[1] as ChainReceipt & { recordedAt: string; hash: string };
        r.recordedAt = '2016-01-01T00:00:00.000Z';
        const { hash: _h, signature: _s, ...content } = r;
        r.hash = createHash('sha256').update(canonicalize(content)!).digest('hex');
      },
      1,
      'bad-signature',
    ],
    ['changing the source of the newest receipt', (e: JsonBody) => void (e.consentHistory[0].source = 'notification'), 0, 'hash-mismatch'],
  ])('catches %s, naming the receipt', async (_what, tamper, index, problem) => {
    const tampered = copy();
    tamper(tampered);

    const result = await verifyExport(tampered, jwks);

    expect(result.ok).toBe(false);
    expect(result.problems[0]).toMatchObject({ index, receiptId: exported.consentHistory[index]!.receiptId, problem });
  });

  it('catches a removed receipt: the middle one, the oldest one, or the newest one', async () => {
    const middle = copy();
    middle.consentHistory.splice(1, 1);
    const oldest = copy();
    oldest.consentHistory.splice(2, 1);
    const newest = copy();
    newest.consentHistory.splice(0, 1);

    const [m, o, n] = (await Promise.all([middle, oldest, newest].map((e) => verifyExport(e, jwks)))) as [JsonBody, JsonBody, JsonBody];

    expect(m.problems[0]).toMatchObject({ index: 0, version: 3, problem: 'version-gap' });
    expect(m.problems).toEqual(expect.arrayContaining([expect.objectContaining({ index: 0, problem: 'chain-broken' })]));
    expect(o.problems[0]).toMatchObject({ index: 1, version: 2, problem: 'chain-broken' });
    expect(n.problems[0]).toMatchObject({ index: 0, version: 2, problem: 'missing-newest' });
  });

  it('catches reordered receipts', async () => {
    const swapped = copy();
    [swapped.consentHistory[0], swapped.consentHistory[1]] = [swapped.consentHistory[1]!, swapped.consentHistory[0]!];
    const oldestFirst = copy();
    oldestFirst.consentHistory.reverse();

    const [s, r] = await Promise.all([verifyExport(swapped, jwks), verifyExport(oldestFirst, jwks)]);

    expect(s.ok).toBe(false);
    expect(s.problems[0]).toMatchObject({ index: 0, version: 2 });
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatchObject({ index: 0, version: 1 });
  });

  it('refuses a receipt signed by a key that is not in the published set, and a key set that does not match', async () => {
    const { generateKeyPair, exportJWK, calculateJwkThumbprint } = await import('jose');
    const { publicKey } = await generateKeyPair('ES256');
    const stranger = { ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig' };
    const strangerSet = { keys: [{ ...stranger, kid: jwks.keys[0]!.kid }] };

    const result = await verifyExport(exported, strangerSet);

    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.problem)).toEqual(['bad-signature', 'bad-signature', 'bad-signature']);
    expect(await calculateJwkThumbprint(stranger)).not.toBe(jwks.keys[0]!.kid);
  });

  it('`audiences verify` checks the export file against the published keys, and names the receipt that breaks it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'verify-'));
    try {
      writeFileSync(join(dir, 'export.json'), JSON.stringify(exported));
      const tampered = copy();
      tampered.consentHistory[1].policyVersion = '2015-01-01';
      writeFileSync(join(dir, 'tampered.json'), JSON.stringify(tampered));
      const run = (file: string) =>
        spawnSync(process.execPath, [join(REPO_ROOT, 'cli/bin.cjs'), 'verify', join(dir, file), '--jwks', `${stackUrl()}/.well-known/jwks.json`], {
          encoding: 'utf8',
        });

      const good = run('export.json');
      const bad = run('tampered.json');

      expect({ status: good.status, out: good.stdout }).toEqual({ status: 0, out: expect.stringContaining('All 3 receipts verify') });
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain(`the chain breaks at receipt 2 of 3 (version 2, id ${exported.consentHistory[1]!.receiptId})`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the chain under concurrent decisions', () => {
  it('stays one line: every recorded decision chains to the one recorded before it, none to the same predecessor', async () => {
    const user = await createUser({ ads: 'granted' });
    const choices = ['granted', 'denied', 'granted', 'denied', 'granted', 'denied'] as const;

    const answers = await Promise.all(choices.map((c, n) => decide(user.token, n % 2 ? { friend_suggestions: c } : { ads_targeting: c })));

    // Each answer is a receipt or a 409 (another decision won every retry); none is anything else.
    expect(answers.every((a) => a.status === 200 || a.status === 409)).toBe(true);
    const recorded = answers.filter((a) => a.status === 200).length;
    const exported = await exportOf(user.token);
    expect(exported.consentHistory).toHaveLength(1 + recorded);
    expect(new Set(exported.consentHistory.map((r: ChainReceipt) => r.prevHash)).size).toBe(exported.consentHistory.length);
    expect(await verifyExport(exported, await publishedKeys())).toMatchObject({ ok: true, receipts: 1 + recorded });
  });
});

describe('Global Privacy Control', () => {
  it('a request with Sec-GPC: 1 from a user who grants ads records one denial (source gpc), through the fan-out, however many requests carry it', async () => {
    const user = await createUser({ ads: 'granted', friends: 'granted' });
    await settle();
    const operator = (await api('POST', '/_local/token', { body: { role: 'operator', sub: 'op-gpc' } })).json.token;

    // Reading routes, at once: the history, the consent, the inbox.
    const responses = await Promise.all(
      ['/v1/me/consent/history', '/v1/me/consent', '/v1/me/messages', '/v1/me/consent', '/v1/me/export'].map((path) =>
        api('GET', path, { token: user.token, headers: { 'Sec-GPC': '1' } }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    await settle();

    const history = (await api('GET', '/v1/me/consent/history', { token: user.token })).json.items as JsonBody[];
    expect(history.map((r) => [r.version, r.source])).toEqual([
      [2, 'gpc'],
      [1, 'notification'],
    ]);
    expect(history[0]).toMatchObject({ purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' }, prevHash: history[1]!.hash });
    expect((await api('GET', '/v1/me/consent', { token: user.token })).json.purposes.ads_targeting).toBe('denied');
    // The same fan-out as any denial: the user is in no audience for ad delivery.
    expect((await api('GET', `/v1/ops/users/${user.userId}/audiences`, { token: operator })).json).toEqual({ items: [] });
    // Once denied, the signal records nothing more.
    await api('GET', '/v1/me/consent', { token: user.token, headers: { 'Sec-GPC': '1' } });
    await settle();
    expect((await api('GET', '/v1/me/consent/history', { token: user.token })).json.items).toHaveLength(2);
    expect((await verifyExport(await exportOf(user.token), await publishedKeys())).ok).toBe(true);
  });

  it('PUT /v1/me/consent granting ads_targeting with Sec-GPC: 1 answers 409 gpc-conflict and records nothing', async () => {
    const user = await createUser({ friends: 'granted' });

    const res = await decide(user.token, { ads_targeting: 'granted' }, { 'Sec-GPC': '1' });

    expect(res.status).toBe(409);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json.type).toMatch(/gpc-conflict$/);
    expect((await api('GET', '/v1/me/consent/history', { token: user.token })).json.items).toHaveLength(1);
    // Without the signal, the same grant is the user's to make.
    expect((await decide(user.token, { ads_targeting: 'granted' })).status).toBe(200);
  });

  it('PUT /v1/me/consent with Sec-GPC: 1 that leaves ads_targeting out denies it first, in the same request, then records the decision', async () => {
    const user = await createUser({ ads: 'granted' });

    const res = await decide(user.token, { friend_suggestions: 'granted' }, { 'Sec-GPC': '1' });

    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ version: 3, purposes: { ads_targeting: 'denied', friend_suggestions: 'granted' }, source: 'settings' });
    const history = (await api('GET', '/v1/me/consent/history', { token: user.token })).json.items as JsonBody[];
    expect(history.map((r) => r.source)).toEqual(['settings', 'gpc', 'notification']);
  });

  it('Sec-GPC: 0 or a user who does not grant ads records nothing', async () => {
    const granted = await createUser({ ads: 'granted' });
    const denied = await createUser({ ads: 'denied' });

    await api('GET', '/v1/me/consent', { token: granted.token, headers: { 'Sec-GPC': '0' } });
    await api('GET', '/v1/me/consent', { token: denied.token, headers: { 'Sec-GPC': '1' } });
    await settle();

    expect((await api('GET', '/v1/me/consent/history', { token: granted.token })).json.items).toHaveLength(1);
    expect((await api('GET', '/v1/me/consent/history', { token: denied.token })).json.items).toHaveLength(1);
  });
});
