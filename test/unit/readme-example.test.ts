/**
 * How the README's worked example is read and checked (the integration test
 * test/integration/readme-example.test.ts runs it against the local stack).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exampleBlocks, matchesEnd, parseExample } from '../support/readme-example';

const fence = '```';
const readme = (body: string) => `# Title\n\nIntro.\n\n## A worked example\n\n${body}\n## Next section\n\n${fence}sh\nnot-in-the-example\n${fence}\n`;

describe('exampleBlocks', () => {
  it('takes the sh and bash blocks under the heading, up to the next section, and skips other languages', () => {
    const blocks = exampleBlocks(
      readme(`${fence}sh\necho one\n${fence}\n\nText.\n\n${fence}json\n{"a": 1}\n${fence}\n\n${fence}bash\necho two\necho three\n${fence}\n`),
    );
    expect(blocks.map((b) => b.lines)).toEqual([['echo one'], ['echo two', 'echo three']]);
    expect(blocks[0]!.firstLine).toBe(8);
  });

  it('fails without the heading, without blocks, or with an unclosed block', () => {
    expect(() => exampleBlocks('# Title\n')).toThrow(/no "## A worked example" heading/);
    expect(() => exampleBlocks(readme('Only text.\n'))).toThrow(/No sh or bash block/);
    expect(() => exampleBlocks(`## A worked example\n\n${fence}sh\necho\n`)).toThrow(/not closed/);
  });
});

describe('parseExample', () => {
  const body = [
    `${fence}sh`,
    'export AUDIENCES_API_URL=http://127.0.0.1:3000',
    'echo hello   # → hello',
    'printf "a\\nb\\n"',
    '# → a',
    '#   b',
    `${fence}`,
  ].join('\n');

  it('sets the URL, splits the output after each quote and reads continuation lines', () => {
    const example = parseExample(readme(body), 'http://127.0.0.1:4567');
    expect(example.script).toContain('export AUDIENCES_API_URL=http://127.0.0.1:4567\n');
    expect(example.script).not.toContain('3000');
    expect(example.expectations).toEqual([
      { line: 9, lines: ['hello'] },
      { line: 11, lines: ['a', 'b'] },
    ]);
    expect(example.script.split('\n')).toEqual([
      'set -eo pipefail',
      'exec >"$README_OUTPUT_DIR/0.out"',
      'export AUDIENCES_API_URL=http://127.0.0.1:4567',
      'echo hello  ',
      'exec >"$README_OUTPUT_DIR/1.out"',
      'printf "a\\nb\\n"',
      'exec >"$README_OUTPUT_DIR/2.out"',
      '',
    ]);
  });

  it('requires the URL line once and at least one quoted output', () => {
    expect(() => parseExample(readme(`${fence}sh\necho hi   # → hi\n${fence}\n`), 'u')).toThrow(/must set AUDIENCES_API_URL once/);
    expect(() => parseExample(readme(`${fence}sh\nexport AUDIENCES_API_URL=x\necho hi\n${fence}\n`), 'u')).toThrow(/quotes no output/);
  });

  it('reads the README of this repository', () => {
    const example = parseExample(readFileSync(join(__dirname, '../../README.md'), 'utf8'), 'http://127.0.0.1:1');
    expect(example.expectations.length).toBeGreaterThan(10);
    expect(example.script).toContain('export AUDIENCES_API_URL=http://127.0.0.1:1');
  });
});

describe('matchesEnd', () => {
  it('compares the last lines, with … standing for any text on its line', () => {
    expect(matchesEnd('noise\n{"id":"x-1","status":"ready"}\n', ['{"id":"…","status":"ready"}'])).toBe(true);
    expect(matchesEnd('Audience a-1: "Shop"\n  status: ready  \n\n', ['Audience …: "Shop"', '  status: ready'])).toBe(true);
  });

  it('rejects different text, missing lines and … spanning lines', () => {
    expect(matchesEnd('{"status":"processing"}\n', ['{"status":"ready"}'])).toBe(false);
    expect(matchesEnd('one line\n', ['one line', 'two lines'])).toBe(false);
    expect(matchesEnd('a\nb\n', ['a…b'])).toBe(false);
    expect(matchesEnd('', ['anything'])).toBe(false);
    // Regular-expression characters in the quote are literal.
    expect(matchesEnd('{"a":[1]}\n', ['{"a":[.]}'])).toBe(false);
  });
});
