/** What a warehouse report means for a job: the pure planning, then the applier over fake ports. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InProcessEventBus } from '../../src/events/in-process-event-bus.ts';
import type { Job, JobError, JobProgress, JobStatusEvent } from '../../src/core/job.ts';
import type { EventBus } from '../../src/events/event-bus.ts';
import type { QueryState } from '../../src/core/results.ts';
import { canTransition, type JobStatus } from '../../src/core/status.ts';
import type { JobPatch, JobStore } from '../../src/store/job-store.ts';
import { TransitionWriter } from '../../src/jobs/transitions.ts';
import {
  nextStep,
  PROGRESS_WRITES_PER_SECOND,
  type ProgressBudget,
  takeProgressWrite,
  WarehouseStates,
} from '../../src/jobs/warehouse-states.ts';
import { fakeClock, jobWith, silentLogger } from './fakes.ts';

const TTL_MS = 3_600_000;
const started = new Date('2026-01-01T00:00:01Z');
const ended = new Date('2026-01-01T00:00:02Z');
const now = new Date('2026-01-01T00:00:05Z');

function state(status: JobStatus, fields: Partial<QueryState> = {}): QueryState {
  return { status, startedAt: null, endedAt: null, error: null, progress: null, dml: null, ...fields };
}

describe('nextStep', () => {
  test('a query that started is RUNNING, with its start time', () => {
    assert.deepEqual(nextStep(jobWith(), state('RUNNING', { startedAt: started }), TTL_MS, now), {
      kind: 'transition',
      to: 'RUNNING',
      patch: { startedAt: started, progress: null },
    });
  });

  test('a query that ran and ended between two polls shows RUNNING first, at its real start', () => {
    const report = state('SUCCESS', { startedAt: started, endedAt: ended });
    assert.deepEqual(nextStep(jobWith(), report, TTL_MS, now), {
      kind: 'transition',
      to: 'RUNNING',
      patch: { startedAt: started, progress: null },
      at: started,
    });
    const running = jobWith({ status: 'RUNNING', startedAt: started, sequence: 2 });
    assert.deepEqual(nextStep(running, report, TTL_MS, now), {
      kind: 'transition',
      to: 'SUCCESS',
      patch: { progress: null, endedAt: ended, error: null, dml: null, resultExpiresAt: new Date(ended.getTime() + TTL_MS) },
    });
  });

  test('an end without a time ends now; only SUCCESS has a result to expire', () => {
    const running = jobWith({ status: 'RUNNING', startedAt: started });
    const error: JobError = { code: 'SQL_ERROR', sqlState: null, message: 'boom' };
    assert.deepEqual(nextStep(running, state('FAILED_WITH_ERROR', { error }), TTL_MS, now), {
      kind: 'transition',
      to: 'FAILED_WITH_ERROR',
      patch: { progress: null, endedAt: now, error, dml: null },
    });
  });

  test('ABORTING holds until the warehouse reports an end, whichever end it is', () => {
    const aborting = jobWith({ status: 'ABORTING', startedAt: started });
    assert.equal(nextStep(aborting, state('RUNNING', { startedAt: started }), TTL_MS, now), null);
    assert.equal(nextStep(aborting, state('ABORTED'), TTL_MS, now)?.kind, 'transition');
    const won = nextStep(aborting, state('SUCCESS', { endedAt: ended }), TTL_MS, now);
    assert.equal(won?.kind === 'transition' && won.to, 'SUCCESS', 'a cancel can lose the race with the end');
  });

  test('a job cancelled before its start was seen goes straight to its end, keeping the start time', () => {
    const aborting = jobWith({ status: 'ABORTING' });
    const step = nextStep(aborting, state('ABORTED', { startedAt: started, endedAt: ended }), TTL_MS, now);
    assert.equal(step?.kind === 'transition' && step.to, 'ABORTED');
    assert.equal(step?.kind === 'transition' && step.patch.startedAt, started);
  });

  test('a RUNNING job without a start time that ends goes straight to its end', () => {
    const running = jobWith({ status: 'RUNNING' });
    const step = nextStep(running, state('SUCCESS', { startedAt: started, endedAt: ended }), TTL_MS, now);
    assert.equal(step?.kind === 'transition' && step.to, 'SUCCESS');
    assert.equal(step?.kind === 'transition' && step.patch.startedAt, started);
  });

  test("an end that brings the warehouse's own start time corrects the start noticed", () => {
    const noticed = new Date(started.getTime() + 400);
    const running = jobWith({ status: 'RUNNING', startedAt: noticed, sequence: 2 });
    const step = nextStep(running, state('SUCCESS', { startedAt: started, endedAt: ended }), TTL_MS, now);
    assert.equal(step?.kind === 'transition' && step.to, 'SUCCESS');
    assert.equal(step?.kind === 'transition' && step.patch.startedAt, started);
    const same = nextStep({ ...running, startedAt: started }, state('SUCCESS', { startedAt: started, endedAt: ended }), TTL_MS, now);
    assert.equal(same?.kind === 'transition' && 'startedAt' in same.patch, false, 'an unchanged start is not written again');
  });

  test('progress alone is a progress step, not a transition; the same progress is nothing', () => {
    const progress = { percentage: 50, rowsProcessed: 5, totalRowsToProcess: 10 };
    const running = jobWith({ status: 'RUNNING', startedAt: started });
    assert.deepEqual(nextStep(running, state('RUNNING', { startedAt: started, progress }), TTL_MS, now), { kind: 'progress', progress });
    const seen = { ...running, progress: { ...progress } };
    assert.equal(nextStep(seen, state('RUNNING', { startedAt: started, progress }), TTL_MS, now), null, 'equal values, other objects');
    const later = { percentage: 62.5, rowsProcessed: 6, totalRowsToProcess: 10 };
    assert.deepEqual(nextStep(seen, state('RUNNING', { startedAt: started, progress: later }), TTL_MS, now), { kind: 'progress', progress: later });
  });

  test('an unknown progress (every field null) is a change from a known one and from none, never 0', () => {
    const unknown = { percentage: null, rowsProcessed: null, totalRowsToProcess: null };
    const running = jobWith({ status: 'RUNNING', startedAt: started });
    assert.deepEqual(nextStep(running, state('RUNNING', { startedAt: started, progress: unknown }), TTL_MS, now), {
      kind: 'progress',
      progress: unknown,
    });
    const known = { ...running, progress: { percentage: 10, rowsProcessed: 1, totalRowsToProcess: 10 } };
    assert.deepEqual(nextStep(known, state('RUNNING', { startedAt: started, progress: unknown }), TTL_MS, now), {
      kind: 'progress',
      progress: unknown,
    });
    assert.equal(nextStep({ ...running, progress: unknown }, state('RUNNING', { startedAt: started, progress: { ...unknown } }), TTL_MS, now), null);
  });

  test('a job that is ABORTING still takes progress, without a transition', () => {
    const progress = { percentage: 30, rowsProcessed: 3, totalRowsToProcess: 10 };
    const aborting = jobWith({ status: 'ABORTING', startedAt: started });
    assert.deepEqual(nextStep(aborting, state('RUNNING', { startedAt: started, progress }), TTL_MS, now), { kind: 'progress', progress });
  });

  test('the end carries the progress the warehouse ended with, in its transition', () => {
    const progress = { percentage: 100, rowsProcessed: 10, totalRowsToProcess: 10 };
    const running = jobWith({ status: 'RUNNING', startedAt: started, progress: { percentage: 80, rowsProcessed: 8, totalRowsToProcess: 10 } });
    const step = nextStep(running, state('SUCCESS', { startedAt: started, endedAt: ended, progress }), TTL_MS, now);
    assert.equal(step?.kind, 'transition');
    assert.deepEqual(step?.kind === 'transition' && step.patch.progress, progress);
  });

  test('a terminal job takes no step, whatever the warehouse says', () => {
    assert.equal(nextStep(jobWith({ status: 'SUCCESS' }), state('RUNNING'), TTL_MS, now), null);
    const progress = { percentage: 40, rowsProcessed: 4, totalRowsToProcess: 10 };
    for (const status of ['SUCCESS', 'FAILED_WITH_ERROR', 'ABORTED', 'FAILED_WITH_INCIDENT', 'DISCONNECTED'] as const) {
      const ended = jobWith({ status, startedAt: started, progress: null });
      assert.equal(nextStep(ended, state('RUNNING', { startedAt: started, progress }), TTL_MS, now), null, status);
    }
  });
});

describe('takeProgressWrite', () => {
  test('a job starts with a burst of two writes, then gets four a second', () => {
    let budget: ProgressBudget | undefined;
    const at = (ms: number): boolean => {
      const taken = takeProgressWrite(budget, ms);
      budget = taken.budget;
      return taken.allowed;
    };
    assert.deepEqual([at(0), at(0), at(0)], [true, true, false]);
    assert.equal(at(100), false, '0.4 of a token');
    assert.equal(at(250), true, 'a whole token after 250 ms');
    assert.equal(at(260), false);
    // Reports every 250 ms, a little early or late, are all written: the burst absorbs the jitter.
    assert.deepEqual([1000, 1240, 1510, 1740, 2010, 2240, 2505].map(at), [true, true, true, true, true, true, true]);
    // Over a second of reports every 50 ms: at most 4 writes (plus what the bucket held).
    let written = 0;
    for (let t = 5000; t < 6000; t += 50) if (at(t)) written += 1;
    assert.ok(written <= PROGRESS_WRITES_PER_SECOND + 2, `${written} writes in one second`);
    assert.ok(written >= PROGRESS_WRITES_PER_SECOND, `${written} writes in one second`);
  });

  test('the bucket holds no more than its burst, however long the job was quiet', () => {
    const { budget } = takeProgressWrite({ tokens: 0, at: 0 }, 60_000);
    assert.ok(budget.tokens <= 1);
  });
});

/** A one-job store: transition is a compare-and-set on sequence, as the real ones do. */
function oneJobStore(initial: Job) {
  let job = initial;
  const updates: JobPatch[] = [];
  const store = {
    get: async () => job,
    update: async (_id: string, patch: JobPatch) => {
      updates.push(patch);
      return (job = { ...job, ...patch });
    },
    transition: async (_id: string, expected: number, to: JobStatus, at: Date, patch: JobPatch) => {
      if (job.sequence !== expected || !canTransition(job.status, to)) return null;
      job = { ...job, ...patch, status: to, previousStatus: job.status, sequence: job.sequence + 1, statusChangedAt: at };
      return job;
    },
  } as Partial<JobStore> as JobStore;
  return { store, current: () => job, updates };
}

