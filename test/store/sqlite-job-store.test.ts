/** The JobStore contract on the embedded store: a fresh SQLite file per test. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import type { JobStore, NewJob } from '../../src/store/job-store.ts';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.ts';
import { jobStoreContract } from './job-store-contract.ts';
import { TERMINAL_SQL_LIST } from '../../src/store/job-rows.ts';

jobStoreContract('SqliteJobStore', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'jobql-store-'));
  const file = path.join(dir, 'jobs.sqlite');
  const stores: JobStore[] = [new SqliteJobStore(file)];
  return {
    store: stores[0] as JobStore,
    // A second handle on the same file, as a second process would open it.
    async openPeer(): Promise<JobStore> {
      const peer = new SqliteJobStore(file);
      stores.push(peer);
      return peer;
    },
    async close(): Promise<void> {
      for (const store of stores) await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

/** A job to insert; `id` makes it distinct. */
const aJob = (id: string): NewJob => ({
  id,
  owner: 'alice',
  idempotencyKey: null,
  queryText: 'SELECT 1',
  bindings: [],
  tag: null,
  timeoutSeconds: null,
  statementCount: 1,
  submittedAt: new Date(Date.UTC(2030, 0, 1)),
});

test('a database from before the history (version 5): its jobs have none, their next transitions are kept', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'jobql-store-'));
  const file = path.join(dir, 'jobs.sqlite');
  try {
    const first = new SqliteJobStore(file);
    const job = await first.insert(aJob('job-old'));
    assert.ok(await first.transition(job.id, 1, 'RUNNING', new Date(Date.UTC(2030, 0, 1, 0, 0, 1)), {}));
    await first.close();
    // Version 5 is version 9 without the history table (6), the watch and webhook columns (7),
    // the identity column (8) and the unfinished-job indexes (9).
    const db = new DatabaseSync(file);
    db.exec(`DROP TABLE job_transitions; DROP INDEX jobs_watched; DROP INDEX jobs_notified;
             DROP INDEX jobs_unfinished_by_owner; DROP INDEX jobs_unfinished;
             ALTER TABLE jobs DROP COLUMN cancel_if_unwatched_seconds; ALTER TABLE jobs DROP COLUMN watched_at;
             ALTER TABLE jobs DROP COLUMN notification; ALTER TABLE jobs DROP COLUMN run_as; PRAGMA user_version = 5;`);
    db.close();

    const upgraded = new SqliteJobStore(file);
    try {
      assert.deepEqual(await upgraded.transitionsAfter(job.id, 0), []);
      const ended = await upgraded.transition(job.id, 2, 'SUCCESS', new Date(Date.UTC(2030, 0, 1, 0, 0, 2)), {});
      assert.ok(ended);
      assert.deepEqual(
        (await upgraded.transitionsAfter(job.id, 0)).map((e) => [e.sequence, e.status]),
        [[3, 'SUCCESS']],
      );
    } finally {
      await upgraded.close();
    }
    const check = new DatabaseSync(file);
    assert.deepEqual({ ...(check.prepare('PRAGMA user_version').get() as object) }, { user_version: 9 });
    check.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("admission, the lease scan and recovery read unfinished jobs only, not a principal's whole history", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'jobql-store-'));
  const file = path.join(dir, 'jobs.sqlite');
  try {
    await new SqliteJobStore(file).close();
    const db = new DatabaseSync(file);
    const plan = (sql: string): string =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((row) => row.detail).join(' | ');
    // The statements' shapes as the store spells them (bench/history.ts measures the cost).
    const unfinished = `status NOT IN (${TERMINAL_SQL_LIST})`;
    assert.match(plan(`SELECT count(*) AS n FROM jobs WHERE owner = 'a' AND ${unfinished}`), /USING INDEX jobs_unfinished_by_owner/);
    assert.match(plan(`SELECT * FROM jobs WHERE ${unfinished} ORDER BY seq`), /USING INDEX jobs_unfinished\b/);
    assert.match(
      plan(`SELECT seq FROM jobs WHERE ${unfinished} AND dispatched_at IS NOT NULL AND (lease_holder IS NULL OR lease_until <= 5) ORDER BY seq LIMIT 10`),
      /USING INDEX jobs_unfinished\b/,
    );
    db.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** WAL frames written since the last truncating checkpoint (page size 4096: 24-byte frame headers). */
async function walFrames(file: string): Promise<number> {
  const size = (await stat(`${file}-wal`)).size;
  return size === 0 ? 0 : (size - 32) / (4096 + 24);
}

test('the transitions asked for in one turn are one commit; each settles after it; one failing undoes only itself', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'jobql-store-'));
  const file = path.join(dir, 'jobs.sqlite');
  const store = new SqliteJobStore(file);
  const peer = new DatabaseSync(file);
  try {
    const jobs = await Promise.all(Array.from({ length: 200 }, (_, i) => store.insert(aJob(`job-${i}`))));
    peer.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    assert.equal(await walFrames(file), 0);

    // 200 ends asked for side by side, as a poller tick asks for them. A commit apiece would
    // write at least two pages (the job's, its history's) per end: 400 frames or more.
    const at = new Date(Date.UTC(2030, 0, 1, 0, 0, 1));
    const seenCommitted: boolean[] = [];
    await Promise.all(
      jobs.map(async (job) => {
        const moved = await store.transition(job.id, job.sequence, 'RUNNING', at, {});
        // Settled only once durable: another connection already reads the new state.
        const row = peer.prepare('SELECT status FROM jobs WHERE id = ?').get(job.id) as { status: string };
        seenCommitted.push(moved?.status === 'RUNNING' && row.status === 'RUNNING');
      }),
    );
    assert.deepEqual(seenCommitted, jobs.map(() => true));
    const frames = await walFrames(file);
    assert.ok(frames > 0 && frames < 100, `${frames} WAL frames for 200 transitions asked for in one turn`);

    // In one turn: two new jobs and one whose id is taken (its insert fails). The failing one is
    // undone alone; the others and their histories are written.
    const [fresh, taken, other] = await Promise.allSettled([
      store.insert(aJob('job-new-1')),
      store.insert(aJob('job-0')),
      store.insert(aJob('job-new-2')),
    ]);
    assert.equal(fresh.status, 'fulfilled');
    assert.equal(taken.status, 'rejected');
    assert.equal(other.status, 'fulfilled');
    for (const id of ['job-new-1', 'job-new-2']) {
      assert.deepEqual((await store.transitionsAfter(id, 0)).map((e) => e.status), ['QUEUED']);
    }
    assert.deepEqual((await store.transitionsAfter('job-0', 0)).map((e) => e.status), ['QUEUED', 'RUNNING']);
    assert.equal((await store.get('job-0'))?.status, 'RUNNING');

    // A write asked for just before close is written, not dropped.
    const last = store.transition('job-new-1', 1, 'RUNNING', at, {});
    await store.close();
    assert.equal((await last)?.status, 'RUNNING');
    const row = peer.prepare('SELECT status FROM jobs WHERE id = ?').get('job-new-1') as { status: string };
    assert.equal(row.status, 'RUNNING');
  } finally {
    peer.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
