/** Markdown tables and verdict lines, printed as they are made so a long run shows progress. */

export type Cell = string | number;

export function table(headers: readonly string[], rows: readonly (readonly Cell[])[], align?: readonly ('l' | 'r')[]): string {
  const alignment = headers.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : '---'));
  const line = (cells: readonly Cell[]): string => `| ${cells.map(String).join(' | ')} |`;
  return [line(headers), line(alignment), ...rows.map(line)].join('\n');
}

export function printTable(title: string, headers: readonly string[], rows: readonly (readonly Cell[])[], align?: readonly ('l' | 'r')[]): void {
  console.log(`\n${title}\n`);
  console.log(table(headers, rows, align));
}

/** What each benchmark hands back to the runner: one line per target. */
export interface Verdict {
  bench: string;
  target: string;
  measured: string;
  /** null: informational, no pass/fail. */
  met: boolean | null;
}

export function printVerdict(v: Verdict): void {
  const mark = v.met === null ? 'INFO' : v.met ? 'MET' : 'MISSED';
  console.log(`\nverdict [${v.bench}] ${mark}: ${v.measured} (target ${v.target})`);
}