/** A bus that only records what is published. */
function recordingBus(): EventBus & { published: JobStatusEvent[] } {
  const published: JobStatusEvent[] = [];
  return {
    published,
    publish: (event) => published.push(event),
    subscribe: () => {
      throw new Error('not used');
    },
    listenerCount: () => 0,
  };
}

function progressAt(percentage: number): JobProgress {
  return { percentage, rowsProcessed: percentage * 10, totalRowsToProcess: 1000 };
}

describe('WarehouseStates', () => {
  test('applies RUNNING then the end through the one writer, publishing both in order', async () => {
    const { store, current } = oneJobStore(jobWith({ dispatchedAt: now, queryId: 'q' }));
    const bus = new InProcessEventBus();
    const events = bus.subscribe(current().id);
    const endedJobs: string[] = [];
    const clock = fakeClock(now);
    const writer = new TransitionWriter({ store, bus, clock, logger: silentLogger, onEnded: (job) => endedJobs.push(job.id) });
    const states = new WarehouseStates({ store, writer, clock, resultTtlMs: TTL_MS, forgetsOnRestart: true });
    assert.equal(await states.apply(current().id, state('SUCCESS', { startedAt: started, endedAt: ended })), true);
    const first = await events.next();
    const second = await events.next();
    assert.deepEqual(
      [first.value?.status, first.value?.sequence, first.value?.at, second.value?.status, second.value?.sequence],
      ['RUNNING', 2, started, 'SUCCESS', 3],
    );
    assert.deepEqual(endedJobs, [current().id]);
    assert.equal(current().endedAt?.getTime(), ended.getTime());
    await events.return?.();
  });

  test('a query the embedded warehouse forgot ends JOB_INTERRUPTED; one Snowflake does not list yet is asked again', async () => {
    const forgot = oneJobStore(jobWith({ status: 'RUNNING', dispatchedAt: now }));
    const bus = new InProcessEventBus();
    const clock = fakeClock(now);
    const writer = (store: JobStore) => new TransitionWriter({ store, bus, clock, logger: silentLogger, onEnded: () => {} });
    const embedded = new WarehouseStates({ store: forgot.store, writer: writer(forgot.store), clock, resultTtlMs: TTL_MS, forgetsOnRestart: true });
    assert.equal(await embedded.apply('x', undefined), true);
    assert.equal(forgot.current().status, 'FAILED_WITH_INCIDENT');
    assert.equal(forgot.current().error?.code, 'JOB_INTERRUPTED');
    const waits = oneJobStore(jobWith({ status: 'RUNNING', dispatchedAt: now }));
    const snowflake = new WarehouseStates({ store: waits.store, writer: writer(waits.store), clock, resultTtlMs: TTL_MS, forgetsOnRestart: false });
    assert.equal(await snowflake.apply('x', undefined), false);
    assert.equal(waits.current().status, 'RUNNING');
  });

  function runningJob() {
    const job = oneJobStore(jobWith({ status: 'RUNNING', startedAt: started, sequence: 2, dispatchedAt: now, queryId: 'q' }));
    const bus = recordingBus();
    const clock = fakeClock(now);
    const writer = new TransitionWriter({ store: job.store, bus, clock, logger: silentLogger, onEnded: () => {} });
    const states = new WarehouseStates({ store: job.store, writer, clock, resultTtlMs: TTL_MS, forgetsOnRestart: true });
    const report = (progress: JobProgress | null, status: JobStatus = 'RUNNING', fields: Partial<QueryState> = {}) =>
      states.apply(job.current().id, state(status, { startedAt: started, progress, ...fields }));
    return { ...job, bus, clock, report };
  }

  test('writes a progress change with an update and publishes it as a PROGRESS event: no transition, the sequence unchanged', async () => {
    const { current, updates, bus, clock, report } = runningJob();
    assert.equal(await report(progressAt(10)), false);
    assert.deepEqual(updates, [{ progress: progressAt(10) }]);
    assert.deepEqual(current().progress, progressAt(10));
    clock.advance(250);
    assert.equal(await report(progressAt(20)), false);
    assert.deepEqual(current().progress, progressAt(20));
    assert.equal(current().sequence, 2);
    assert.equal(current().status, 'RUNNING');
    assert.deepEqual(
      bus.published.map((e) => [e.kind, e.status, e.sequence, e.job.progress?.percentage]),
      [
        ['PROGRESS', 'RUNNING', 2, 10],
        ['PROGRESS', 'RUNNING', 2, 20],
      ],
    );
  });

  test('the same progress again writes nothing', async () => {
    const { updates, clock, report } = runningJob();
    await report(progressAt(10));
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      await report(progressAt(10));
    }
    assert.equal(updates.length, 1);
  });

  test('writes at most about 4 progress changes a second per job; the next check writes the latest', async () => {
    const { current, updates, clock, report } = runningJob();
    // 40 reports 25 ms apart: a second's worth, each with a new percentage.
    for (let i = 1; i <= 40; i++) {
      await report(progressAt(i));
      clock.advance(25);
    }
    assert.ok(updates.length <= PROGRESS_WRITES_PER_SECOND + 2, `${updates.length} writes in one second`);
    assert.ok(updates.length >= PROGRESS_WRITES_PER_SECOND, `${updates.length} writes in one second`);
    assert.notDeepEqual(current().progress, progressAt(40), 'the last report came over budget');
    clock.advance(250);
    await report(progressAt(40));
    assert.deepEqual(current().progress, progressAt(40));
  });

  test('the end is a transition with its progress, whatever the budget; nothing is written after it', async () => {
    const { current, updates, bus, clock, report } = runningJob();
    await report(progressAt(10));
    await report(progressAt(11));
    await report(progressAt(12)); // over budget: not written
    assert.equal(updates.length, 2);
    const done = { percentage: 100, rowsProcessed: 1000, totalRowsToProcess: 1000 };
    assert.equal(await report(done, 'SUCCESS', { endedAt: ended }), true);
    assert.equal(current().status, 'SUCCESS');
    assert.deepEqual(current().progress, done);
    assert.deepEqual(
      bus.published.map((e) => [e.kind, e.status, e.sequence]),
      [
        ['PROGRESS', 'RUNNING', 2],
        ['PROGRESS', 'RUNNING', 2],
        ['TRANSITION', 'SUCCESS', 3],
      ],
    );
    clock.advance(1000);
    // A late report (the engine's last sample) finds a terminal job: no write.
    assert.equal(await report(progressAt(50)), true);
    assert.equal(updates.length, 2);
    assert.deepEqual(current().progress, done);
  });
});
