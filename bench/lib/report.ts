/**
 * What a benchmark returns, the table printed at the end of a run and the
 * `bench/results.json` document.
 */
import { cpus, freemem, loadavg, release, totalmem, type as osType } from 'node:os';
import { median, pairedRatios, summarize, type Summary } from './stats';

export type Target =
  /** figure / limit (per run, median over runs) at least `value`. */
  | { readonly kind: 'ratio-at-least'; readonly value: number }
  /** The figure's median strictly under `value` (same unit as the figure). */
  | { readonly kind: 'under'; readonly value: number };

export interface Figure {
  readonly id: string;
  readonly label: string;
  readonly unit: string;
  /** One value a run. */
  readonly runs: number[];
  /** The limit measured in the same runs (paired by index), when the figure has one. */
  readonly limit?: { readonly label: string; readonly runs: number[] };
  readonly target?: Target;
  /** Decimal places in the table (default: 0 for large values, 1 or 2 for small). */
  readonly digits?: number;
  /** Shown in the table's notes, e.g. "informational". */
  readonly note?: string;
}

export interface BenchmarkResult {
  readonly id: string;
  readonly title: string;
  readonly figures: Figure[];
  /** Method, scale and anything a reader needs to interpret the figures. */
  readonly notes: string[];
  /** Anything else worth keeping (per-function tables, per-run breakdowns). */
  readonly details?: unknown;
  /** A table of its own printed after the main one (per-function figures, say). */
  readonly extraTable?: string;
  readonly durationMs: number;
  /** Load average (1 min) when the benchmark started and ended: a busy machine shows here. */
  readonly load: { readonly start: number; readonly end: number };
  readonly error?: string;
}

export interface Row {
  readonly benchmark: string;
  readonly figure: string;
  readonly unit: string;
  readonly summary: Summary;
  readonly limit?: { readonly label: string; readonly median: number };
  readonly ratio?: Summary;
  readonly target?: string;
  readonly pass?: boolean;
  readonly note?: string;
}

export function targetText(t: Target | undefined, unit: string): string | undefined {
  if (!t) return undefined;
  return t.kind === 'ratio-at-least' ? `ratio >= ${t.value}` : `< ${t.value} ${unit}`;
}

export function rowOf(benchmark: string, f: Figure): Row {
  const summary = summarize(f.runs);
  const limit = f.limit ? { label: f.limit.label, median: median(f.limit.runs) } : undefined;
  const ratio = f.limit ? summarize(pairedRatios(f.runs, f.limit.runs)) : undefined;
  let pass: boolean | undefined;
  if (f.target?.kind === 'ratio-at-least') pass = ratio !== undefined && ratio.median >= f.target.value;
  if (f.target?.kind === 'under') pass = summary.median < f.target.value;
  const target = targetText(f.target, f.unit);
  return {
    benchmark,
    figure: f.label,
    unit: f.unit,
    summary,
    ...(limit ? { limit } : {}),
    ...(ratio ? { ratio } : {}),
    ...(target ? { target } : {}),
    ...(pass !== undefined ? { pass } : {}),
    ...(f.note ? { note: f.note } : {}),
  };
}

export function fmt(value: number | undefined, digits?: number): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  const d = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** A plain-text table, one line a figure. Markdown when `markdown` is set (for the README). */
export function renderTable(results: readonly BenchmarkResult[], options: { markdown?: boolean } = {}): string {
  const header = ['#', 'figure', 'unit', 'median', 'min', 'max', 'n', 'limit (same run)', 'ratio', 'target', 'result'];
  const lines: string[][] = [];
  for (const r of results) {
    if (r.error) {
      lines.push([r.id, `${r.title}: FAILED (${r.error})`, '', '', '', '', '', '', '', '', 'error']);
      continue;
    }
    for (const f of r.figures) {
      if (f.runs.length === 0) continue;
      const row = rowOf(r.id, f);
      lines.push([
        r.id,
        row.figure,
        row.unit,
        fmt(row.summary.median, f.digits),
        fmt(row.summary.min, f.digits),
        fmt(row.summary.max, f.digits),
        String(row.summary.n),
        row.limit ? `${fmt(row.limit.median, f.digits)} (${row.limit.label})` : '-',
        row.ratio ? fmt(row.ratio.median, 2) : '-',
        row.target ?? row.note ?? '-',
        row.pass === undefined ? '-' : row.pass ? 'PASS' : 'FAIL',
      ]);
    }
  }
  if (options.markdown) {
    const esc = (s: string) => s.replace(/\|/g, '\\|');
    return [
      `| ${header.join(' | ')} |`,
      `| ${header.map((h, i) => (i >= 3 && i <= 8 ? '---:' : '---')).join(' | ')} |`,
      ...lines.map((l) => `| ${l.map(esc).join(' | ')} |`),
    ].join('\n');
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const right = new Set([3, 4, 5, 6, 8]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(line)].join('\n');
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGB: number;
  readonly freeMemoryGB: number;
  readonly os: string;
  readonly node: string;
  readonly loadAverage: number[];
}

export function machine(): Machine {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    os: `${osType()} ${release()}`,
    node: process.version,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export interface ResultsDocument {
  readonly date: string;
  readonly machine: Machine;
  readonly options: unknown;
  readonly durationMs: number;
  readonly summary: { readonly passed: number; readonly failed: number; readonly errors: number };
  readonly table: Row[];
  readonly benchmarks: readonly BenchmarkResult[];
}

export function resultsDocument(results: readonly BenchmarkResult[], m: Machine, options: unknown, startedAt: Date): ResultsDocument {
  const table = results.flatMap((r) => (r.error ? [] : r.figures.filter((f) => f.runs.length > 0).map((f) => rowOf(r.id, f))));
  return {
    date: startedAt.toISOString(),
    machine: m,
    options,
    durationMs: Date.now() - startedAt.getTime(),
    summary: {
      passed: table.filter((r) => r.pass === true).length,
      failed: table.filter((r) => r.pass === false).length,
      errors: results.filter((r) => r.error).length,
    },
    table,
    benchmarks: results,
  };
}
