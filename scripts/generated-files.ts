import { readFile, writeFile } from 'node:fs/promises';
import { relative } from 'node:path';

/**
 * Writes generated files whose text changed; with `check`, writes nothing and
 * reports the stale ones on stderr (exit code 1) instead. `command` is the
 * npm script that regenerates them; `what` names them in the all-clear line.
 */
export async function syncGeneratedFiles(files: Readonly<Record<string, string>>, options: { check: boolean; command: string; what: string }): Promise<void> {
  const stale: string[] = [];
  for (const [file, text] of Object.entries(files)) {
    const current = await readFile(file, 'utf8').catch(() => undefined);
    if (current === text) continue;
    if (options.check) stale.push(relative(process.cwd(), file));
    else await writeFile(file, text);
  }
  if (stale.length > 0) {
    process.stderr.write(`Out of date: ${stale.join(', ')}. Run \`${options.command}\` and commit the result.\n`);
    process.exitCode = 1;
  } else if (options.check) {
    process.stdout.write(`${options.what} up to date.\n`);
  }
}
