/**
 * The README's worked example as a script, and the outputs it quotes.
 *
 * How the example is read (keep the README to these rules and the test runs
 * whatever the example becomes):
 *
 * - The example is every fenced `sh` or `bash` block after the heading
 *   `## A worked example` and before the next `## ` heading, in order. The
 *   blocks run as ONE bash script (`set -eo pipefail`), so variables and
 *   functions carry over, from the repository root.
 * - A quoted output is a comment starting with `# → `, either at the end of a
 *   command's line or on a line of its own after the command. Lines right
 *   below it that start with `#   ` (a hash and three spaces, so their text
 *   lines up with the text after `# → `) continue it, one line of output each.
 * - A quoted output must match the last lines printed (on stdout) by the
 *   commands since the previous quoted output: earlier lines are not
 *   checked, so a command whose output does not matter needs no quote.
 * - In a quoted output, `…` stands for any text on its line (ids, times);
 *   everything else must be equal, trailing spaces aside.
 * - The line `export AUDIENCES_API_URL=…` is given the URL of the stack under
 *   test; it must be there, once.
 */

export const EXAMPLE_HEADING = '## A worked example';
export const URL_VARIABLE = 'AUDIENCES_API_URL';

export interface Expectation {
  /** 1-based line number in the README of the `# →` comment. */
  readonly line: number;
  /** The quoted output, one entry per line. */
  readonly lines: readonly string[];
}

export interface ReadmeExample {
  /** The bash script: the blocks, with the URL set and an output boundary after each quoted output. */
  readonly script: string;
  readonly expectations: readonly Expectation[];
}

const ARROW = /^(.*?)(?:^|\s)# → (.*)$/;
const CONTINUATION = /^\s*# {3}(.*)$/;

/** The worked example's blocks with the README line number of each block's first line. */
export function exampleBlocks(readme: string): { firstLine: number; lines: string[] }[] {
  const all = readme.split('\n');
  const start = all.findIndex((line) => line.trim() === EXAMPLE_HEADING);
  if (start < 0) throw new Error(`The README has no "${EXAMPLE_HEADING}" heading`);
  const blocks: { firstLine: number; lines: string[] }[] = [];
  let current: { firstLine: number; lines: string[] } | undefined;
  let fence: string | undefined;
  for (let i = start + 1; i < all.length; i++) {
    const line = all[i]!;
    if (!current && /^## /.test(line)) break;
    if (!current) {
      const open = /^(```+)\s*(sh|bash)\s*$/.exec(line);
      if (open) {
        fence = open[1];
        current = { firstLine: i + 2, lines: [] };
      } else if (/^```/.test(line)) {
        // A block in another language: skip to its end.
        const close = all.findIndex((l, j) => j > i && /^```+\s*$/.test(l));
        i = close < 0 ? all.length : close;
      }
      continue;
    }
    if (line.trim() === fence) {
      blocks.push(current);
      current = undefined;
      continue;
    }
    current.lines.push(line);
  }
  if (current) throw new Error(`The block starting on README line ${current.firstLine - 1} is not closed`);
  if (blocks.length === 0) throw new Error(`No sh or bash block under "${EXAMPLE_HEADING}"`);
  return blocks;
}

/**
 * The script and its expectations. Each quoted output ends an output segment:
 * the script switches stdout to the next segment's file there
 * (`exec >"$README_OUTPUT_DIR/<n>.out"`), so segment n holds what the
 * commands before expectation n printed since expectation n-1.
 */
export function parseExample(readme: string, url: string): ReadmeExample {
  const expectations: Expectation[] = [];
  const script: string[] = ['set -eo pipefail', 'exec >"$README_OUTPUT_DIR/0.out"'];
  let urlLines = 0;
  for (const block of exampleBlocks(readme)) {
    const { lines, firstLine } = block;
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i]!;
      if (new RegExp(`^\\s*export ${URL_VARIABLE}=`).test(line)) {
        line = line.replace(new RegExp(`^(\\s*export ${URL_VARIABLE}=)\\S*`), `$1${url}`);
        urlLines += 1;
      }
      const arrow = ARROW.exec(line);
      if (!arrow) {
        script.push(line);
        continue;
      }
      const at = i;
      const quoted = [arrow[2]!];
      while (i + 1 < lines.length && CONTINUATION.test(lines[i + 1]!)) quoted.push(CONTINUATION.exec(lines[++i]!)![1]!);
      if (arrow[1]!.trim() !== '') script.push(arrow[1]!);
      expectations.push({ line: firstLine + at, lines: quoted });
      script.push(`exec >"$README_OUTPUT_DIR/${expectations.length}.out"`);
    }
  }
  if (urlLines !== 1) throw new Error(`The worked example must set ${URL_VARIABLE} once (export ${URL_VARIABLE}=...); it does ${urlLines} times`);
  if (expectations.length === 0) throw new Error('The worked example quotes no output (# → ...)');
  return { script: `${script.join('\n')}\n`, expectations };
}

/** A quoted line as a regular expression: `…` is any text, the rest literal. */
function linePattern(quoted: string): RegExp {
  const escaped = quoted
    .trimEnd()
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*?')}$`);
}

/** Whether the output ends with the quoted lines (trailing blank lines and trailing spaces aside). */
export function matchesEnd(output: string, quoted: readonly string[]): boolean {
  const lines = output.split('\n').map((l) => l.trimEnd());
  while (lines.length > 0 && lines.at(-1) === '') lines.pop();
  if (lines.length < quoted.length) return false;
  const tail = lines.slice(lines.length - quoted.length);
  return quoted.every((q, i) => linePattern(q).test(tail[i]!));
}
