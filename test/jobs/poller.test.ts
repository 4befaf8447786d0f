import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Poller } from '../../src/jobs/poller.ts';
import type { QueryState } from '../../src/core/results.ts';

/** The two things the poller asks of a warehouse: status calls (counted) and change listeners. */
function scriptedWarehouse() {
  const listeners = new Set<(queryId: string) => void>();
  const asked: string[][] = [];
  return {
    asked,
    notify: (queryId: string) => listeners.forEach((listener) => listener(queryId)),
    status: async (queryIds: readonly string[]) => {
      asked.push([...queryIds]);
      const done: QueryState = { status: 'SUCCESS', startedAt: new Date(), endedAt: new Date(), error: null, progress: null, dml: null };
      return new Map(queryIds.map((id) => [id, done]));
    },
    onChange: (listener: (queryId: string) => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * What is left of a tick once `onState` ran is promise callbacks only (the job is untracked, the
 * next timer armed): one turn of the real event loop runs them all (setImmediate is not faked).
 */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('a change reported before the query is tracked is not lost: it is checked at once when tracked', async (t) => {
  // The poller's timers and clock are faked: "at once" is at 0 ms, "not yet" is up to the last ms.
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const warehouse = scriptedWarehouse();
  const seen: string[] = [];
  let checked = Promise.withResolvers<void>();
  const poller = new Poller({
    warehouse,
    backoffMs: [10_000],
    onState: async (jobId) => {
      seen.push(jobId);
      checked.resolve();
      return true;
    },
    onError: (error) => assert.fail(String(error)),
  });
  try {
    // A fast query: the engine says it ended before its submit returned the query id.
    warehouse.notify('q-early');
    poller.track('job-early', 'q-early');
    // A check makes its status call as soon as its timer fires, so `asked` tells at once whether one ran.
    t.mock.timers.tick(0);
    assert.deepEqual(warehouse.asked, [['q-early']], 'checked at once, not after the 10 s first delay');
    await checked.promise;
    await settled();
    assert.deepEqual(seen, ['job-early']);
    assert.equal(Date.now(), 0);
    // Without an early change, the first check waits for its delay.
    checked = Promise.withResolvers<void>();
    poller.track('job-later', 'q-later');
    t.mock.timers.tick(9_999);
    assert.deepEqual(warehouse.asked, [['q-early']]);
    assert.deepEqual(seen, ['job-early']);
    assert.equal(poller.trackedCount, 1);
    t.mock.timers.tick(1);
    assert.deepEqual(warehouse.asked, [['q-early'], ['q-later']], 'checked when its delay is up');
    await checked.promise;
    await settled();
    assert.deepEqual(seen, ['job-early', 'job-later']);
    assert.equal(poller.trackedCount, 0);
  } finally {
    await poller.stop();
  }
});

test('the budget counts warehouse calls: a warehouse that answers 500 queries a call checks 1,000 with 2', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  for (const [queriesPerCall, expected] of [
    [1, 2],
    [500, 1000],
  ] as const) {
    const warehouse = scriptedWarehouse();
    const poller = new Poller({
      warehouse,
      backoffMs: [0],
      maxChecksPerSecond: 2,
      queriesPerCall,
      onState: async () => true,
      onError: (error) => assert.fail(String(error)),
    });
    try {
      for (let i = 0; i < 1000; i++) poller.track(`job-${i}`, `q-${i}`);
      t.mock.timers.tick(0);
      assert.equal(warehouse.asked.length, 1, 'one tick');
      assert.equal(warehouse.asked[0]?.length, expected, `queries checked in the first second with ${queriesPerCall} a call`);
      await settled();
    } finally {
      await poller.stop();
    }
  }
});

test('with calls that answer many queries, jobs due within the first backoff step share a tick', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  for (const [queriesPerCall, expected] of [
    [1, [['q-a'], ['q-b']]],
    [500, [['q-a', 'q-b']]],
  ] as const) {
    const warehouse = scriptedWarehouse();
    const poller = new Poller({ warehouse, backoffMs: [500], queriesPerCall, onState: async () => true, onError: (e) => assert.fail(String(e)) });
    try {
      poller.track('job-a', 'q-a'); // due at 500 (of the mocked clock, which goes on from the test before)
      t.mock.timers.tick(200);
      poller.track('job-b', 'q-b'); // due 200 ms later
      t.mock.timers.tick(300);
      await settled();
      t.mock.timers.tick(200);
      await settled();
      assert.deepEqual(warehouse.asked, expected, `${queriesPerCall} a call`);
    } finally {
      await poller.stop();
    }
  }
});

test("a tick applies its answers side by side, a bounded slice at a time, so the store can write them in one commit", async () => {
  const warehouse = scriptedWarehouse();
  let inFlight = 0;
  let mostAtOnce = 0;
  let applied = 0;
  const allApplied = Promise.withResolvers<void>();
  const poller = new Poller({
    warehouse,
    backoffMs: [60_000],
    onState: async () => {
      inFlight += 1;
      mostAtOnce = Math.max(mostAtOnce, inFlight);
      // A store write that settles on the next turn, as the SQLite store's commit does.
      await new Promise((resolve) => setImmediate(resolve));
      inFlight -= 1;
      applied += 1;
      if (applied === 600) allApplied.resolve();
      return true;
    },
    onError: (error) => assert.fail(String(error)),
  });
  try {
    // 600 queries end at one instant: their nudges make one tick with one status call.
    for (let i = 0; i < 600; i++) poller.track(`job-${i}`, `q-${i}`);
    for (let i = 0; i < 600; i++) warehouse.notify(`q-${i}`);
    await allApplied.promise;
    await settled();
    assert.equal(warehouse.asked.length, 1);
    assert.equal(mostAtOnce, 256, 'side by side, at most a slice (256) at once');
    assert.equal(poller.trackedCount, 0);
  } finally {
    await poller.stop();
  }
});
