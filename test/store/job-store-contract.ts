/**
 * The JobStore contract: what every store (SQLite, PostgreSQL) must do, as node:test cases. A store's
 * suite calls `jobStoreContract` with a factory that opens the store on a fresh, empty database.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { eventOf, type Job, type JsonValue } from '../../src/core/job.ts';
import type { JobStore, Lease, NewJob } from '../../src/store/job-store.ts';
import { TRANSITIONS_KEPT_PER_JOB } from '../../src/store/job-rows.ts';
import { JOB_STATUSES, TERMINAL_STATUSES, type JobStatus } from '../../src/core/status.ts';

export interface StoreHarness {
  /** A store on a fresh, empty database. */
  store: JobStore;
  /**
   * Another store on the same database with its own connection (pool, SQLite handle), as a second
   * jobql instance would have; closed by `close`.
   */
  openPeer(): Promise<JobStore>;
  /** Closes the stores and throws the database away. */
  close(): Promise<void>;
}

/** Millisecond parts that are not round, to catch a store that keeps only seconds. */
const T0 = Date.parse('2030-01-01T00:00:00.123Z');
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);
const lease = (holder: string, untilOffsetMs: number): Lease => ({ holder, until: at(untilOffsetMs) });

let counter = 0;
function newJob(overrides: Partial<NewJob> = {}): NewJob {
  counter++;
  return {
    id: `job-${counter}-${randomUUID()}`,
    owner: 'alice',
    idempotencyKey: null,
    queryText: `SELECT ${counter}`,
    bindings: [],
    tag: null,
    timeoutSeconds: null,
    statementCount: 1,
    submittedAt: at(counter * 1_000),
    ...overrides,
  };
}

const ids = (jobs: readonly Job[]): string[] => jobs.map((j) => j.id);
const sorted = (values: readonly string[]): string[] => [...values].sort();

/** Inserts `n` jobs and claims them, then frees their leases: dispatched jobs anyone may lease. */
async function dispatchedJobs(store: JobStore, n: number, overrides: Partial<NewJob> = {}): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let i = 0; i < n; i++) {
    const job = await store.insert(newJob(overrides));
    const claimed = await store.claim(job.id, at(0), lease('claimer', 60_000));
    assert.ok(claimed);
    jobs.push(claimed);
  }
  await store.releaseLeases('claimer', ids(jobs));
  return jobs;
}

