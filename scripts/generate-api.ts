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
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import * as prettier from 'prettier';
import { apiDocument } from '../functions/contract';

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
  const stale: string[] = [];
  for (const [name, text] of Object.entries(await generatedFiles())) {
    const file = join(dir, name);
    const current = await readFile(file, 'utf8').catch(() => undefined);
    if (current === text) continue;
    if (check) stale.push(relative(process.cwd(), file));
    else await writeFile(file, text);
  }
  if (stale.length > 0) {
    process.stderr.write(`Out of date: ${stale.join(', ')}. Run \`npm run generate:api\` and commit the result.\n`);
    process.exitCode = 1;
  } else if (check) {
    process.stdout.write('The generated API files are up to date.\n');
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
