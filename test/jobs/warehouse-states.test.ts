/** What a warehouse report means for a job: the pure planning, then the applier over fake ports. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InProcessEventBus } from '../../src/events/in-process-event-bus.ts';
import type { Job, JobError } from '../../src/core/job.ts';
import type { QueryState } from '../../src/core/results.ts';
import { canTransition, type JobStatus } from '../../src/core/status.ts';
import type { JobPatch, JobStore } from '../../src/store/job-store.ts';
import { TransitionWriter } from '../../src/jobs/transitions.ts';
import { nextStep, WarehouseStates } from '../../src/jobs/warehouse-states.ts';
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
    assert.equal(step?.patch.startedAt, started);
  });

  test('a RUNNING job without a start time that ends goes straight to its end', () => {
    const running = jobWith({ status: 'RUNNING' });
    const step = nextStep(running, state('SUCCESS', { startedAt: started, endedAt: ended }), TTL_MS, now);
    assert.equal(step?.kind === 'transition' && step.to, 'SUCCESS');
    assert.equal(step?.patch.startedAt, started);
  });

  test('progress alone is an update, not a transition; nothing new is nothing', () => {
    const progress = { percentage: 50, rowsProcessed: 5, totalRowsToProcess: 10 };
    const running = jobWith({ status: 'RUNNING', startedAt: started });
    assert.deepEqual(nextStep(running, state('RUNNING', { startedAt: started, progress }), TTL_MS, now), {
      kind: 'update',
      patch: { progress },
    });
    assert.equal(nextStep({ ...running, progress }, state('RUNNING', { startedAt: started, progress }), TTL_MS, now), null);
  });

  test('a terminal job takes no step, whatever the warehouse says', () => {
    assert.equal(nextStep(jobWith({ status: 'SUCCESS' }), state('RUNNING'), TTL_MS, now), null);
  });
});

/** A one-job store: transition is a compare-and-set on sequence, as the real ones do. */
function oneJobStore(initial: Job) {
  let job = initial;
  const store = {
    get: async () => job,
    update: async (_id: string, patch: JobPatch) => (job = { ...job, ...patch }),
    transition: async (_id: string, expected: number, to: JobStatus, at: Date, patch: JobPatch) => {
      if (job.sequence !== expected || !canTransition(job.status, to)) return null;
      job = { ...job, ...patch, status: to, previousStatus: job.status, sequence: job.sequence + 1, statusChangedAt: at };
      return job;
    },
  } as Partial<JobStore> as JobStore;
  return { store, current: () => job };
}

describe('WarehouseStates', () => {
  test('applies RUNNING then the end through the one writer, publishing both in order', async () => {
    const { store, current } = oneJobStore(jobWith({ dispatchedAt: now, queryId: 'q' }));
    const bus = new InProcessEventBus();
    const events = bus.subscribe(current().id);
    const endedJobs: string[] = [];
    const clock = fakeClock(now);
    const writer = new TransitionWriter({ store, bus, clock, logger: silentLogger, onEnded: (id) => endedJobs.push(id) });
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
});
