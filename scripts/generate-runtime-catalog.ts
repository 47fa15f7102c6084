/**
 * Writes functions/shared/catalog.generated.ts: the part of the catalog a
 * function reads at run time (the environment variable of each resource and
 * setting, and each HTTP route's roles), as plain data. Functions import it
 * instead of the catalog, which would put every function's description (about
 * 26 KB) in every bundle.
 *
 * `npm run generate:catalog` writes it; `-- --check` only compares and exits 1
 * when the committed file differs from what the catalog makes now
 * (test/unit/runtime-catalog.test.ts runs that). `--file <f>` reads and
 * writes another file.
 */
import { join, resolve } from 'node:path';
import * as prettier from 'prettier';
import { catalog, deadLetterQueueEnv, isUserRouteOfMe } from '../catalog';
import type { RuntimeRoute } from '../catalog';
import { syncGeneratedFiles } from './generated-files';

const ROOT = resolve(__dirname, '..');
const RUNTIME_CATALOG_FILE = join(ROOT, 'functions/shared/catalog.generated.ts');

const mapValues = <T, U>(record: Readonly<Record<string, T>>, f: (value: T) => U): Record<string, U> =>
  Object.fromEntries(Object.entries(record).map(([name, value]) => [name, f(value)]));

const literal = (value: unknown) => JSON.stringify(value, null, 2);

/** The file as the catalog makes it now. */
async function runtimeCatalogText(): Promise<string> {
  const routes: Record<string, RuntimeRoute> = {};
  for (const [name, spec] of Object.entries(catalog.functions)) {
    if (spec.trigger.kind === 'http') routes[name] = { auth: spec.trigger.auth, userRouteOfMe: isUserRouteOfMe(spec.trigger) };
    // API Gateway's $default route: whatever matches no route, answered without a caller.
    if (spec.trigger.kind === 'http-default') routes[name] = { auth: 'public', userRouteOfMe: false };
  }
  const section = (comment: string, name: string, type: string, value: unknown) =>
    `/** ${comment} */\nexport const ${name} = ${literal(value)} as const satisfies ${type};\n`;
  const text = [
    '// Generated from catalog/ by `npm run generate:catalog`; test/unit/runtime-catalog.test.ts fails when it is stale.',
    '// What a function reads of the catalog at run time, as plain data, so that no bundle carries the catalog itself.',
    "import type { FunctionName, KeyName, QueueName, RuntimeRoute, SecretName, SettingName, TableName, TopicName } from '../../catalog';",
    '',
    section(
      'Environment variable holding each table name.',
      'tableEnv',
      'Record<TableName, string>',
      mapValues(catalog.tables, (t) => t.env),
    ),
    section(
      'Environment variable holding each topic ARN.',
      'topicEnv',
      'Record<TopicName, string>',
      mapValues(catalog.topics, (t) => t.env),
    ),
    section(
      "Environment variables holding each queue's URL and its dead-letter queue's URL.",
      'queueEnv',
      'Record<QueueName, { env: string; deadLetterEnv: string }>',
      mapValues(catalog.queues, (q) => ({ env: q.env, deadLetterEnv: deadLetterQueueEnv(q.env) })),
    ),
    section(
      'Environment variables of each secret: its ARN when deployed, its value in the local stack.',
      'secretEnv',
      'Record<SecretName, { env: string; localEnv: string }>',
      mapValues(catalog.secrets, (s) => ({ env: s.env, localEnv: s.localEnv })),
    ),
    section(
      'Environment variables of each key: its ARN when deployed, its material in the local stack.',
      'keyEnv',
      'Record<KeyName, { env: string; localEnv: string }>',
      mapValues(catalog.keys, (k) => ({ env: k.env, localEnv: k.localEnv })),
    ),
    section(
      'Environment variable holding each setting.',
      'settingEnv',
      'Record<SettingName, string>',
      mapValues(catalog.settings, (s) => s.env),
    ),
    section(
      'Each HTTP route (and the default route): the roles that may call it, and whether it is a user route under /v1/me (Global Privacy Control).',
      'httpRoutes',
      'Partial<Record<FunctionName, RuntimeRoute>>',
      routes,
    ),
  ].join('\n');
  const config = (await prettier.resolveConfig(RUNTIME_CATALOG_FILE)) ?? {};
  return prettier.format(text, { ...config, filepath: RUNTIME_CATALOG_FILE });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const fileAt = args.indexOf('--file');
  const file = fileAt >= 0 && args[fileAt + 1] ? resolve(args[fileAt + 1]!) : RUNTIME_CATALOG_FILE;
  await syncGeneratedFiles({ [file]: await runtimeCatalogText() }, { check, command: 'npm run generate:catalog', what: 'The runtime catalog is' });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