export function jobStoreContract(name: string, open: () => Promise<StoreHarness>): void {
  const withStore = (title: string, body: (store: JobStore, harness: StoreHarness) => Promise<void>): void => {
    test(title, async () => {
      const harness = await open();
      try {
        await body(harness.store, harness);
      } finally {
        await harness.close();
      }
    });
  };

  describe(`JobStore contract: ${name}`, () => {
    describe('insert and get', () => {
      withStore('a job round-trips every field; dates to the millisecond, bindings byte for byte', async (store) => {
        const bindings: JsonValue[] = [
          1,
          -0.5,
          1e21,
          12345678901234567,
          'text with \'quotes\' and "doubles"',
          '',
          'nul \u0000 and emoji 🦆 and é',
          true,
          false,
          null,
          { z: 1, a: [1, 'two', { nested: null }], ' spaced key': 'v' },
          [],
          {},
        ];
        const given = newJob({
          owner: 'bob',
          idempotencyKey: 'key-1',
          queryText: 'SELECT ?, ?\n  FROM t -- comment',
          bindings,
          tag: 'nightly',
          timeoutSeconds: 90,
          statementCount: 3,
          submittedAt: new Date(Date.parse('2031-02-03T04:05:06.789Z')),
          runAs: 'analyst',
        });
        const inserted = await store.insert(given);
        const expected: Job = {
          id: given.id,
          seq: inserted.seq,
          queryId: null,
          queryText: given.queryText,
          bindings,
          tag: 'nightly',
          timeoutSeconds: 90,
          statementCount: 3,
          status: 'QUEUED',
          previousStatus: null,
          sequence: 1,
          statusChangedAt: given.submittedAt,
          submittedAt: given.submittedAt,
          dispatchedAt: null,
          startedAt: null,
          endedAt: null,
          error: null,
          progress: null,
          dml: null,
          resultExpiresAt: null,
          owner: 'bob',
          idempotencyKey: 'key-1',
          cancelIfUnwatchedSeconds: null,
          notification: null,
          runAs: 'analyst',
        };
        assert.deepEqual(inserted, expected);
        assert.equal(typeof inserted.seq, 'number');
        assert.ok(Number.isSafeInteger(inserted.seq) && inserted.seq > 0);
        const got = await store.get(given.id);
        assert.deepEqual(got, expected);
        assert.equal(JSON.stringify(got?.bindings), JSON.stringify(bindings));

        // Every patchable field, with dates at awkward milliseconds.
        const patched = await store.update(given.id, {
          queryId: '01b2c3d4-0000-1111-0000-000000000001',
          dispatchedAt: new Date(Date.parse('2031-02-03T04:05:07.001Z')),
          startedAt: new Date(Date.parse('2031-02-03T04:05:07.010Z')),
          endedAt: new Date(Date.parse('2031-02-03T04:05:08.999Z')),
          error: { code: 'SQL_SYNTAX_ERROR', sqlState: '42000', message: 'syntax error at "?" ✗' },
          progress: { percentage: 12.5, rowsProcessed: 10, totalRowsToProcess: null },
          dml: { rowsInserted: 1, rowsUpdated: 2, rowsDeleted: 3 },
          resultExpiresAt: new Date(Date.parse('2031-02-04T04:05:08.500Z')),
        });
        const expectedPatched: Job = {
          ...expected,
          queryId: '01b2c3d4-0000-1111-0000-000000000001',
          dispatchedAt: new Date(Date.parse('2031-02-03T04:05:07.001Z')),
          startedAt: new Date(Date.parse('2031-02-03T04:05:07.010Z')),
          endedAt: new Date(Date.parse('2031-02-03T04:05:08.999Z')),
          error: { code: 'SQL_SYNTAX_ERROR', sqlState: '42000', message: 'syntax error at "?" ✗' },
          progress: { percentage: 12.5, rowsProcessed: 10, totalRowsToProcess: null },
          dml: { rowsInserted: 1, rowsUpdated: 2, rowsDeleted: 3 },
          resultExpiresAt: new Date(Date.parse('2031-02-04T04:05:08.500Z')),
        };
        assert.deepEqual(patched, expectedPatched);
        assert.deepEqual(await store.get(given.id), expectedPatched);
      });

      withStore('every millisecond value survives the round trip', async (store) => {
        for (let ms = 0; ms < 1000; ms += 37) {
          const submittedAt = new Date(Date.UTC(2030, 5, 15, 12, 30, 45, ms));
          const job = await store.insert(newJob({ submittedAt }));
          assert.equal((await store.get(job.id))?.submittedAt.getTime(), submittedAt.getTime(), `ms ${ms}`);
        }
      });

      withStore('seq grows with each insert; unknown ids are null', async (store) => {
        const a = await store.insert(newJob());
        const b = await store.insert(newJob());
        const c = await store.insert(newJob());
        assert.ok(a.seq < b.seq && b.seq < c.seq);
        assert.equal(await store.get('no-such-job'), null);
      });
    });

    describe('idempotency', () => {
      withStore('racing inserts with one key make one job', async (store, harness) => {
        const peer = await harness.openPeer();
        const racers = Array.from({ length: 10 }, (_, i) =>
          (i % 2 === 0 ? store : peer).insert(newJob({ idempotencyKey: 'same', bindings: [1, { a: 'x' }] })),
        );
        const jobs = await Promise.all(racers);
        assert.equal(new Set(ids(jobs)).size, 1);
        const page = await store.list({}, 100, null);
        assert.equal(page.jobs.length, 1);
        assert.equal((await store.findByIdempotencyKey('alice', 'same'))?.id, jobs[0]?.id);
      });

      withStore('a repeated key returns the first job; owners and null keys are independent', async (store) => {
        const first = await store.insert(newJob({ owner: 'alice', idempotencyKey: 'k' }));
        const again = await store.insert(newJob({ owner: 'alice', idempotencyKey: 'k', queryText: 'SELECT 2' }));
        assert.equal(again.id, first.id);
        assert.equal(again.queryText, first.queryText);
        const bobs = await store.insert(newJob({ owner: 'bob', idempotencyKey: 'k' }));
        assert.notEqual(bobs.id, first.id);
        const n1 = await store.insert(newJob({ owner: 'alice' }));
        const n2 = await store.insert(newJob({ owner: 'alice' }));
        assert.notEqual(n1.id, n2.id);
        assert.equal((await store.findByIdempotencyKey('alice', 'k'))?.id, first.id);
        assert.equal((await store.findByIdempotencyKey('bob', 'k'))?.id, bobs.id);
        assert.equal(await store.findByIdempotencyKey('carol', 'k'), null);
        assert.equal(await store.findByIdempotencyKey('alice', 'other'), null);
      });

      withStore('forgetIdempotencyKeys frees the keys of older jobs only', async (store) => {
        const old = await store.insert(newJob({ idempotencyKey: 'old', submittedAt: at(1_000) }));
        const edge = await store.insert(newJob({ idempotencyKey: 'edge', submittedAt: at(5_000) }));
        const recent = await store.insert(newJob({ idempotencyKey: 'recent', submittedAt: at(9_000) }));
        await store.forgetIdempotencyKeys(at(5_000));
        assert.equal(await store.findByIdempotencyKey('alice', 'old'), null);
        assert.equal((await store.get(old.id))?.idempotencyKey, null);
        assert.equal((await store.findByIdempotencyKey('alice', 'edge'))?.id, edge.id, 'strictly before');
        assert.equal((await store.findByIdempotencyKey('alice', 'recent'))?.id, recent.id);
        const reused = await store.insert(newJob({ idempotencyKey: 'old' }));
        assert.notEqual(reused.id, old.id);
        assert.equal((await store.findByIdempotencyKey('alice', 'old'))?.id, reused.id);
      });
    });

    describe('list', () => {
      withStore('filters by owner, status, tag and submission time', async (store) => {
        const a1 = await store.insert(newJob({ owner: 'alice', tag: 'x', submittedAt: at(1_000) }));
        const a2 = await store.insert(newJob({ owner: 'alice', tag: 'y', submittedAt: at(2_000) }));
        const b1 = await store.insert(newJob({ owner: 'bob', tag: 'x', submittedAt: at(3_000) }));
        const b2 = await store.insert(newJob({ owner: 'bob', tag: null, submittedAt: at(4_000) }));
        assert.ok(await store.transition(a2.id, 1, 'RUNNING', at(5_000), {}));
        assert.ok(await store.transition(b1.id, 1, 'SUCCESS', at(5_000), {}));

        const listed = async (filter: Parameters<JobStore['list']>[0]): Promise<string[]> =>
          ids((await store.list(filter, 100, null)).jobs);
        assert.deepEqual(await listed({}), ids([b2, b1, a2, a1]), 'newest first');
        assert.deepEqual(await listed({ owner: 'alice' }), ids([a2, a1]));
        assert.deepEqual(await listed({ owner: 'carol' }), []);
        assert.deepEqual(await listed({ status: ['QUEUED'] }), ids([b2, a1]));
        assert.deepEqual(await listed({ status: ['RUNNING', 'SUCCESS'] }), ids([b1, a2]));
        assert.deepEqual(await listed({ status: [] }), ids([b2, b1, a2, a1]), 'an empty status list filters nothing');
        assert.deepEqual(await listed({ tag: 'x' }), ids([b1, a1]));
        assert.deepEqual(await listed({ submittedAfter: at(2_000) }), ids([b2, b1]), 'strictly after');
        assert.deepEqual(await listed({ submittedBefore: at(3_000) }), ids([a2, a1]), 'strictly before');
        assert.deepEqual(await listed({ submittedAfter: at(1_000), submittedBefore: at(4_000) }), ids([b1, a2]));
        assert.deepEqual(await listed({ owner: 'bob', tag: 'x', status: ['SUCCESS'] }), ids([b1]));
        assert.deepEqual(await listed({ owner: 'bob', tag: 'x', status: ['QUEUED'] }), []);
      });

      withStore('pages newest first with a seq cursor', async (store) => {
        const jobs: Job[] = [];
        for (let i = 0; i < 7; i++) jobs.push(await store.insert(newJob({ owner: i % 2 ? 'bob' : 'alice' })));
        const newestFirst = ids([...jobs].reverse());
        const seen: string[] = [];
        let cursor: number | null = null;
        const shapes: [number, boolean][] = [];
        for (;;) {
          const page = await store.list({}, 3, cursor);
          shapes.push([page.jobs.length, page.hasNextPage]);
          seen.push(...ids(page.jobs));
          if (!page.hasNextPage) break;
          cursor = page.jobs.at(-1)?.seq ?? null;
        }
        assert.deepEqual(shapes, [
          [3, true],
          [3, true],
          [1, false],
        ]);
        assert.deepEqual(seen, newestFirst);
        const exact = await store.list({}, 7, null);
        assert.equal(exact.hasNextPage, false, 'a page that ends exactly at the last job has no next page');
        const alices = await store.list({ owner: 'alice' }, 2, null);
        assert.deepEqual(ids(alices.jobs), ids([jobs[6], jobs[4]].filter((j): j is Job => j !== undefined)));
        const nextAlices = await store.list({ owner: 'alice' }, 2, alices.jobs.at(-1)?.seq ?? null);
        assert.deepEqual(ids(nextAlices.jobs), ids([jobs[2], jobs[0]].filter((j): j is Job => j !== undefined)));
        assert.equal(nextAlices.hasNextPage, false);
      });
    });

    describe('transition and update', () => {
      withStore('transition is a compare-and-set on sequence', async (store) => {
        const job = await store.insert(newJob());
        const running = await store.transition(job.id, 1, 'RUNNING', at(10_500), { startedAt: at(10_400) });
        assert.ok(running);
        assert.equal(running.status, 'RUNNING');
        assert.equal(running.previousStatus, 'QUEUED');
        assert.equal(running.sequence, 2);
        assert.deepEqual(running.statusChangedAt, at(10_500));
        assert.deepEqual(running.startedAt, at(10_400));
        assert.equal(await store.transition(job.id, 1, 'ABORTING', at(11_000), {}), null, 'stale sequence');
        const stale = await store.get(job.id);
        assert.equal(stale?.status, 'RUNNING');
        assert.equal(stale?.sequence, 2);
        const done = await store.transition(job.id, 2, 'SUCCESS', at(12_000), {
          endedAt: at(12_000),
          progress: null,
          dml: { rowsInserted: 5, rowsUpdated: 0, rowsDeleted: 0 },
          resultExpiresAt: at(99_000),
        });
        assert.ok(done);
        assert.equal(done.previousStatus, 'RUNNING');
        assert.equal(done.sequence, 3);
        assert.deepEqual(done.endedAt, at(12_000));
        assert.deepEqual(done.dml, { rowsInserted: 5, rowsUpdated: 0, rowsDeleted: 0 });
        assert.deepEqual(done.resultExpiresAt, at(99_000));
        assert.deepEqual(await store.get(job.id), done);
        assert.equal(await store.transition('no-such-job', 1, 'RUNNING', at(0), {}), null);
      });

      withStore('racing transitions from one sequence: exactly one wins', async (store, harness) => {
        const peer = await harness.openPeer();
        for (let round = 0; round < 5; round++) {
          const job = await store.insert(newJob());
          const results = await Promise.all([
            store.transition(job.id, 1, 'ABORTING', at(1), {}),
            peer.transition(job.id, 1, 'RUNNING', at(2), {}),
            store.transition(job.id, 1, 'SUCCESS', at(3), {}),
            peer.transition(job.id, 1, 'FAILED_WITH_ERROR', at(4), {}),
          ]);
          const winners = results.filter((r): r is Job => r !== null);
          assert.equal(winners.length, 1, `round ${round}`);
          const stored = await store.get(job.id);
          assert.equal(stored?.status, winners[0]?.status);
          assert.equal(stored?.sequence, 2);
        }
      });

      withStore('update changes fields, not the status', async (store) => {
        const job = await store.insert(newJob());
        const withError = await store.update(job.id, {
          queryId: 'q-1',
          error: { code: 'SQL_ERROR', sqlState: null, message: 'm' },
          progress: { percentage: null, rowsProcessed: null, totalRowsToProcess: 7 },
        });
        assert.equal(withError?.status, 'QUEUED');
        assert.equal(withError?.sequence, 1);
        assert.deepEqual(withError?.statusChangedAt, job.statusChangedAt);
        assert.equal(withError?.queryId, 'q-1');
        assert.deepEqual(withError?.error, { code: 'SQL_ERROR', sqlState: null, message: 'm' });
        assert.deepEqual(withError?.progress, { percentage: null, rowsProcessed: null, totalRowsToProcess: 7 });
        const cleared = await store.update(job.id, { error: null, progress: null, dml: null });
        assert.equal(cleared?.error, null);
        assert.equal(cleared?.progress, null);
        assert.equal(cleared?.dml, null);
        assert.equal(cleared?.queryId, 'q-1', 'fields left out stay');
        assert.deepEqual(await store.update(job.id, {}), cleared, 'an empty patch returns the job');
        assert.equal(await store.update('no-such-job', { queryId: 'q' }), null);
        assert.equal(await store.update('no-such-job', {}), null);
      });
    });

    describe('history (transitionsAfter)', () => {
      const sequences = async (store: JobStore, id: string, after = 0): Promise<number[]> =>
        (await store.transitionsAfter(id, after)).map((e) => e.sequence);

      withStore('insert records sequence 1: the event of the job it returned', async (store) => {
        const job = await store.insert(newJob({ queryText: 'SELECT ?', bindings: [{ b: 1, a: 'é' }, null] }));
        assert.deepEqual(await store.transitionsAfter(job.id, 0), [eventOf(job)]);
        assert.deepEqual(await store.transitionsAfter(job.id, 1), []);
        assert.deepEqual(await store.transitionsAfter('no-such-job', 0), []);
        const again = await store.insert(newJob({ idempotencyKey: 'k' }));
        assert.equal((await store.insert(newJob({ idempotencyKey: 'k' }))).id, again.id);
        assert.deepEqual(await sequences(store, again.id), [1], 'an idempotent repeat records nothing');
      });

      withStore('every transition is recorded, in order, with the job as it was right after it', async (store) => {
        // A long SQL text and bindings: the history reads them from the job, byte for byte.
        const queryText = `SELECT ? -- ${'x'.repeat(50_000)}`;
        const bindings: JsonValue[] = [1e21, 'nul \u0000 🦆', { z: 1, a: [] }];
        const inserted = await store.insert(newJob({ queryText, bindings, tag: 't' }));
        const claimed = await store.claim(inserted.id, at(1_001), lease('me', 60_000));
        assert.ok(claimed);
        await store.update(inserted.id, { queryId: 'q-1', progress: { percentage: 5, rowsProcessed: 1, totalRowsToProcess: null } });
        const running = await store.transition(inserted.id, 1, 'RUNNING', at(2_002), { startedAt: at(2_001) });
        assert.ok(running);
        // Progress is no transition: no event, and the next transition's job carries it.
        await store.update(inserted.id, { progress: { percentage: 50, rowsProcessed: 10, totalRowsToProcess: 20 } });
        assert.ok(await store.renewLeases([inserted.id], lease('me', 90_000)));
        const aborting = await store.transition(inserted.id, 2, 'ABORTING', at(3_003), {});
        assert.ok(aborting);
        const aborted = await store.transition(inserted.id, 3, 'ABORTED', at(4_004), {
          endedAt: at(4_004),
          error: { code: 'QUERY_CANCELLED', sqlState: null, message: 'cancelled ✗' },
          progress: null,
        });
        assert.ok(aborted);
        assert.equal(aborted.sequence, 4);
        await store.update(inserted.id, { resultExpiresAt: at(9_009) });

        const history = await store.transitionsAfter(inserted.id, 0);
        assert.deepEqual(history, [eventOf(inserted), eventOf(running), eventOf(aborting), eventOf(aborted)]);
        assert.equal(history[1]?.job.queryId, 'q-1', 'the update before the transition is in its job');
        assert.deepEqual(history[2]?.job.progress, { percentage: 50, rowsProcessed: 10, totalRowsToProcess: 20 });
        assert.equal(history[3]?.job.resultExpiresAt, null, 'the update after it is not');
        assert.equal(history[0]?.job.queryText, queryText);
        assert.equal(JSON.stringify(history[0]?.job.bindings), JSON.stringify(bindings));
        assert.deepEqual(
          history.map((e) => [e.previousStatus, e.status, e.at.getTime()]),
          [
            [null, 'QUEUED', inserted.submittedAt.getTime()],
            ['QUEUED', 'RUNNING', at(2_002).getTime()],
            ['RUNNING', 'ABORTING', at(3_003).getTime()],
            ['ABORTING', 'ABORTED', at(4_004).getTime()],
          ],
        );
        // Exactly the later ones, from any point.
        for (let after = 0; after <= 5; after++) {
          assert.deepEqual(await store.transitionsAfter(inserted.id, after), history.slice(after), `after ${after}`);
        }
        assert.deepEqual(await store.transitionsAfter(inserted.id, -1), history);
      });

      withStore('a compare-and-set loser records nothing', async (store, harness) => {
        const peer = await harness.openPeer();
        for (let round = 0; round < 5; round++) {
          const job = await store.insert(newJob());
          const results = await Promise.all([
            store.transition(job.id, 1, 'ABORTING', at(1), {}),
            peer.transition(job.id, 1, 'RUNNING', at(2), {}),
            store.transition(job.id, 1, 'SUCCESS', at(3), {}),
            peer.transition(job.id, 1, 'FAILED_WITH_ERROR', at(4), {}),
          ]);
          const winner = results.find((r): r is Job => r !== null);
          assert.ok(winner);
          assert.deepEqual(await peer.transitionsAfter(job.id, 0), [eventOf(job), eventOf(winner)], `round ${round}`);
          assert.equal(await store.transition(job.id, 1, 'RUNNING', at(5), {}), null, 'stale');
          assert.deepEqual(await sequences(store, job.id), [1, 2]);
        }
      });

      withStore('racing writers on two connections: each job\'s history is its gap-free list of winners', async (store, harness) => {
        const peer = await harness.openPeer();
        const jobs = await Promise.all(Array.from({ length: 6 }, () => store.insert(newJob())));
        // Each writer moves each job on from the sequence it last saw, as the TransitionWriter does.
        const writer = async (own: JobStore, statuses: readonly JobStatus[]): Promise<Job[]> => {
          const won: Job[] = [];
          for (const job of jobs) {
            for (const status of statuses) {
              const current = await own.get(job.id);
              assert.ok(current);
              const moved = await own.transition(job.id, current.sequence, status, at(current.sequence), {});
              if (moved) won.push(moved);
            }
          }
          return won;
        };
        const won = (await Promise.all([
          writer(store, ['RUNNING', 'QUEUED', 'RUNNING']),
          writer(peer, ['BLOCKED', 'RUNNING', 'QUEUED']),
        ])).flat();
        for (const job of jobs) {
          const history = await store.transitionsAfter(job.id, 0);
          const final = await store.get(job.id);
          assert.deepEqual(history.map((e) => e.sequence), Array.from({ length: final?.sequence ?? 0 }, (_, i) => i + 1));
          const winners = won.filter((w) => w.id === job.id).sort((a, b) => a.sequence - b.sequence);
          assert.deepEqual(history.slice(1), winners.map(eventOf));
          for (let i = 1; i < history.length; i++) assert.equal(history[i]?.previousStatus, history[i - 1]?.status);
        }
      });

      withStore(`the latest ${TRANSITIONS_KEPT_PER_JOB} transitions of a job are kept`, async (store) => {
        const job = await store.insert(newJob());
        const other = await store.insert(newJob());
        let current: Job = job;
        const moves = TRANSITIONS_KEPT_PER_JOB + 5;
        for (let i = 0; i < moves; i++) {
          const moved = await store.transition(job.id, current.sequence, i % 2 ? 'QUEUED' : 'RUNNING', at(i), {});
          assert.ok(moved);
          current = moved;
        }
        const kept = await sequences(store, job.id);
        const last = moves + 1;
        assert.deepEqual(kept, Array.from({ length: TRANSITIONS_KEPT_PER_JOB }, (_, i) => last - TRANSITIONS_KEPT_PER_JOB + 1 + i));
        assert.deepEqual((await store.transitionsAfter(job.id, last - 1)).map(({ job: j }) => j), [current]);
        assert.deepEqual(await sequences(store, other.id), [1], 'another job keeps its own');
      });
    });

    describe('watches, webhooks and places in line', () => {
      withStore('listUnwatched: jobs whose cancelIfUnwatchedSeconds passed since their last watch (or submission)', async (store) => {
        const never = await store.insert(newJob({ cancelIfUnwatchedSeconds: 10 }));
        const touched = await store.insert(newJob({ cancelIfUnwatchedSeconds: 10 }));
        const without = await store.insert(newJob());
        const ended = await store.insert(newJob({ cancelIfUnwatchedSeconds: 10 }));
        assert.ok(await store.transition(ended.id, 1, 'ABORTED', at(1), {}));
        assert.equal(never.cancelIfUnwatchedSeconds, 10);
        assert.equal(without.cancelIfUnwatchedSeconds, null);
        const late = new Date(touched.submittedAt.getTime() + 10_000);
        assert.deepEqual(sorted(ids(await store.listUnwatched(late, 10))), sorted([never.id, touched.id]));
        await store.touch([touched.id, without.id, ended.id], new Date(late.getTime() - 1));
        assert.deepEqual(ids(await store.listUnwatched(late, 10)), [never.id]);
        assert.deepEqual(sorted(ids(await store.listUnwatched(new Date(late.getTime() + 9_999), 10))), sorted([never.id, touched.id]));
        assert.deepEqual(ids(await store.listUnwatched(new Date(late.getTime() + 9_999), 1)), [never.id], 'oldest first, limited');
        await store.touch([], late);
      });

      withStore('a notification round-trips; listUndelivered finds ended jobs neither delivered nor given up', async (store) => {
        const pending = await store.insert(newJob({ notifyUrl: 'https://hooks.example/a' }));
        assert.deepEqual(pending.notification, {
          url: 'https://hooks.example/a',
          attempts: 0,
          firstAttemptAt: null,
          deliveredAt: null,
          lastError: null,
          gaveUp: false,
        });
        const delivered = await store.insert(newJob({ notifyUrl: 'https://hooks.example/b' }));
        const gaveUp = await store.insert(newJob({ notifyUrl: 'https://hooks.example/c' }));
        const running = await store.insert(newJob({ notifyUrl: 'https://hooks.example/d' }));
        await store.insert(newJob());
        for (const job of [pending, delivered, gaveUp]) assert.ok(await store.transition(job.id, 1, 'ABORTED', at(5_000), { endedAt: at(5_000) }));
        const record = { attempts: 2, firstAttemptAt: at(5_001), deliveredAt: at(5_002), lastError: null, gaveUp: false };
        const updated = await store.update(delivered.id, { notification: { url: 'https://hooks.example/b', ...record } });
        assert.deepEqual(updated?.notification, { url: 'https://hooks.example/b', ...record });
        await store.update(gaveUp.id, {
          notification: { url: 'https://hooks.example/c', attempts: 9, firstAttemptAt: at(5_001), deliveredAt: null, lastError: 'HTTP 500', gaveUp: true },
        });
        assert.deepEqual(ids(await store.listUndelivered(at(4_999), 10)), [pending.id]);
        assert.deepEqual(ids(await store.listUndelivered(at(5_000), 10)), [], 'ended after the bound only');
        assert.equal((await store.get(running.id))?.notification?.attempts, 0);
      });

      withStore('countWaitingBefore: older waiting jobs of the owner and of every owner not passed over', async (store) => {
        const a1 = await store.insert(newJob({ owner: 'a' }));
        const b1 = await store.insert(newJob({ owner: 'b' }));
        const a2 = await store.insert(newJob({ owner: 'a' }));
        const c1 = await store.insert(newJob({ owner: 'c' }));
        const dispatched = await store.insert(newJob({ owner: 'c' }));
        assert.ok(await store.claim(dispatched.id, at(1), lease('me', 60_000)));
        const b2 = await store.insert(newJob({ owner: 'b' }));
        assert.equal(await store.countWaitingBefore(a1.seq, 'a', []), 0);
        assert.equal(await store.countWaitingBefore(c1.seq, 'c', []), 3);
        assert.equal(await store.countWaitingBefore(b2.seq, 'b', []), 4, 'the dispatched job is not waiting');
        // a holds its share: b and c pass a's jobs; a's own jobs still wait behind each other.
        assert.equal(await store.countWaitingBefore(c1.seq, 'c', ['a']), 1);
        assert.equal(await store.countWaitingBefore(a2.seq, 'a', ['a']), 2);
        assert.equal(await store.countWaitingBefore(b2.seq, 'b', ['a', 'c']), 1);
        void b1;
      });
    });

    describe('claim and the waiting queue', () => {
      withStore('claim marks a queued job dispatched once', async (store, harness) => {
        const job = await store.insert(newJob());
        const claimed = await store.claim(job.id, at(20_007), lease('me', 80_000));
        assert.ok(claimed);
        assert.deepEqual(claimed.dispatchedAt, at(20_007));
        assert.equal(claimed.status, 'QUEUED');
        assert.equal(claimed.sequence, 1);
        assert.equal(await store.claim(job.id, at(20_008), lease('me', 80_000)), null, 'second claim');
        assert.deepEqual((await store.get(job.id))?.dispatchedAt, at(20_007));

        const cancelled = await store.insert(newJob());
        assert.ok(await store.transition(cancelled.id, 1, 'ABORTING', at(1), {}));
        assert.equal(await store.claim(cancelled.id, at(2), lease('me', 80_000)), null, 'cancelled');
        const aborted = await store.insert(newJob());
        assert.ok(await store.transition(aborted.id, 1, 'ABORTED', at(1), {}));
        assert.equal(await store.claim(aborted.id, at(2), lease('me', 80_000)), null, 'aborted');
        assert.equal(await store.claim('no-such-job', at(2), lease('me', 80_000)), null);

        const peer = await harness.openPeer();
        const contested = await store.insert(newJob());
        const claims = await Promise.all([
          store.claim(contested.id, at(3), lease('a', 80_000)),
          peer.claim(contested.id, at(4), lease('b', 80_000)),
          store.claim(contested.id, at(5), lease('c', 80_000)),
          peer.claim(contested.id, at(6), lease('d', 80_000)),
        ]);
        assert.equal(claims.filter((c) => c !== null).length, 1, 'racing claims: one wins');
      });

      withStore('countActive, countWaiting and listWaiting', async (store) => {
        const a1 = await store.insert(newJob({ owner: 'alice' }));
        const b1 = await store.insert(newJob({ owner: 'bob' }));
        const a2 = await store.insert(newJob({ owner: 'alice' }));
        const c1 = await store.insert(newJob({ owner: 'carol' }));
        const a3 = await store.insert(newJob({ owner: 'alice' }));
        const b2 = await store.insert(newJob({ owner: 'bob' }));
        assert.ok(await store.claim(a2.id, at(1), lease('me', 60_000)), 'dispatched: active, not waiting');
        const running = await store.transition(a3.id, 1, 'RUNNING', at(1), {});
        assert.ok(running);
        assert.ok(await store.transition(b2.id, 1, 'FAILED_WITH_ERROR', at(1), {}), 'terminal: neither');
        const aborting = await store.insert(newJob({ owner: 'bob' }));
        assert.ok(await store.transition(aborting.id, 1, 'ABORTING', at(1), {}));

        assert.equal(await store.countActive('alice'), 3);
        assert.equal(await store.countActive('bob'), 2, 'ABORTING is not terminal');
        assert.equal(await store.countActive('carol'), 1);
        assert.equal(await store.countActive('dave'), 0);
        assert.equal(await store.countWaiting(), 3);
        assert.deepEqual(ids(await store.listWaiting(10)), ids([a1, b1, c1]), 'oldest first');
        assert.deepEqual(ids(await store.listWaiting(2)), ids([a1, b1]), 'limit');
        assert.deepEqual(ids(await store.listWaiting(10, [])), ids([a1, b1, c1]));
        assert.deepEqual(ids(await store.listWaiting(10, ['alice'])), ids([b1, c1]));
        assert.deepEqual(ids(await store.listWaiting(10, ['alice', 'carol'])), ids([b1]));
        assert.deepEqual(ids(await store.listWaiting(1, ['alice'])), ids([b1]));
        assert.deepEqual(ids(await store.listWaiting(10, ['alice', 'bob', 'carol'])), []);
      });
    });

    describe('results, lookups and counts', () => {
      withStore('listExpiredResults and markResultsDeleted', async (store) => {
        const make = async (expiresOffset: number | null): Promise<Job> => {
          const job = await store.insert(newJob());
          const done = await store.transition(job.id, 1, 'SUCCESS', at(0), {
            ...(expiresOffset === null ? {} : { resultExpiresAt: at(expiresOffset) }),
          });
          assert.ok(done);
          return done;
        };
        const late = await make(50_000);
        const early = await make(10_000);
        const middle = await make(30_000);
        const exact = await make(40_000);
        await make(null);
        assert.deepEqual(ids(await store.listExpiredResults(at(40_000), 10)), ids([early, middle, exact]), 'by expiry, inclusive');
        assert.deepEqual(ids(await store.listExpiredResults(at(40_000), 2)), ids([early, middle]));
        assert.deepEqual(await store.listExpiredResults(at(9_999), 10), []);
        await store.markResultsDeleted([early.id, middle.id]);
        await store.markResultsDeleted([]);
        assert.deepEqual(ids(await store.listExpiredResults(at(60_000), 10)), ids([exact, late]));
        await store.markResultsDeleted([exact.id, late.id, 'no-such-job']);
        assert.deepEqual(await store.listExpiredResults(at(60_000), 10), []);
        assert.equal((await store.get(early.id))?.status, 'SUCCESS', 'the job itself stays');
      });

      withStore('findByQueryId finds the first job of a query id', async (store) => {
        const first = await store.insert(newJob());
        const second = await store.insert(newJob());
        await store.insert(newJob());
        await store.update(second.id, { queryId: 'q-shared' });
        await store.update(first.id, { queryId: 'q-shared' });
        assert.equal((await store.findByQueryId('q-shared'))?.id, first.id);
        assert.equal(await store.findByQueryId('q-none'), null);
      });

      withStore('listUnfinished is every non-terminal job, oldest first', async (store) => {
        const jobs: Job[] = [];
        for (const status of JOB_STATUSES) {
          const job = await store.insert(newJob());
          if (status !== 'QUEUED') assert.ok(await store.transition(job.id, 1, status, at(1), {}));
          jobs.push({ ...job, status });
        }
        const unfinished = jobs.filter((j) => !TERMINAL_STATUSES.has(j.status));
        assert.deepEqual(ids(await store.listUnfinished()), ids(unfinished));
      });

      withStore('countByStatus counts each status and leaves out the empty ones', async (store) => {
        assert.deepEqual(await store.countByStatus(), {});
        const plan: [JobStatus, number][] = [
          ['QUEUED', 3],
          ['RUNNING', 2],
          ['SUCCESS', 4],
          ['ABORTED', 1],
        ];
        for (const [status, n] of plan) {
          for (let i = 0; i < n; i++) {
            const job = await store.insert(newJob());
            if (status !== 'QUEUED') assert.ok(await store.transition(job.id, 1, status, at(1), {}));
          }
        }
        const counts = await store.countByStatus();
        assert.deepEqual(counts, Object.fromEntries(plan));
        for (const n of Object.values(counts)) assert.equal(typeof n, 'number');
      });
    });

    describe('leases', () => {
      withStore('claim takes the lease: others wait for it to run out', async (store) => {
        const job = await store.insert(newJob());
        assert.ok(await store.claim(job.id, at(0), lease('a', 30_000)));
        assert.deepEqual(await store.acquireLeases(lease('b', 90_000), at(29_999), 10), [], 'a live lease');
        const taken = await store.acquireLeases(lease('b', 90_000), at(30_000), 10);
        assert.deepEqual(ids(taken), [job.id], 'runs out at `until`');
        assert.equal(taken[0]?.status, 'QUEUED');
        assert.deepEqual(await store.acquireLeases(lease('a', 200_000), at(89_999), 10), [], 'now b holds it');
      });

      withStore("a holder re-takes its own live lease, and that extends it", async (store) => {
        const [job] = await dispatchedJobs(store, 1);
        assert.ok(job);
        assert.deepEqual(ids(await store.acquireLeases(lease('a', 10_000), at(0), 10)), [job.id]);
        assert.deepEqual(ids(await store.acquireLeases(lease('a', 50_000), at(5_000), 10)), [job.id]);
        assert.deepEqual(await store.acquireLeases(lease('b', 99_000), at(20_000), 10), [], 'extended to 50 s');
        assert.deepEqual(ids(await store.acquireLeases(lease('b', 99_000), at(50_000), 10)), [job.id]);
      });

      withStore('acquireLeases: oldest first, up to the limit; terminal and undispatched jobs never', async (store) => {
        const waiting = await store.insert(newJob());
        const [d1, d2, d3] = await dispatchedJobs(store, 3);
        assert.ok(d1 && d2 && d3);
        const running = await store.transition(d2.id, 1, 'RUNNING', at(1), {});
        assert.ok(running);
        const aborting = await store.transition(d3.id, 1, 'ABORTING', at(1), {});
        assert.ok(aborting);
        const ended: Job[] = [];
        for (const status of TERMINAL_STATUSES) {
          const [job] = await dispatchedJobs(store, 1);
          assert.ok(job);
          assert.ok(await store.transition(job.id, 1, status, at(1), {}));
          ended.push(job);
        }
        // A job that ended while leased is not taken over either.
        const [leasedThenEnded] = await dispatchedJobs(store, 1);
        assert.ok(leasedThenEnded);
        assert.ok(ids(await store.acquireLeases(lease('x', 1_000), at(0), 100)).includes(leasedThenEnded.id));
        assert.ok(await store.transition(leasedThenEnded.id, 1, 'SUCCESS', at(1), {}));

        const first = await store.acquireLeases(lease('a', 60_000), at(2_000), 2);
        assert.deepEqual(ids(first), ids([d1, d2]));
        const rest = await store.acquireLeases(lease('b', 60_000), at(2_000), 100);
        assert.deepEqual(ids(rest), ids([d3]));
        const all = await store.acquireLeases(lease('c', 60_000), at(10_000_000), 100);
        assert.deepEqual(ids(all), ids([d1, d2, d3]), 'far in the future, only the three');
        for (const job of [waiting, ...ended, leasedThenEnded]) assert.ok(!ids(all).includes(job.id));
        assert.equal((await store.get(waiting.id))?.dispatchedAt, null);
      });

      withStore('two holders racing acquireLeases never share a job and together take all', async (store, harness) => {
        const peer = await harness.openPeer();
        const jobs = await dispatchedJobs(store, 50);
        for (let round = 0; round < 5; round++) {
          const [a, b] = await Promise.all([
            store.acquireLeases(lease(`a${round}`, 60_000), at(0), 50),
            peer.acquireLeases(lease(`b${round}`, 60_000), at(0), 50),
          ]);
          const taken = [...ids(a), ...ids(b)];
          assert.equal(new Set(taken).size, taken.length, `round ${round}: a job went to both`);
          assert.deepEqual(sorted(taken), sorted(ids(jobs)), `round ${round}: every job went to someone`);
          for (const list of [a, b]) {
            assert.deepEqual(
              list.map((j) => j.seq),
              [...list].map((j) => j.seq).sort((x, y) => x - y),
              'oldest first',
            );
          }
          await store.releaseLeases(`a${round}`, ids(a));
          await peer.releaseLeases(`b${round}`, ids(b));
        }
      });

      withStore('four holders on two connections, small batches, until all are taken', async (store, harness) => {
        const peer = await harness.openPeer();
        const jobs = await dispatchedJobs(store, 120);
        const owner = new Map<string, string>();
        const holders = ['h0', 'h1', 'h2', 'h3'];
        // Each sweep a holder asks for what it holds plus a few (its own live leases come back first).
        for (let sweep = 0; sweep < 20 && owner.size < jobs.length; sweep++) {
          const held = (h: string): number => [...owner.values()].filter((o) => o === h).length;
          const batches = await Promise.all(
            holders.map((h, i) => (i % 2 ? peer : store).acquireLeases(lease(h, 60_000), at(0), held(h) + 7)),
          );
          const before = new Map(owner);
          batches.forEach((batch, i) => {
            const holder = holders[i] ?? '';
            for (const job of batch) {
              const previous = owner.get(job.id);
              assert.ok(previous === undefined || previous === holder, `${job.id}: ${previous} and ${holder}`);
              owner.set(job.id, holder);
            }
            const kept = new Set(ids(batch));
            for (const [id, h] of before) if (h === holder) assert.ok(kept.has(id), `${holder} lost ${id}`);
          });
        }
        assert.equal(owner.size, jobs.length);
      });

      withStore('renewLeases returns the ids still held', async (store) => {
        const x = await store.insert(newJob());
        const y = await store.insert(newJob());
        const z = await store.insert(newJob());
        assert.ok(await store.claim(x.id, at(0), lease('a', 10_000)));
        assert.ok(await store.claim(y.id, at(0), lease('a', 30_000)));
        assert.ok(await store.claim(z.id, at(0), lease('b', 30_000)));
        assert.deepEqual(ids(await store.acquireLeases(lease('b', 60_000), at(20_000), 10)), ids([x, z]), 'x ran out');
        const renewed = await store.renewLeases([x.id, y.id, z.id, 'no-such-job'], lease('a', 90_000));
        assert.deepEqual(renewed, [y.id], 'x was taken over; z was never a');
        assert.deepEqual(await store.renewLeases([], lease('a', 90_000)), []);
        // y now runs to 90 s: b cannot take it at 60 s.
        assert.deepEqual(ids(await store.acquireLeases(lease('b', 100_000), at(60_000), 10)), ids([x, z]));
        assert.deepEqual(ids(await store.acquireLeases(lease('b', 100_000), at(90_000), 10)), ids([x, y, z]));
        assert.deepEqual(await store.renewLeases([y.id], lease('a', 200_000)), []);
        // The holder renews an own lease that ran out if no one took it.
        const w = await store.insert(newJob());
        assert.ok(await store.claim(w.id, at(0), lease('c', 1_000)));
        assert.deepEqual(await store.renewLeases([w.id], lease('c', 500_000)), [w.id]);
        assert.deepEqual(ids(await store.acquireLeases(lease('d', 600_000), at(400_000), 10)), ids([x, y, z]));
      });

      withStore('releaseLeases frees a job for another holder at once; only the holder releases', async (store, harness) => {
        const peer = await harness.openPeer();
        const x = await store.insert(newJob());
        const y = await store.insert(newJob());
        assert.ok(await store.claim(x.id, at(0), lease('a', 60_000)));
        assert.ok(await store.claim(y.id, at(0), lease('a', 60_000)));
        await peer.releaseLeases('b', [x.id, y.id]);
        assert.deepEqual(await peer.acquireLeases(lease('b', 60_000), at(1_000), 10), [], 'b cannot release a lease');
        await store.releaseLeases('a', [x.id]);
        await store.releaseLeases('a', []);
        assert.deepEqual(ids(await peer.acquireLeases(lease('b', 60_000), at(1_000), 10)), ids([x]));
        assert.deepEqual(await store.renewLeases([x.id, y.id], lease('a', 70_000)), [y.id]);
      });
    });
  });
}
