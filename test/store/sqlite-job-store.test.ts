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
    // Version 5 is version 8 without the history table (6), the watch and webhook columns (7) and
    // the identity column (8).
    const db = new DatabaseSync(file);
    db.exec(`DROP TABLE job_transitions; DROP INDEX jobs_watched; DROP INDEX jobs_notified;
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
    assert.deepEqual({ ...(check.prepare('PRAGMA user_version').get() as object) }, { user_version: 8 });
    check.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
