/**
 * `Job.progress` on the embedded warehouse, through a real server: the engine samples a running
 * statement's progress, the API shows it while the job is RUNNING, without transitions (the
 * sequence does not move; subscribers get PROGRESS events that repeat it, at most about 4 a
 * second), an unknown progress (`range()`) is null and never 0, and DuckDB's progress bar prints nothing (a server in its own
 * process, as `npm start` runs it, so its output can be read).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { JobStatusEvent } from '../../src/core/job.ts';
import { collect, gqlData, submit, waitForEnd, wsClient } from '../helpers/client.ts';
import { type ServerProcess, spawnServer } from '../helpers/process.ts';
import { startServer, type TestServer, tempDir } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait-for.ts';

/** Rows of the scanned table: its scan below takes about 2 s on two threads. */
const ROWS = 20_000_000;
const CREATE = `create table t as select range::bigint as x from range(${ROWS})`;
const SCAN = `select count(*) as n, sum(x) as s from t where md5(x::varchar) like 'a%'`;
/** A table function without a progress callback: DuckDB cannot tell how far it is. */
const RANGE = 'select sum(hash(range)) from range(150000000)';

const PROGRESS_FIELDS = 'id status isTerminal progress { percentage rowsProcessed totalRowsToProcess }';
const SUBSCRIPTION = `subscription($id: ID!) { jobStatus(id: $id) { kind status sequence at job { id status progress { percentage } } } }`;
const TERMINAL = ['SUCCESS', 'FAILED_WITH_ERROR', 'FAILED_WITH_INCIDENT', 'ABORTED', 'DISCONNECTED'];

interface Progress {
  percentage: number | null;
  rowsProcessed: number | null;
  totalRowsToProcess: number | null;
}
interface Snapshot {
  status: string;
  progress: Progress | null;
}

/** Reads the job through the API every 50 ms until it ends; every answer, in order. */
async function watch(url: string, id: string, onRead: (s: Snapshot) => void | Promise<void> = () => {}): Promise<Snapshot[]> {
  const seen: Snapshot[] = [];
  await waitFor(
    async () => {
      const data = await gqlData(url, `query($id: ID!) { job(id: $id) { ${PROGRESS_FIELDS} } }`, { id });
      seen.push(data.job);
      await onRead(data.job);
      return TERMINAL.includes(data.job.status);
    },
    { timeoutMs: 60_000, intervalMs: 50, what: () => `job ${id} to end (last seen ${JSON.stringify(seen.at(-1))})` },
  );
  return seen;
}

/** Every event the bus carries for `jobId` from now on (the QUEUED one of a submit already went). */
function busEvents(server: TestServer, jobId: string): { events: JobStatusEvent[]; stop: () => void } {
  const stream = server.app.bus.subscribe(jobId);
  const events: JobStatusEvent[] = [];
  void (async () => {
    for await (const event of stream) events.push(event);
  })();
  return { events, stop: () => void stream.return?.() };
}

const isBetween = (p: Progress | null): boolean => p?.percentage != null && p.percentage > 0 && p.percentage < 100;

