/** When an instance may poll: only while its polling leases surely hold (Leases.mayPoll). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Leases } from '../../src/jobs/leases.ts';
import { RunningJobs } from '../../src/jobs/running-jobs.ts';
import type { JobStore } from '../../src/store/job-store.ts';
import { fakeClock, silentLogger } from './fakes.ts';

function leasesWith(shared: boolean, renew: () => Promise<string[]>) {
  const clock = fakeClock();
  const store = { renewLeases: renew, acquireLeases: async () => [], listUnfinished: async () => [] } as unknown as JobStore;
  const leases = new Leases({
    store,
    clock,
    instance: { id: 'a', leaseTtlMs: 3000, shared },
    running: new RunningJobs(),
    logger: silentLogger,
    dispatcher: { pump: () => {} },
  } as unknown as ConstructorParameters<typeof Leases>[0]);
  return { leases, clock };
}

test('with several instances: polling stops a third of the lease before it could pass elsewhere, and resumes on renewal', async () => {
  let renewing = true;
  const { leases, clock } = leasesWith(true, async () => {
    if (!renewing) throw new Error('the store does not answer');
    return [];
  });
  assert.equal(leases.mayPoll(), true, 'just started: leases fresh');
  clock.advance(1999);
  assert.equal(leases.mayPoll(), true);
  clock.advance(2);
  assert.equal(leases.mayPoll(), false, '2 s of a 3 s lease without renewal');
  await leases.recover(); // a pass that renews
  await leases.stop();
  assert.equal(leases.mayPoll(), true, 'renewed');
  renewing = false;
  await leases.recover(); // a pass whose renewal fails
  await leases.stop();
  clock.advance(2001);
  assert.equal(leases.mayPoll(), false, 'a failed renewal does not extend the leases');
});

test('one process alone always polls: nobody else takes its leases', () => {
  const { leases, clock } = leasesWith(false, async () => {
    throw new Error('never asked');
  });
  clock.advance(60_000);
  assert.equal(leases.mayPoll(), true);
});
