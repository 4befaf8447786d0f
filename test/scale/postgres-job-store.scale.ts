/**
 * The JobStore contract on PostgreSQL (a fresh database per test), and what only PostgreSQL has:
 * concurrent migrations, the lease-scan index, and rough timings. Needs PostgreSQL (see
 * test/helpers/postgres.ts); fails, never skips, without it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { eventOf } from '../../src/core/job.ts';
import type { JobStore, NewJob } from '../../src/store/job-store.ts';
import { TERMINAL_STATUSES } from '../../src/core/status.ts';
import { PostgresJobStore } from '../../src/store/postgres-job-store.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { jobStoreContract } from '../store/job-store-contract.ts';

jobStoreContract('PostgresJobStore', async () => {
  const db = await createTestDatabase();
  const stores: JobStore[] = [];
  try {
    stores.push(await PostgresJobStore.open(db.url, { poolSize: 4 }));
  } catch (error) {
    await db.drop();
    throw error;
  }
  return {
    store: stores[0] as JobStore,
    async openPeer(): Promise<JobStore> {
      const peer = await PostgresJobStore.open(db.url, { poolSize: 4 });
      stores.push(peer);
      return peer;
    },
    async close(): Promise<void> {
      for (const store of stores) await store.close();
      await db.drop();
    },
  };
});

function newJob(i: number): NewJob {
  return {
    id: `job-${i}-${randomUUID()}`,
    owner: `owner-${i % 5}`,
    idempotencyKey: null,
    queryText: `SELECT ${i}`,
    bindings: [i],
    tag: null,
    timeoutSeconds: null,
    statementCount: 1,
    submittedAt: new Date(Date.UTC(2030, 0, 1, 0, 0, 0, i)),
  };
}

async function withDatabase<T>(body: (db: TestDatabase, admin: pg.Client) => Promise<T>): Promise<T> {
  const db = await createTestDatabase();
  const admin = new pg.Client({ connectionString: db.url });
  try {
    await admin.connect();
    return await body(db, admin);
  } finally {
    await admin.end().catch(() => undefined);
    await db.drop();
  }
}

describe('PostgresJobStore on PostgreSQL', () => {
  test('instances starting at once migrate once; reopening is a no-op', async () => {
    await withDatabase(async (db, admin) => {
      const stores = await Promise.all(Array.from({ length: 8 }, () => PostgresJobStore.open(db.url, { poolSize: 2 })));
      const { rows } = await admin.query<{ version: number }>('SELECT version FROM jobql_schema_version ORDER BY version');
      const versions = rows.map((r) => r.version);
      assert.ok(versions.length >= 1);
      assert.deepEqual(versions, Array.from({ length: versions.length }, (_, i) => i + 1), 'each version once');
      const job = await stores[3]?.insert(newJob(1));
      assert.equal((await stores[5]?.get(job?.id ?? ''))?.id, job?.id);
      for (const store of stores) await store.close();
      const again = await PostgresJobStore.open(db.url);
      await again.close();
      const after = await admin.query('SELECT version FROM jobql_schema_version');
      assert.equal(after.rowCount, versions.length);
    });
  });

  test('a database from before the history (version 1): its jobs have none, their next transitions are kept', async () => {
    await withDatabase(async (db, admin) => {
      const first = await PostgresJobStore.open(db.url);
      const job = await first.insert(newJob(1));
      assert.ok(await first.transition(job.id, 1, 'RUNNING', new Date(Date.UTC(2030, 0, 1, 0, 0, 1)), {}));
      await first.close();
      // Version 1 is version 5 without the history table (2), the watch and webhook columns (3),
      // the identity column (4) and the unfinished-job indexes (5).
      await admin.query('DROP TABLE job_transitions');
      await admin.query('DROP INDEX jobs_unfinished_by_owner, jobs_unfinished');
      await admin.query(
        'ALTER TABLE jobs DROP COLUMN cancel_if_unwatched_seconds, DROP COLUMN watched_at, DROP COLUMN notification, DROP COLUMN run_as',
      );
      await admin.query('DELETE FROM jobql_schema_version WHERE version >= 2');
      const upgraded = await PostgresJobStore.open(db.url);
      try {
        assert.deepEqual(await upgraded.transitionsAfter(job.id, 0), []);
        assert.ok(await upgraded.transition(job.id, 2, 'SUCCESS', new Date(Date.UTC(2030, 0, 1, 0, 0, 2)), {}));
        assert.deepEqual(
          (await upgraded.transitionsAfter(job.id, 0)).map((e) => [e.sequence, e.status]),
          [[3, 'SUCCESS']],
        );
      } finally {
        await upgraded.close();
      }
      const { rows } = await admin.query<{ version: number }>('SELECT max(version) AS version FROM jobql_schema_version');
      assert.equal(rows[0]?.version, 5);
    });
  });

  test('a history snapshot means the same instants whatever the writing session\'s time zone', async () => {
    await withDatabase(async (db, admin) => {
      // json_build_object writes a timestamptz with the session's offset: +05:30 here.
      const url = new URL(db.url);
      url.searchParams.set('options', '-c TimeZone=Asia/Kolkata');
      const writer = await PostgresJobStore.open(url.toString());
      const reader = await PostgresJobStore.open(db.url);
      try {
        const job = await writer.insert(newJob(7));
        const moved = await writer.transition(job.id, 1, 'RUNNING', new Date(Date.UTC(2030, 5, 1, 12, 0, 0, 321)), {
          startedAt: new Date(Date.UTC(2030, 5, 1, 11, 59, 59, 999)),
        });
        assert.ok(moved);
        const { rows } = await admin.query<{ snapshot: string }>('SELECT snapshot FROM job_transitions WHERE job_id = $1 AND sequence = 2', [job.id]);
        assert.match(rows[0]?.snapshot ?? '', /\+05:30/);
        assert.deepEqual(await reader.transitionsAfter(job.id, 0), [eventOf(job), eventOf(moved)]);
      } finally {
        await writer.close();
        await reader.close();
      }
    });
  });

  test('the lease scan and admission use their unfinished-job indexes (predicates match TERMINAL_STATUSES)', async () => {
    await withDatabase(async (db, admin) => {
      const store = await PostgresJobStore.open(db.url);
      await store.close();
      const terminal = [...TERMINAL_STATUSES].map((s) => `'${s}'`).join(', ');
      await admin.query('SET enable_seqscan = off');
      const { rows } = await admin.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT seq FROM jobs
         WHERE dispatched_at IS NOT NULL AND status NOT IN (${terminal})
           AND (lease_holder IS NULL OR lease_holder = 'a' OR lease_until <= now())
         ORDER BY seq LIMIT 50 FOR UPDATE SKIP LOCKED`,
      );
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.match(plan, /jobs_leasable/, plan);
      // Admission counts a principal's unfinished jobs, not its history.
      const admission = await admin.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT count(*) AS n FROM jobs WHERE owner = 'a' AND status NOT IN (${terminal})`,
      );
      const admissionPlan = admission.rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.match(admissionPlan, /jobs_unfinished_by_owner/, admissionPlan);
    });
  });

  test('eight instances racing for 600 jobs in batches: no job goes to two', async () => {
    await withDatabase(async (db) => {
      const stores = await Promise.all(Array.from({ length: 8 }, () => PostgresJobStore.open(db.url, { poolSize: 2 })));
      try {
        const [first] = stores;
        assert.ok(first);
        const claimedAt = new Date(Date.UTC(2030, 0, 1));
        const batch = 50;
        for (let i = 0; i < 600; i += batch) {
          await Promise.all(
            Array.from({ length: batch }, async (_, k) => {
              const job = await first.insert(newJob(i + k));
              assert.ok(await first.claim(job.id, claimedAt, { holder: 'gone', until: claimedAt }));
            }),
          );
        }
        const now = new Date(Date.UTC(2030, 0, 2));
        const until = new Date(Date.UTC(2030, 0, 3));
        const owner = new Map<string, number>();
        for (let sweep = 0; sweep < 50 && owner.size < 600; sweep++) {
          const held = (i: number): number => [...owner.values()].filter((o) => o === i).length;
          const got = await Promise.all(
            stores.map((store, i) => store.acquireLeases({ holder: `i${i}`, until }, now, held(i) + 13)),
          );
          got.forEach((jobs, i) => {
            for (const job of jobs) {
              const previous = owner.get(job.id);
              assert.ok(previous === undefined || previous === i, `${job.id} went to i${previous} and i${i}`);
              owner.set(job.id, i);
            }
          });
        }
        assert.equal(owner.size, 600);
      } finally {
        for (const store of stores) await store.close();
      }
    });
  });

  test('an unreachable PostgreSQL is a clear failure, not a skip', async () => {
    const saved = process.env['JOBQL_TEST_POSTGRES_URL'];
    process.env['JOBQL_TEST_POSTGRES_URL'] = 'postgres://postgres:secret@127.0.0.1:1/postgres';
    try {
      await assert.rejects(createTestDatabase(), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/postgres is required for npm run test:scale/);
        assert.doesNotMatch(error.message, /secret/);
        return true;
      });
    } finally {
      if (saved === undefined) delete process.env['JOBQL_TEST_POSTGRES_URL'];
      else process.env['JOBQL_TEST_POSTGRES_URL'] = saved;
    }
  });

  describe('timings', () => {
    let db: TestDatabase | null = null;
    after(async () => {
      await db?.drop();
    });

    const summary = (label: string, samples: number[]): string => {
      const s = [...samples].sort((a, b) => a - b);
      const pick = (q: number): string => (s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0).toFixed(2);
      const mean = (s.reduce((a, b) => a + b, 0) / s.length).toFixed(2);
      return `${label}: n=${s.length} mean=${mean}ms p50=${pick(0.5)}ms p95=${pick(0.95)}ms max=${pick(1)}ms`;
    };

    test('acquireLeases, renewLeases and transition (a few hundred each)', async (t) => {
      db = await createTestDatabase();
      const store = await PostgresJobStore.open(db.url);
      try {
        const base = Date.UTC(2030, 0, 1);
        const jobs: string[] = [];
        for (let i = 0; i < 1000; i++) {
          const job = await store.insert(newJob(i));
          assert.ok(await store.claim(job.id, new Date(base), { holder: 'other', until: new Date(base) }));
          jobs.push(job.id);
        }
        const iterations = 300;
        const time = async (body: (i: number) => Promise<unknown>): Promise<number[]> => {
          const samples: number[] = [];
          for (let i = 0; i < 20; i++) await body(i); // warm the pool and the plan cache
          for (let i = 0; i < iterations; i++) {
            const start = performance.now();
            await body(i);
            samples.push(performance.now() - start);
          }
          return samples;
        };
        const now = new Date(base + 1_000);
        // A holder re-acquiring its 50 leases out of 1,000 dispatched jobs (the steady state).
        const acquire = await time(async (i) => {
          const got = await store.acquireLeases({ holder: 'me', until: new Date(base + 60_000 + i) }, now, 50);
          assert.equal(got.length, 50);
        });
        const held = jobs.slice(0, 50);
        const renew = await time(async (i) => {
          const renewed = await store.renewLeases(held, { holder: 'me', until: new Date(base + 120_000 + i) });
          assert.equal(renewed.length, 50);
        });
        // A progress transition on a different job each time (QUEUED → RUNNING, or on).
        const sequences = new Map<string, number>(jobs.map((id) => [id, 1]));
        const transition = await time(async (i) => {
          const id = jobs[i % jobs.length] ?? '';
          const expected = sequences.get(id) ?? 1;
          const moved = await store.transition(id, expected, expected % 2 ? 'RUNNING' : 'QUEUED', new Date(base + i), {
            progress: { percentage: i % 100, rowsProcessed: i, totalRowsToProcess: null },
          });
          assert.ok(moved);
          sequences.set(id, moved.sequence);
        });
        for (const line of [
          summary('acquireLeases(limit 50 of 1,000)', acquire),
          summary('renewLeases(50 ids)', renew),
          summary('transition', transition),
        ]) {
          t.diagnostic(line);
          console.log(line);
        }
      } finally {
        await store.close();
      }
    });
  });
});