describe('Job.progress on the embedded warehouse', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
    const created = await waitForEnd(server.url, (await submit(server.url, CREATE)).id, 60_000);
    assert.equal(created.status, 'SUCCESS', JSON.stringify(created.error));
  });
  after(() => server.stop());

  test('a table scan shows a percentage between 0 and 100 while RUNNING, and 100 at SUCCESS', async () => {
    const job = await submit(server.url, SCAN);
    const bus = busEvents(server, job.id);
    const seen = await watch(server.url, job.id);
    bus.stop();
    const shown = seen.filter((s) => s.status === 'RUNNING' && s.progress?.percentage != null).map((s) => s.progress as Progress);
    assert.ok(
      shown.some(isBetween),
      `no percentage strictly between 0 and 100 while RUNNING: ${JSON.stringify(seen.map((s) => [s.status, s.progress?.percentage]))}`,
    );
    for (const p of shown) {
      assert.ok(p.percentage !== null && p.percentage > 0 && p.percentage <= 100, JSON.stringify(p));
      assert.ok(p.rowsProcessed !== null && p.rowsProcessed > 0, JSON.stringify(p));
      assert.ok(p.totalRowsToProcess !== null && p.rowsProcessed <= p.totalRowsToProcess, JSON.stringify(p));
    }
    const percentages = shown.map((p) => p.percentage as number);
    assert.deepEqual(percentages, [...percentages].sort((a, b) => a - b), 'one statement only moves forward');
    assert.ok(new Set(percentages).size >= 2, `progress moved while RUNNING: ${percentages.join(', ')}`);
    const last = seen.at(-1) as Snapshot;
    assert.equal(last.status, 'SUCCESS');
    assert.equal(last.progress?.percentage, 100);
    // However often its progress changed, the bus carried two transitions at most: RUNNING (unless
    // it came before the listener did) and SUCCESS, sequences 2 and 3; the rest are PROGRESS
    // events of RUNNING 2.
    const transitions = bus.events.filter((e) => e.kind === 'TRANSITION');
    assert.deepEqual(
      transitions.map((e) => [e.status, e.sequence]).filter(([status]) => status !== 'RUNNING'),
      [['SUCCESS', 3]],
    );
    const progress = bus.events.filter((e) => e.kind === 'PROGRESS');
    assert.ok(progress.length >= 2, `PROGRESS events: ${progress.length}`);
    for (const e of progress) {
      assert.equal(e.status, 'RUNNING');
      assert.equal(e.sequence, 2);
      assert.ok(e.job.progress, 'a PROGRESS event carries the job with its progress');
    }
    // Throttled at the source: about 4 a second (a burst of 2), however often DuckDB moved.
    const span = (progress.at(-1)!.at.getTime() - progress[0]!.at.getTime()) / 1000;
    assert.ok(progress.length <= 2 + Math.ceil(span * 4) + 1, `${progress.length} PROGRESS events in ${span} s`);
  });

  test('progress moves no sequence: a subscriber joining mid-run gets RUNNING 2, PROGRESS events of 2, then SUCCESS 3', async () => {
    const client = wsClient(server.wsUrl);
    try {
      const job = await submit(server.url, SCAN);
      let subscription: Promise<{ events: any[]; errors: unknown }> | null = null;
      let progressAtJoin: Progress | null = null;
      const seen = await watch(server.url, job.id, (s) => {
        // Once progress has been written a few times, join.
        if (!subscription && s.status === 'RUNNING' && isBetween(s.progress)) {
          progressAtJoin = s.progress;
          subscription = collect(client, SUBSCRIPTION, { id: job.id });
        }
      });
      assert.ok(subscription, `the job showed progress while RUNNING: ${JSON.stringify(seen)}`);
      const { events, errors } = await (subscription as Promise<{ events: any[]; errors: unknown }>);
      assert.equal(errors, null);
      const kinds = events.map((e) => e.jobStatus);
      assert.deepEqual(
        kinds.filter((e) => e.kind === 'TRANSITION').map((e) => [e.status, e.sequence]),
        [
          ['RUNNING', 2],
          ['SUCCESS', 3],
        ],
      );
      assert.deepEqual(kinds[0].status, 'RUNNING');
      assert.deepEqual(kinds.at(-1).kind, 'TRANSITION');
      const progress = kinds.filter((e) => e.kind === 'PROGRESS');
      assert.ok(progress.length >= 1, `the subscriber got PROGRESS events: ${JSON.stringify(kinds)}`);
      for (const e of progress) assert.deepEqual([e.status, e.sequence], ['RUNNING', 2]);
      const percentages = progress.map((e) => e.job.progress.percentage as number);
      assert.deepEqual(percentages, [...percentages].sort((a, b) => a - b), 'in order');
      const later = seen.filter((s) => s.status === 'RUNNING' && s.progress?.percentage !== (progressAtJoin as Progress | null)?.percentage);
      assert.ok(later.length >= 1, 'progress kept changing after the subscriber joined');
    } finally {
      await client.dispose();
    }
  });

  test('a range() query reports an unknown progress (nulls), never 0', async () => {
    const job = await submit(server.url, RANGE);
    const seen = await watch(server.url, job.id);
    const running = seen.filter((s) => s.status === 'RUNNING');
    assert.ok(running.length > 3, `the query ran long enough to be sampled: ${running.length} reads while RUNNING`);
    const sampled = running.filter((s) => s.progress !== null);
    assert.ok(sampled.length > 0, `the engine sampled it: ${JSON.stringify(running)}`);
    for (const s of sampled) assert.deepEqual(s.progress, { percentage: null, rowsProcessed: null, totalRowsToProcess: null });
    const last = seen.at(-1) as Snapshot;
    assert.equal(last.status, 'SUCCESS');
    // It did all its work: 100%, its row counts still unknown.
    assert.deepEqual(last.progress, { percentage: 100, rowsProcessed: null, totalRowsToProcess: null });
  });

  test('a query too short to be sampled has no progress', async () => {
    const job = await waitForEnd(server.url, (await submit(server.url, 'select 42')).id, 10_000, PROGRESS_FIELDS);
    assert.equal(job.status, 'SUCCESS');
    assert.equal(job.progress, null);
  });

  test('a failed or cancelled job keeps the progress it reached', async () => {
    const job = await submit(server.url, SCAN);
    await watch(server.url, job.id, async (s) => {
      if (s.status === 'RUNNING' && isBetween(s.progress)) await gqlData(server.url, `mutation { cancelJob(id: "${job.id}") { job { id } } }`);
    });
    const ended = await waitForEnd(server.url, job.id, 30_000, PROGRESS_FIELDS);
    assert.equal(ended.status, 'ABORTED');
    assert.ok(isBetween(ended.progress), JSON.stringify(ended.progress));
  });
});

describe("DuckDB's progress bar", () => {
  let server: ServerProcess;
  before(async () => {
    server = await spawnServer({ JOBQL_DATA_DIR: tempDir() });
    const created = await waitForEnd(server.url, (await submit(server.url, CREATE)).id, 60_000);
    assert.equal(created.status, 'SUCCESS', JSON.stringify(created.error));
  });
  after(async () => {
    server.child.kill('SIGTERM');
    await server.exited;
  });

  test("prints nothing, even when the job's SQL turns its printer on", async () => {
    // The printer waits progress_bar_time (2 s, locked) before it draws: this scan runs longer.
    const sql = `pragma enable_print_progress_bar; select count(*), sum(x) from t where md5(x::varchar) like 'a%' or md5((x + 1)::varchar) like 'b%'`;
    const job = await waitForEnd(server.url, (await submit(server.url, sql)).id, 60_000, `${PROGRESS_FIELDS} startedAt endedAt`);
    assert.equal(job.status, 'SUCCESS');
    assert.ok(Date.parse(job.endedAt) - Date.parse(job.startedAt) > 2500, 'it ran long enough to be drawn');
    assert.equal(job.progress?.percentage, 100);
    const output = server.output();
    assert.doesNotMatch(output, /[▕▏█]|seconds remaining/, `the server's stdout and stderr: ${output.slice(-2000)}`);
  });
});
