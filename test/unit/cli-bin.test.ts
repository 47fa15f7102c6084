/**
 * The `audiences` executable as a user runs it: a child process through
 * cli/bin.cjs (the esbuild bundle), against the fake API. Includes a real interruption: the
 * process is killed while a batch is in flight, then resumed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type FakeApi, startFakeApi } from './cli-fake-api';

const BIN = resolve(__dirname, '../../cli/bin.cjs');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; done: Promise<Exit> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Exit>((resolveExit) => child.on('close', (code, signal) => resolveExit({ code, signal, stdout, stderr })));
  return { child, done };
}

describe('CLI executable', () => {
  jest.setTimeout(60_000);
  let fake: FakeApi;
  let dir: string;
  let csv: string;

  beforeEach(async () => {
    fake = await startFakeApi();
    dir = mkdtempSync(join(tmpdir(), 'cli-bin-'));
    csv = join(dir, 'customers.csv');
    const lines = ['customer,email'];
    for (let i = 1; i <= 50; i += 1) lines.push(`${i},customer${i}@example.com`);
    writeFileSync(csv, `${lines.join('\n')}\n`);
  });
  afterEach(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs through the bin with --json and exit code 0', async () => {
    const { done } = start(['upload', csv, '--audience', 'aud-1', '--country', 'US', '--batch-size', '20', '--json'], { AUDIENCES_API_URL: fake.url });
    const exit = await done;
    expect(exit.code).toBe(0);
    expect(JSON.parse(exit.stdout)).toMatchObject({ rowsUploaded: 50, batches: 3 });
    expect(fake.requests[0]?.path).toBe('/_local/token');
    expect(exit.stdout).not.toContain('@example.com');
  });

  it('ends quietly when its reader goes away (`audiences --help | head -1`)', async () => {
    const { child, done } = start(['--help'], {});
    // The reader takes nothing and closes the pipe before the program writes, as `head` does once it has its lines.
    child.stdout!.destroy();
    const { code, stderr } = await done;
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });

  it('exits 2 on a usage error', async () => {
    const exit = await start(['upload', csv, '--audience', 'aud-1'], { AUDIENCES_API_URL: fake.url }).done;
    expect(exit.code).toBe(2);
  });

  it('resumes a killed upload from the last acknowledged batch, sending no acknowledged batch again', async () => {
    const args = ['upload', csv, '--audience', 'aud-1', '--country', 'US', '--batch-size', '10', '--session', '555', '--json'];
    const env = { AUDIENCES_API_URL: fake.url, AUDIENCES_TOKEN: 't' };
    const first = start(args, env);
    fake.respond = (_request, batch) => {
      if (batch?.batchSeq !== 3) return undefined;
      // Batch 3 is in flight: kill the process before it is answered.
      first.child.kill('SIGKILL');
      return { status: 0, hang: true };
    };
    const firstExit = await first.done;
    expect(firstExit.signal).toBe('SIGKILL');
    expect(fake.batches.map((b) => [b.batchSeq, b.status])).toEqual([
      [1, 202],
      [2, 202],
      [3, 0],
    ]);

    fake.respond = undefined;
    const before = fake.batches.length;
    const second = await start(args, env).done;
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ sessionId: 555, resumed: true, batchesSkipped: 2, batchesSent: 3, rowsUploaded: 50 });
    expect(fake.batches.slice(before).map((b) => [b.batchSeq, b.lastBatch])).toEqual([
      [3, false],
      [4, false],
      [5, true],
    ]);
    const acknowledged = fake.batches.filter((b) => b.status === 202).map((b) => b.batchSeq);
    expect(acknowledged).toEqual([1, 2, 3, 4, 5]);
    expect(fake.batches.filter((b) => b.batchSeq <= 2)).toHaveLength(2);
  });
});
