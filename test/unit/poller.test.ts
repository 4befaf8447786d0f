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

test('a change reported before the query is tracked is not lost: it is checked at once when tracked', async () => {
  const warehouse = scriptedWarehouse();
  const seen: string[] = [];
  const poller = new Poller({
    warehouse,
    backoffMs: [10_000],
    onState: async (jobId) => {
      seen.push(jobId);
      return true;
    },
    onError: (error) => assert.fail(String(error)),
  });
  try {
    // A fast query: the engine says it ended before its submit returned the query id.
    warehouse.notify('q-early');
    poller.track('job-early', 'q-early');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(seen, ['job-early'], 'checked at once, not after the 10 s first delay');
    assert.deepEqual(warehouse.asked, [['q-early']]);
    // Without an early change, the first check waits for its delay.
    poller.track('job-later', 'q-later');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(seen, ['job-early']);
    assert.equal(poller.trackedCount, 1);
  } finally {
    await poller.stop();
  }
});
