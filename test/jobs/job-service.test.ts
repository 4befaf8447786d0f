/** The job service's lifecycle as its callers see it: nothing is taken before recovery or during a drain. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestError } from '../../src/core/errors.ts';
import type { Principal } from '../../src/core/principal.ts';
import { InProcessEventBus } from '../../src/events/in-process-event-bus.ts';
import { JobService } from '../../src/jobs/job-service.ts';
import type { JobLimits } from '../../src/jobs/admission.ts';
import type { JobStore } from '../../src/store/job-store.ts';
import type { Warehouse } from '../../src/warehouses/warehouse.ts';
import { fakeClock, silentLogger } from './fakes.ts';

const limits: JobLimits = {
  maxConcurrentJobs: 1,
  maxQueuedJobs: 10,
  maxSqlLength: 1000,
  maxStatements: 10,
  maxBindings: 10,
  defaultTimeoutSeconds: 60,
  maxTimeoutSeconds: 600,
  maxWaitMs: 1000,
  allowAttach: true,
  maxActiveJobsPerPrincipal: 10,
  maxRunningJobsPerPrincipal: 1,
  maxSubmissionsPerMinute: 10,
  idempotencyWindowSeconds: 60,
};
const admin: Principal = { id: 'local', admin: true, expiresAt: null };

/** An empty store: recovery finds nothing, and a submit must not reach `insert` before recovery. */
function emptyStore(): { store: JobStore; inserts: () => number } {
  let inserts = 0;
  const store = {
    listUnfinished: async () => [],
    renewLeases: async () => [],
    acquireLeases: async () => [],
    releaseLeases: async () => {},
    listWaiting: async () => [],
    listExpiredResults: async () => [],
    markResultsDeleted: async () => {},
    countActive: async () => 0,
    countWaiting: async () => 0,
    insert: async () => {
      inserts += 1;
      throw new Error('not in this test');
    },
  } as Partial<JobStore> as JobStore;
  return { store, inserts: () => inserts };
}

const warehouse = { onChange: () => () => {}, forgetsOnRestart: true, idempotentSubmit: false } as Partial<Warehouse> as Warehouse;

function service(store: JobStore): JobService {
  return new JobService({
    store,
    warehouse,
    bus: new InProcessEventBus(),
    limits,
    resultTtlSeconds: 60,
    pollBackoffMs: [500],
    submissionLimiter: { consume: async () => ({ allowed: true }) },
    instance: { id: 'local', leaseTtlMs: 15_000, shared: false },
    logger: silentLogger,
    clock: fakeClock(),
  });
}

async function refusedUnavailable(attempt: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(attempt, (error: unknown) => {
    assert.ok(error instanceof RequestError);
    assert.equal(error.code, 'SERVICE_UNAVAILABLE');
    assert.match(error.message, message);
    return true;
  });
}

test('a submit or an attach before recovery is refused and reaches no store', async () => {
  const { store, inserts } = emptyStore();
  const jobs = service(store);
  await refusedUnavailable(jobs.submit({ sql: 'select 1' }, admin), /starting/);
  await refusedUnavailable(jobs.attach('01b2c3d4-0000-1111-2222-333344445555', admin), /starting/);
  assert.equal(inserts(), 0);
  await jobs.drain(0);
});

test('after recovery submits are admitted; once a drain began they are refused again', async () => {
  const { store, inserts } = emptyStore();
  const jobs = service(store);
  await jobs.recover();
  await assert.rejects(jobs.submit({ sql: 'select 1' }, admin), /not in this test/, 'admitted: it reached the store');
  assert.equal(inserts(), 1);
  const draining = jobs.drain(0);
  await refusedUnavailable(jobs.submit({ sql: 'select 1' }, admin), /shutting down/);
  await draining;
  assert.equal(jobs.drain(0), jobs.drain(0), 'a second drain is the same drain');
  await refusedUnavailable(jobs.submit({ sql: 'select 1' }, admin), /shutting down/);
  assert.equal(inserts(), 1);
});
