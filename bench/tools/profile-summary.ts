/**
 * Summarises a V8 CPU profile (`node --cpu-prof`) by self time: the functions
 * where the time actually goes, with file and line, and the share of the total;
 * or, with `--by-place`, by npm package or source folder.
 *
 *   npx tsx bench/tools/profile-summary.ts CPU.*.cpuprofile [top=30] [--by-place]
 *
 * Profiles of code run through tsx show line numbers of the transformed file;
 * bundle first (npx esbuild <entry> --bundle --platform=node --outfile=x.js)
 * for exact lines.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export type Grouping = 'function' | 'place';

/** An npm package, `node internals`, or the first two folders of a source file. */
function placeOf(file: string, functionName: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1];
  if (pkg) return pkg;
  if (file.startsWith('node:')) return 'node internals';
  return file ? file.split('/').slice(0, 2).join('/') : functionName || '(anonymous)';
}

export function summarize(profile: Profile, top: number, by: Grouping = 'function'): { totalMs: number; rows: { where: string; ms: number; share: number }[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.startsWith('file://') ? relative(process.cwd(), new URL(url).pathname) : url;
    const where = by === 'place' ? placeOf(file, functionName) : `${functionName || '(anonymous)'} ${file}${file ? `:${lineNumber + 1}` : ''}`;
    self.set(where, (self.get(where) ?? 0) + dt);
  });
  const rows = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([where, us]) => ({ where, ms: us / 1000, share: us / total }));
  return { totalMs: total / 1000, rows };
}

/** The summary as text: one line a row. */
export function summaryText(profile: Profile, top: number, by: Grouping = 'function'): string {
  const { totalMs, rows } = summarize(profile, top, by);
  return `total ${totalMs.toFixed(0)} ms sampled\n${rows.map((r) => `${r.ms.toFixed(1).padStart(9)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.where}\n`).join('')}`;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const [file, topRaw] = args.filter((a) => !a.startsWith('--'));
  if (!file) {
    process.stderr.write('usage: npx tsx bench/tools/profile-summary.ts <file.cpuprofile> [top] [--by-place]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  process.stdout.write(summaryText(profile, Number(topRaw ?? 30), args.includes('--by-place') ? 'place' : 'function'));
}
