/**
 * Benchmark 10: submission cost against a principal's history. A submission's store calls
 * (admission: the principal's active jobs and the queue; insert, claim, two transitions), the
 * lease scan and recovery's read of unfinished jobs, timed with 0, 10,000, 100,000 and 1,000,000
 * finished jobs of the same principal stored; the baseline is the same calls on the empty store,
 * in the same run. Then, at the largest size, the same calls without the unfinished-job indexes
 * (what they cost before SQLite migration 9). The store runs in a process of its own
 * (bench/servers/store-history.ts). Knobs: BENCH_HISTORY_SIZES (0,10000,100000,1000000),
 * BENCH_HISTORY_SUBMITS (300), BENCH_HISTORY_UNINDEXED_SUBMITS (20).
 */
import { envNumber, envString } from './lib/env.ts';
import { launch } from './lib/process.ts';
import { fmt, summarize } from './lib/stats.ts';
import { printTable, printVerdict, type Verdict } from './lib/table.ts';

/** Flat: a submission at the largest history costs at most this many times one on an empty store. */
const TARGET_RATIO = 1.25;

interface Measured {
  submissions: number[];
  leaseScans: number[];
  recovery: number;
}

export async function run(): Promise<Verdict[]> {
  const sizes = envString('BENCH_HISTORY_SIZES', '0,10000,100000,1000000').split(',').map(Number);
  const submits = envNumber('BENCH_HISTORY_SUBMITS', 300);
  const unindexed = envNumber('BENCH_HISTORY_UNINDEXED_SUBMITS', 20);
  console.log(`\n## 10. submission cost vs a principal's history: ${submits} submissions at ${sizes.join(', ')} stored jobs (SQLite store)`);
  const child = await launch<{ file: string }>('store-history', 'servers/store-history.ts');
  try {
    const rows: (string | number)[][] = [];
    let base: number | null = null;
    let last = Number.NaN;
    const row = (label: string, stored: number, m: Measured): void => {
      const s = summarize(m.submissions);
      const scan = summarize(m.leaseScans);
      base ??= s.p50;
      last = s.p50;
      rows.push([label, stored.toLocaleString('en'), fmt(s.p50, 3), fmt(s.p99, 3), (s.p50 / base).toFixed(2), fmt(scan.p50, 3), fmt(m.recovery, 2)]);
    };
    for (const size of sizes) {
      const grown = await child.call<{ stored: number; ms: number }>('grow', { total: size }, 600_000);
      if (size > 0) console.log(`  grown to ${grown.stored.toLocaleString('en')} finished jobs in ${fmt(grown.ms / 1000, 1)} s`);
      row(size === sizes[0] ? 'with the indexes (baseline)' : 'with the indexes', grown.stored, await child.call<Measured>('measure', { n: submits }, 600_000));
    }
    const flat = last;
    const largest = sizes.at(-1) ?? 0;
    await child.call('dropIndexes');
    row('without them (before migration 9)', largest, await child.call<Measured>('measure', { n: unindexed }, 600_000));
    printTable(
      'Per submission (admission, insert, claim, RUNNING, SUCCESS), ms; the lease scan (100 jobs) and recovery read, ms:',
      ['store', 'finished jobs of the principal', 'submission p50', 'p99', 'ratio p50 to empty', 'lease scan p50', 'recovery read'],
      rows,
    );
    const ratio = flat / (base ?? flat);
    const verdict: Verdict = {
      bench: 'history',
      target: `submission p50 at ${largest.toLocaleString('en')} stored jobs ≤ ${TARGET_RATIO} × on an empty store`,
      measured: `${ratio.toFixed(2)} × (${fmt(flat, 3)} vs ${fmt(base ?? flat, 3)} ms); ${(last / flat).toFixed(0)} × without the indexes`,
      met: ratio <= TARGET_RATIO,
    };
    printVerdict(verdict);
    return [verdict];
  } finally {
    await child.stop();
  }
}

if (import.meta.main) await run();
