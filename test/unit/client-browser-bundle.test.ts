/**
 * The client library's browser entry (client/index.ts) bundles for
 * `platform: 'browser'` with no Node module, and the bundle runs in a bare
 * JavaScript realm given only what browsers have (WebCrypto, TextEncoder,
 * TextDecoder, atob, btoa, typed arrays): no require, process or Buffer. There it
 * generates a non-extractable key, seals, opens, and hashes as Node does.
 */
import { createHash } from 'node:crypto';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { build, type Metafile } from 'esbuild';
import type * as Client from '../../client';
import { open as openInNode } from '../../client';

const ENTRY = join(__dirname, '../../client/index.ts');
const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

let code: string;
let metafile: Metafile;

beforeAll(async () => {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'ConsentAudiencesClient',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  code = result.outputFiles[0]!.text;
  metafile = result.metafile;
});

describe('the browser bundle', () => {
  it('leaves out the Node-only modules of the library', () => {
    const inputs = Object.keys(metafile.inputs);
    expect(inputs).toContain('client/hpke.ts');
    expect(inputs).toContain('client/keystore.ts');
    expect(inputs).toContain('client/hashing.ts');
    for (const nodeOnly of ['client/keyfile.ts', 'client/hashing-node.ts', 'client/node.ts']) expect(inputs).not.toContain(nodeOnly);
  });

  it('imports no Node module, statically or otherwise, except a dependency’s guarded fallback for Node ≤ 18', () => {
    const nodeImports = Object.entries(metafile.inputs).flatMap(([input, { imports }]) =>
      imports.filter((i) => NODE_BUILTINS.has(i.path) || i.path.startsWith('node:')).map((i) => ({ input, path: i.path, kind: i.kind })),
    );
    // @hpke/common loads WebCrypto with `await import("crypto")` only when globalThis.crypto is missing (Node ≤ 18); browsers never reach it.
    for (const found of nodeImports) {
      expect(found).toEqual({ input: expect.stringMatching(/^node_modules\/@hpke\/common\//), path: 'crypto', kind: 'dynamic-import' });
    }
    for (const input of Object.keys(metafile.inputs)) expect(input).not.toMatch(/^client\/.*node/);
    const output = Object.values(metafile.outputs)[0]!;
    expect(output.imports.every((i) => i.kind === 'dynamic-import' && i.path === 'crypto')).toBe(true);
    expect(code).not.toMatch(/\brequire\(/);
  });

  it('runs in a realm with only browser globals: keys, seal, open and hashing', async () => {
    // Node's WebCrypto accepts only its own realm's ArrayBuffer, so the realm shares the host's binary types.
    const binary = { ArrayBuffer, DataView, Uint8Array, Uint16Array, Uint32Array, Int8Array, Int16Array, Int32Array, BigUint64Array, BigInt64Array };
    const realm = createContext({ crypto: globalThis.crypto, TextEncoder, TextDecoder, atob, btoa, ...binary });
    expect(runInContext('[typeof require, typeof process, typeof Buffer, typeof module]', realm)).toEqual(['undefined', 'undefined', 'undefined', 'undefined']);
    const client = runInContext(`${code}\nConsentAudiencesClient`, realm) as typeof Client;

    const device = await client.generateKeyPair();
    expect(device.privateKey.extractable).toBe(false);
    const publicKey = await client.publicKeyOf(device);
    const ciphertext = await client.seal(publicKey, { text: 'Sealed in a browser 🌷' });
    expect(await client.open(device, ciphertext)).toEqual({ text: 'Sealed in a browser 🌷' });
    // The Node build of the library opens what the browser build sealed.
    expect(await openInNode(device, ciphertext)).toEqual({ text: 'Sealed in a browser 🌷' });

    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    expect(client.normalisePhoneCell('(415) 555-0123', 'US')).toBe('+14155550123');
    expect(await client.phoneSha256('+14155550123')).toBe(sha('14155550123'));
    expect(await client.emailCellSha256('  Ana@Example.COM ')).toBe(sha('ana@example.com'));
    expect(await client.emailCellSha256('not an address')).toBeUndefined();
  });
});
