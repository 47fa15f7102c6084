/**
 * The LocalStack stage (infra/stages.ts `localstack`), for LocalStack's free
 * plan.
 *
 *   npm run deploy:localstack                                  # bootstrap + deploy ConsentAudiences-localstack
 *   npm run -s localstack:token -- --role business --sub flower-shop   # a token for it, valid one hour
 *
 * `deploy` creates the development issuer's key pair on first use
 * (.local/localstack-issuer.json, see infra/localstack/issuer-key.ts), checks
 * that LocalStack answers, then runs `cdklocal bootstrap` and `cdklocal
 * deploy -c stage=localstack`, and prints the `export AUDIENCES_API_URL=...`
 * line for the deployed API. `token` signs a token with that key, as the
 * local stack's `POST /_local/token` does; the stack's authorizer accepts it.
 *
 * LocalStack's address: AWS_ENDPOINT_URL, default http://localhost.localstack.cloud:4566.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROLES, type Role } from '../catalog';
import { ensureIssuerKey, ISSUER_KEY_FILE, readIssuerKey } from '../infra/localstack/issuer-key';
import { LocalIdentity } from '../local/identity';

const ROOT = resolve(__dirname, '..');
const STACK = 'ConsentAudiences-localstack';
const OUTPUTS_FILE = join('.local', 'localstack-outputs.json');
const endpoint = (): string => process.env.AWS_ENDPOINT_URL ?? 'http://localhost.localstack.cloud:4566';

class ScriptError extends Error {}

async function checkLocalStack(): Promise<void> {
  const url = `${endpoint()}/_localstack/health`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  } catch (error) {
    throw new ScriptError(`LocalStack does not answer at ${url} (${(error as Error).message}): start it first (README, "Deploying to LocalStack")`);
  }
}

function cdklocal(args: string[]): void {
  const bin = join(ROOT, 'node_modules', '.bin', 'cdklocal');
  if (!existsSync(bin)) throw new ScriptError('cdklocal (the aws-cdk-local dev dependency) is missing: run `npm ci` first');
  const result = spawnSync(bin, args, { cwd: ROOT, stdio: 'inherit', env: process.env });
  if (result.status !== 0) throw new ScriptError(`cdklocal ${args[0]} failed (exit status ${result.status ?? result.signal})`);
}

async function deploy(): Promise<void> {
  const existed = readIssuerKey(ROOT) !== undefined;
  ensureIssuerKey(ROOT);
  process.stderr.write(`Development issuer key: ${ISSUER_KEY_FILE}${existed ? '' : ' (created)'}\n`);
  await checkLocalStack();
  cdklocal(['bootstrap', '-c', 'stage=localstack']);
  cdklocal(['deploy', STACK, '-c', 'stage=localstack', '--require-approval', 'never', '--outputs-file', OUTPUTS_FILE]);
  const outputs = JSON.parse(readFileSync(join(ROOT, OUTPUTS_FILE), 'utf8')) as Record<string, Record<string, string>>;
  const apiUrl = outputs[STACK]?.ApiUrl;
  if (apiUrl) {
    process.stdout.write(`\nDeployed. For curl and the audiences CLI:\n  export AUDIENCES_API_URL=${apiUrl}\n`);
    process.stdout.write(`Tokens: TOKEN=$(npm run -s localstack:token -- --role user --sub ana)\n`);
  }
}

async function token(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { role: { type: 'string' }, sub: { type: 'string' } }, strict: true });
  if (!values.role || !(ROLES as readonly string[]).includes(values.role)) throw new ScriptError(`--role must be one of ${ROLES.join(', ')}`);
  if (!values.sub || values.sub.length > 128) throw new ScriptError('--sub is required (the caller id, at most 128 characters)');
  const key = readIssuerKey(ROOT);
  if (!key) throw new ScriptError(`No development issuer key in ${ISSUER_KEY_FILE}: run \`npm run deploy:localstack\` first`);
  const identity = await LocalIdentity.create(key);
  process.stdout.write(`${await identity.issue({ sub: values.sub, role: values.role as Role })}\n`);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'deploy') await deploy();
    else if (command === 'token') await token(rest);
    else throw new ScriptError('usage: tsx scripts/localstack.ts deploy | token --role <role> --sub <id>');
    return 0;
  } catch (error) {
    if (error instanceof ScriptError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`localstack: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
