/** The JobStore contract on the embedded store: a fresh SQLite file per test. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import type { JobStore } from '../../src/store/job-store.ts';
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

test('a database from before the history (version 5): its jobs have none, their next transitions are kept', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'jobql-store-'));
  const file = path.join(dir, 'jobs.sqlite');
  try {
    const first = new SqliteJobStore(file);
    const job = await first.insert({
      id: 'job-old',
      owner: 'alice',
      idempotencyKey: null,
      queryText: 'SELECT 1',
      bindings: [],
      tag: null,
      timeoutSeconds: null,
      statementCount: 1,
      submittedAt: new Date(Date.UTC(2030, 0, 1)),
    });
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
