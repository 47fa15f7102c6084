/**
 * `npm run grants [-- <template.json>]`: prints the grant matrix (function ×
 * table or secret → actions) of a synthesized template. Without an argument
 * it synthesizes the dev stage's template first (`cdk synth`, no AWS account
 * needed); `-- cdk.out/ConsentAudiences-prod.template.json` reads one you
 * synthesized yourself (e.g. `npx cdk synth -q -c stage=prod`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatGrantMatrix, grantMatrix } from '../infra/grants';
import type { Template } from '../infra/grants';

function main(): void {
  let file = process.argv[2];
  if (!file) {
    execFileSync('npx', ['cdk', 'synth', '-q'], { stdio: ['ignore', 'ignore', 'inherit'] });
    file = 'cdk.out/ConsentAudiences-dev.template.json';
  }
  const path = resolve(file);
  if (!existsSync(path)) {
    process.stderr.write(`No template at ${file}; synthesize one with npx cdk synth -q\n`);
    process.exit(2);
  }
  const template = JSON.parse(readFileSync(path, 'utf8')) as Template;
  process.stdout.write(`${formatGrantMatrix(grantMatrix(template))}\n`);
}

main();
