/** The dispatcher's passes: asked for many times in one turn, run once. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobLimits } from '../../src/jobs/admission.ts';
import { Dispatcher } from '../../src/jobs/dispatcher.ts';
import type { Poller } from '../../src/jobs/poller.ts';
import { RunningJobs } from '../../src/jobs/running-jobs.ts';
import type { TransitionWriter } from '../../src/jobs/transitions.ts';
import type { JobStore } from '../../src/store/job-store.ts';
import type { Warehouse } from '../../src/warehouses/warehouse.ts';
import { fakeClock, silentLogger } from './fakes.ts';

test('passes asked for in one turn of the event loop are one pass: one read of the waiting jobs', async () => {
  let reads = 0;
  let moved = 0;
  const store = {
    listWaiting: async () => {
      reads += 1;
      return [];
    },
  } as Partial<JobStore> as JobStore;
  const dispatcher = new Dispatcher({
    store,
    warehouse: {} as Warehouse,
    writer: {} as TransitionWriter,
    poller: {} as Poller,
    running: new RunningJobs(),
    limits: { maxConcurrentJobs: 4, maxRunningJobsPerPrincipal: 4 } as Partial<JobLimits> as JobLimits,
    lease: () => ({ holder: 'test', until: new Date(0) }),
    clock: fakeClock(),
    logger: silentLogger,
    onQueueMoved: () => {
      moved += 1;
    },
  });
  // A burst of 1,000 job ends frees 1,000 slots in one tick.
  for (let i = 0; i < 1000; i++) dispatcher.pump();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(reads, 1);
  assert.equal(moved, 1);

  // The next turn's request is a pass of its own.
  dispatcher.pump();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(reads, 2);

  // Asked for and stopped in the same turn: no pass after the stop.
  dispatcher.pump();
  await dispatcher.stop();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(reads, 2);
});
