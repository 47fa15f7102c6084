/**
 * Summarises a V8 CPU profile (`node --cpu-prof`) by self time: the functions
 * where the time actually goes, with file and line, and the share of the total.
 *
 *   npx tsx bench/tools/profile-summary.ts CPU.*.cpuprofile [top=30]
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
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function summarize(profile: Profile, top: number): { totalMs: number; rows: { where: string; ms: number; share: number }[] } {
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
    const where = `${functionName || '(anonymous)'} ${file}${file ? `:${lineNumber + 1}` : ''}`;
    self.set(where, (self.get(where) ?? 0) + dt);
  });
  const rows = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([where, us]) => ({ where, ms: us / 1000, share: us / total }));
  return { totalMs: total / 1000, rows };
}

if (require.main === module) {
  const [file, topRaw] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: npx tsx bench/tools/profile-summary.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const { totalMs, rows } = summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(topRaw ?? 30));
  process.stdout.write(`total ${totalMs.toFixed(0)} ms sampled\n`);
  for (const r of rows) process.stdout.write(`${r.ms.toFixed(1).padStart(9)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.where}\n`);
}
