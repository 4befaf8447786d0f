/**
 * 100 cancels of running CPU-bound queries, timed from cancelJob to the ABORTED event a subscriber
 * receives. Every one must end ABORTED (the hard kill backs a soft interrupt that is not honoured);
 * the figures go to docs/RELIABILITY.md. Count: BATTERY_CANCELS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gql, submit, wsClient } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const CANCELS = Number(process.env['BATTERY_CANCELS'] ?? 100);
const LANES = 4;
const ENDLESS = 'select max(hash(i)) from range(100000000000) t(i)';

let server: TestServer;
before(async () => {
  server = await startServer({ JOBQL_MAX_CONCURRENT_JOBS: String(LANES) });
});
after(() => server.stop());

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

describe('cancel', () => {
  test(`${CANCELS} cancels of running queries all end ABORTED; time to ABORTED reported`, async () => {
    const client = wsClient(server.wsUrl);
    const times: number[] = [];
    const outcomes = new Map<string, number>();
    const one = async (): Promise<void> => {
      const job = await submit(server.url, ENDLESS);
      let cancelledAt = 0;
      const ended = new Promise<{ status: string; at: number }>((resolve, reject) => {
        let running: () => void = () => {};
        const isRunning = new Promise<void>((r) => (running = r));
        client.subscribe<{ jobStatus: { status: string } }>(
          { query: 'subscription($id: ID!) { jobStatus(id: $id) { status } }', variables: { id: job.id } },
          {
            next: (value) => {
              const status = value.data?.jobStatus.status ?? '';
              if (status === 'RUNNING') running();
              if (['ABORTED', 'SUCCESS', 'FAILED_WITH_ERROR', 'FAILED_WITH_INCIDENT'].includes(status)) {
                resolve({ status, at: performance.now() });
              }
            },
            error: reject,
            complete: () => {},
          },
        );
        void isRunning.then(async () => {
          cancelledAt = performance.now();
          await gql(server.url, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id: job.id });
        });
      });
      const { status, at } = await ended;
      outcomes.set(status, (outcomes.get(status) ?? 0) + 1);
      times.push(at - cancelledAt);
    };
    try {
      let next = 0;
      await Promise.all(
        Array.from({ length: LANES }, async () => {
          while (next < CANCELS) {
            next += 1;
            await one();
          }
        }),
      );
    } finally {
      await client.dispose();
    }
    const sorted = [...times].sort((a, b) => a - b);
    const fmt = (n: number): string => n.toFixed(1);
    console.log(
      `cancel battery: ${times.length} cancels, outcomes ${JSON.stringify(Object.fromEntries(outcomes))}, ` +
        `cancelJob -> ABORTED event ms: p50 ${fmt(percentile(sorted, 50))}, p95 ${fmt(percentile(sorted, 95))}, ` +
        `p99 ${fmt(percentile(sorted, 99))}, max ${fmt(sorted.at(-1) ?? NaN)}`,
    );
    assert.equal(outcomes.get('ABORTED'), CANCELS, JSON.stringify(Object.fromEntries(outcomes)));
    // A correctness bound, not a performance target: the hard kill ends any cancel within seconds.
    assert.ok((sorted.at(-1) ?? Infinity) < 10_000, `slowest cancel took ${sorted.at(-1)} ms`);
  });
});
