/**
 * Writes the API description and the client types generated from it, from
 * the route contracts alone (no stack needed):
 *
 * - client/api/openapi.json: the OpenAPI document GET /openapi.json serves;
 * - client/api/schema.ts: its types (openapi-typescript), with the values of
 *   its enums as arrays, for `openapi-fetch` clients.
 *
 * `npm run generate:api` writes them; `-- --check` only compares and exits 1
 * when a committed file differs from what the contracts make now. `--dir <d>`
 * reads and writes the two files in another directory.
 */
import { join, resolve } from 'node:path';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import * as prettier from 'prettier';
import { apiDocument } from '../functions/contract';
import { syncGeneratedFiles } from './generated-files';

const ROOT = resolve(__dirname, '..');
const DIR = join(ROOT, 'client/api');

async function formatted(file: string, text: string): Promise<string> {
  // Formatted as the repository's own files are, wherever they are written.
  const config = (await prettier.resolveConfig(join(DIR, 'index.ts'))) ?? {};
  return prettier.format(text, { ...config, filepath: file });
}

/** The two files as the contracts make them now, by name. */
export async function generatedFiles(): Promise<Record<string, string>> {
  const document = apiDocument();
  const types = await openapiTS(document as unknown as Parameters<typeof openapiTS>[0], { enumValues: true, silent: true });
  return {
    'openapi.json': await formatted('openapi.json', JSON.stringify(document)),
    'schema.ts': await formatted(
      'schema.ts',
      `${COMMENT_HEADER.replace(/\n+$/, '')}\n// Generated from the route contracts (functions/contract) by \`npm run generate:api\`, as client/api/openapi.json is.\n\n${astToString(types)}`,
    ),
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const dirAt = args.indexOf('--dir');
  const dir = dirAt >= 0 && args[dirAt + 1] ? resolve(args[dirAt + 1]!) : DIR;
  const files = Object.fromEntries(Object.entries(await generatedFiles()).map(([name, text]) => [join(dir, name), text]));
  await syncGeneratedFiles(files, { check, command: 'npm run generate:api', what: 'The generated API files are' });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
