/**
 * The job store under a principal's growing history, in a process of its own: the SQLite store
 * (the default) on a temporary file, grown with finished jobs of one principal by a bulk insert,
 * and the store calls one submission makes timed at each size (bench/history.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.ts';
import { ready, serveRpc } from '../lib/rpc.ts';

const OWNER = 'alice';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobql-bench-history-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'jobs.sqlite');
const store = new SqliteJobStore(file);
/** A second connection for the bulk insert and index changes, as another tool would make them. */
const admin = new DatabaseSync(file);
let stored = 0;
let submitted = 0;

/** Adds finished jobs of the principal until it has `total` (one statement; the index work included). */
function grow(total: number): { stored: number; ms: number } {
  const start = performance.now();
  if (total <= stored) return { stored, ms: 0 };
  const at = Date.UTC(2030, 0, 1);
  admin
    .prepare(
      `WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO jobs (id, query_text, bindings, statement_count, status, previous_status, sequence,
                         status_changed_at, submitted_at, dispatched_at, started_at, ended_at, owner, result_expires_at)
       SELECT 'job_history_' || i, 'select 42', '[]', 1, 'SUCCESS', 'RUNNING', 3, ?, ?, ?, ?, ?, ?, ? FROM n`,
    )
    .run(stored + 1, total, at, at, at, at, at, OWNER, at);
  stored = total;
  return { stored, ms: performance.now() - start };
}

/**
 * `n` submissions of the principal, each as the service makes it: admission (its active jobs,
 * the queue), the insert, the claim and both transitions; and the lease scan and recovery read.
 * Times in ms.
 */
async function measure(n: number): Promise<{ submissions: number[]; leaseScans: number[]; recovery: number }> {
  const submissions: number[] = [];
  const leaseScans: number[] = [];
  const lease = { holder: 'bench', until: new Date(Date.now() + 60_000) };
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await store.countActive(OWNER);
    await store.countWaiting();
    const now = new Date();
    const job = await store.insert({
      id: `job_bench_${submitted++}`,
      owner: OWNER,
      idempotencyKey: null,
      queryText: 'select 42',
      bindings: [],
      tag: null,
      timeoutSeconds: null,
      statementCount: 1,
      submittedAt: now,
    });
    const claimed = (await store.claim(job.id, now, lease)) ?? job;
    const running = (await store.transition(job.id, claimed.sequence, 'RUNNING', now, { startedAt: now })) ?? claimed;
    await store.transition(job.id, running.sequence, 'SUCCESS', now, { endedAt: now });
    submissions.push(performance.now() - start);
    if (i % 10 === 0) {
      const scan = performance.now();
      await store.acquireLeases(lease, now, 100);
      leaseScans.push(performance.now() - scan);
    }
  }
  const recoveryStart = performance.now();
  await store.listUnfinished();
  return { submissions, leaseScans, recovery: performance.now() - recoveryStart };
}

/** Drops the unfinished-job indexes, to show what the same calls cost without them (the last step). */
function dropIndexes(): void {
  admin.exec('DROP INDEX jobs_unfinished_by_owner; DROP INDEX jobs_unfinished;');
}

serveRpc({
  grow: (params) => grow((params as { total: number }).total),
  measure: (params) => measure((params as { n: number }).n),
  dropIndexes: () => dropIndexes(),
  stop: async () => {
    admin.close();
    await store.close();
    process.exit(0);
  },
});
ready({ file });
