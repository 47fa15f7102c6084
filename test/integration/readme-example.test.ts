/**
 * The README's worked example, extracted from the README itself and run as
 * written: its `sh` blocks as one bash script against `npm start` on a free
 * port, every output it quotes (`# → …`) compared with what the commands
 * print. The rules for writing the example (what is extracted, how quoted
 * outputs and `…` work) are at the top of test/support/readme-example.ts;
 * follow them and a changed example needs no change here.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { matchesEnd, parseExample } from '../support/readme-example';
import { REPO_ROOT, spawnStack, type StackProcess } from './support';

jest.setTimeout(300_000);

const EXAMPLES = join(REPO_ROOT, 'examples');
const stateFiles = () => readdirSync(EXAMPLES).filter((name) => name.startsWith('.audiences-'));

let stack: StackProcess;
let outputDir: string;
let before: string[];

beforeAll(async () => {
  stack = await spawnStack({ viaNpmStart: true });
  outputDir = mkdtempSync(join(tmpdir(), 'readme-example-'));
  before = stateFiles();
});

afterAll(async () => {
  await stack?.stop();
  if (outputDir) rmSync(outputDir, { recursive: true, force: true });
  // The example's upload leaves its resume state next to the CSV; remove what this run added.
  for (const name of stateFiles()) if (!before.includes(name)) rmSync(join(EXAMPLES, name), { force: true });
});

function runBash(scriptPath: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [scriptPath], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, README_OUTPUT_DIR: outputDir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

it('has what the example uses: bash, curl and jq', () => {
  const missing = ['bash', 'curl', 'jq'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  expect({ missing, hint: 'on Debian or Ubuntu: sudo apt-get install curl jq' }).toEqual({ missing: [], hint: expect.any(String) });
});

it('runs the worked example as written and prints every output it quotes', async () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const example = parseExample(readme, stack.url);
  const scriptPath = join(outputDir, 'example.sh');
  writeFileSync(scriptPath, example.script);

  const { code, stderr } = await runBash(scriptPath);
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });

  const mismatches = example.expectations.flatMap((expectation, n) => {
    const printed = readFileSync(join(outputDir, `${n}.out`), 'utf8');
    return matchesEnd(printed, expectation.lines) ? [] : [{ readmeLine: expectation.line, quoted: expectation.lines.join('\n'), printed: printed.trimEnd() }];
  });
  expect(mismatches).toEqual([]);
  expect(example.expectations.length).toBeGreaterThan(10);
});
