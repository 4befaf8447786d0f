/**
 * The EventBus contract: what every bus (in-process, Redis) must do, as node:test cases, written
 * against the port (src/events/event-bus.ts) only. A bus's suite calls `eventBusContract` with a
 * factory that opens a fresh bus, one nobody else publishes on.
 *
 * No fixed sleeps: a test waits for the next event (with a deadline that only turns a hang into a
 * failure), and shows that an event did NOT arrive by publishing a later one and seeing it next.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { eventOf, type Job, type JobStatusEvent } from '../../src/core/job.ts';
import type { JobStatus } from '../../src/core/status.ts';
import type { EventBus, JobEventStream } from '../../src/events/event-bus.ts';

export interface BusHarness {
  /** A fresh bus. */
  bus: EventBus;
  /**
   * Another instance's bus on the same transport (its own connections), as a second jobql process
   * would have; null for a bus that lives in one process only. It is returned at once, its
   * connections possibly still being made (as after a reconnect): the bus must cope, and `ready`
   * must wait for them. Closed by `close`.
   */
  openPeer: (() => Promise<EventBus>) | null;
  /** Closes the buses and whatever connections they hold. */
  close(): Promise<void>;
}

/** How long an awaited delivery may take before the test fails instead of hanging. */
const DEADLINE_MS = 5_000;

async function within<T>(promise: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The stream's next event; fails if the stream ends or nothing comes. */
async function nextEvent(stream: JobEventStream, what = 'the next event'): Promise<JobStatusEvent> {
  const result = await within(stream.next(), what);
  assert.equal(result.done, false, `${what}: the stream ended`);
  return result.value;
}

async function subscribed(bus: EventBus, jobId: string): Promise<JobEventStream> {
  const stream = bus.subscribe(jobId);
  await within(stream.ready, `ready of the subscription to ${jobId}`);
  return stream;
}

/** Millisecond parts that are not round, to catch a bus that loses precision or the Date type. */
const T0 = Date.parse('2030-01-01T00:00:00.123Z');
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);

const newJobId = (): string => `job_${randomUUID().replaceAll('-', '')}`;

/**
 * The event of a job's `sequence`-th transition, to `status`, as job-service publishes it
 * (`eventOf` of the stored job). Later transitions fill in the dates and fields a real job would have.
 */
function transition(jobId: string, sequence: number, status: JobStatus, previousStatus: JobStatus | null): JobStatusEvent {
  const ended = status === 'SUCCESS' || status === 'FAILED_WITH_ERROR' || status === 'ABORTED';
  const job: Job = {
    id: jobId,
    seq: 7,
    queryId: sequence > 1 ? '01b2c3d4-0000-1111-0000-000000000001' : null,
    queryText: "select ? as n, 'x' as s",
    bindings: [41, 'x', null, true, { nested: [1.5, 'y'] }],
    tag: 'contract',
    timeoutSeconds: 60,
    statementCount: 1,
    status,
    previousStatus,
    sequence,
    statusChangedAt: at(sequence * 1_000 + 7),
    submittedAt: at(1),
    dispatchedAt: sequence > 1 ? at(2) : null,
    startedAt: sequence > 1 ? at(3) : null,
    endedAt: ended ? at(sequence * 1_000 + 7) : null,
    error:
      status === 'FAILED_WITH_ERROR' ? { code: 'SQL_OBJECT_NOT_FOUND', sqlState: '42S02', message: 'no such table' } : null,
    progress: status === 'RUNNING' ? { percentage: 12.5, rowsProcessed: 10, totalRowsToProcess: 80 } : null,
    dml: ended ? { rowsInserted: 3, rowsUpdated: 2, rowsDeleted: 1 } : null,
    resultExpiresAt: status === 'SUCCESS' ? at(86_400_000) : null,
    owner: 'alice',
    idempotencyKey: sequence === 1 ? null : 'key-1',
    cancelIfUnwatchedSeconds: null,
    notification: null,
    runAs: null,
  };
  return eventOf(job);
}

/** A job's usual life: QUEUED → RUNNING → SUCCESS. */
function lifeOf(jobId: string): JobStatusEvent[] {
  return [
    transition(jobId, 1, 'QUEUED', null),
    transition(jobId, 2, 'RUNNING', 'QUEUED'),
    transition(jobId, 3, 'SUCCESS', 'RUNNING'),
  ];
}

const JOB_DATES = ['statusChangedAt', 'submittedAt', 'dispatchedAt', 'startedAt', 'endedAt', 'resultExpiresAt'] as const;

export function eventBusContract(name: string, open: () => Promise<BusHarness>): void {
  /** Runs `body` on a fresh harness and closes it, whatever happens. */
  async function withBus(body: (harness: BusHarness) => Promise<void>): Promise<void> {
    const harness = await open();
    try {
      await body(harness);
    } finally {
      await harness.close();
    }
  }

  /** The buses a subscriber may sit on: this one, and another instance's when the bus spans processes. */
  async function publishers(harness: BusHarness): Promise<Array<{ where: string; bus: EventBus }>> {
    const all = [{ where: 'the same bus', bus: harness.bus }];
    if (harness.openPeer) all.push({ where: "another instance's bus", bus: await harness.openPeer() });
    return all;
  }

  describe(`the EventBus contract on ${name}`, () => {
    test("a job's events reach its subscriber in publish order, as published", async () => {
      await withBus(async (harness) => {
        for (const { where, bus } of await publishers(harness)) {
          const jobId = newJobId();
          const stream = await subscribed(harness.bus, jobId);
          const life = [
            ...lifeOf(jobId),
            // More than a job's usual life, so that an order kept by luck would show.
            ...Array.from({ length: 20 }, (_, i) => transition(jobId, 4 + i, 'RUNNING', 'RUNNING')),
          ];
          for (const event of life) bus.publish(event);
          const received: JobStatusEvent[] = [];
          for (const _ of life) received.push(await nextEvent(stream, `published on ${where}`));
          assert.deepEqual(
            received.map((e) => e.sequence),
            life.map((e) => e.sequence),
            `in publish order, published on ${where}`,
          );
          assert.deepEqual(received, life, `each event as it was published, on ${where}`);
          await stream.return?.();
        }
        assert.equal(harness.bus.listenerCount(), 0);
      });
    });

    test("other jobs' events do not reach a job's subscriber", async () => {
      await withBus(async ({ bus }) => {
        const [a, b, nobody] = [newJobId(), newJobId(), newJobId()];
        const streamA = await subscribed(bus, a);
        const streamB = await subscribed(bus, b);
        const [a1, a2] = [transition(a, 1, 'QUEUED', null), transition(a, 2, 'RUNNING', 'QUEUED')];
        const [b1, b2, b3] = lifeOf(b) as [JobStatusEvent, JobStatusEvent, JobStatusEvent];
        // A job nobody listens to: publishing is harmless, and nobody hears it.
        bus.publish(transition(nobody, 1, 'QUEUED', null));
        bus.publish(b1);
        bus.publish(a1);
        bus.publish(b2);
        bus.publish(b3);
        bus.publish(a2);
        // Had b's (or nobody's) events reached a's stream, they would come before a2.
        assert.deepEqual(await nextEvent(streamA), a1);
        assert.deepEqual(await nextEvent(streamA), a2);
        assert.deepEqual(await nextEvent(streamB), b1);
        assert.deepEqual(await nextEvent(streamB), b2);
        assert.deepEqual(await nextEvent(streamB), b3);
        await streamA.return?.();
        await streamB.return?.();
      });
    });

    test('ready resolves, and an event published right after it is not missed', async () => {
      await withBus(async (harness) => {
        for (const { where, bus } of await publishers(harness)) {
          // Many times over: a subscription that is not yet in place when `ready` resolves loses
          // the event now and then, not every time.
          for (let i = 0; i < 25; i++) {
            const jobId = newJobId();
            const stream = harness.bus.subscribe(jobId);
            await within(stream.ready, 'ready');
            const event = transition(jobId, 2, 'RUNNING', 'QUEUED');
            bus.publish(event);
            assert.deepEqual(await nextEvent(stream, `the event published on ${where} right after ready (#${i})`), event);
            await stream.return?.();
          }
        }
        assert.equal(harness.bus.listenerCount(), 0);
        // A subscription on a bus whose connection is still being made: publishing the moment it
        // is created would outrun it, so `ready` must wait until it is really in place.
        for (let i = 0; harness.openPeer && i < 5; i++) {
          const fresh = await harness.openPeer();
          const jobId = newJobId();
          const stream = fresh.subscribe(jobId);
          await within(stream.ready, 'ready on a bus still connecting');
          const event = transition(jobId, 2, 'RUNNING', 'QUEUED');
          harness.bus.publish(event);
          assert.deepEqual(await nextEvent(stream, `the event published right after ready on a bus still connecting (#${i})`), event);
          await stream.return?.();
          assert.equal(fresh.listenerCount(), 0);
        }
      });
    });

    test('return() ends a pending next() and removes the listener, once', async () => {
      await withBus(async ({ bus }) => {
        const jobId = newJobId();
        assert.equal(bus.listenerCount(), 0, 'a fresh bus has no listeners');
        const leaving = await subscribed(bus, jobId);
        const staying = await subscribed(bus, jobId);
        assert.equal(bus.listenerCount(), 2);

        const pending = leaving.next();
        const closed = await within(leaving.return?.() ?? Promise.reject(new Error('no return()')), 'return()');
        assert.equal(closed.done, true);
        assert.deepEqual(await within(pending, 'the pending next() after return()'), { value: undefined, done: true });
        assert.equal(bus.listenerCount(), 1, 'return() removed its listener, and only its own');

        await leaving.return?.();
        assert.equal(bus.listenerCount(), 1, 'a second return() removes nothing more');
        assert.equal((await leaving.next()).done, true, 'an ended stream stays ended');

        // The job's other subscriber still hears it, and the ended stream gets nothing.
        const event = transition(jobId, 2, 'RUNNING', 'QUEUED');
        bus.publish(event);
        assert.deepEqual(await nextEvent(staying), event);
        assert.equal((await leaving.next()).done, true);

        await staying.return?.();
        assert.equal(bus.listenerCount(), 0, 'back to none');
      });
    });

    test('a for await loop that ends removes its listener', async () => {
      await withBus(async ({ bus }) => {
        const jobId = newJobId();
        const stream = await subscribed(bus, jobId);
        const [first, second] = lifeOf(jobId) as [JobStatusEvent, JobStatusEvent];
        bus.publish(first);
        bus.publish(second);
        const seen: number[] = [];
        for await (const event of stream) {
          seen.push(event.sequence);
          if (event.sequence === 2) break;
        }
        assert.deepEqual(seen, [1, 2]);
        assert.equal(bus.listenerCount(), 0);
      });
    });

    test('several subscribers to one job each get every event, in order', async () => {
      await withBus(async (harness) => {
        const jobId = newJobId();
        const buses = await publishers(harness); // subscribers on every instance, publisher on the first
        const streams: Array<{ where: string; stream: JobEventStream }> = [];
        for (const { where, bus } of buses) {
          for (let i = 0; i < 3; i++) streams.push({ where: `${where} #${i}`, stream: await subscribed(bus, jobId) });
        }
        assert.equal(harness.bus.listenerCount(), 3);
        const life = lifeOf(jobId);
        for (const event of life) harness.bus.publish(event);
        for (const { where, stream } of streams) {
          const received: JobStatusEvent[] = [];
          for (const _ of life) received.push(await nextEvent(stream, `subscriber on ${where}`));
          assert.deepEqual(received, life, `subscriber on ${where}`);
        }
        for (const { stream } of streams) await stream.return?.();
        for (const { bus } of buses) assert.equal(bus.listenerCount(), 0);
      });
    });

    test('Dates survive: event.at and the job dates are Dates with their milliseconds, nulls stay null', async () => {
      await withBus(async (harness) => {
        for (const { where, bus } of await publishers(harness)) {
          const jobId = newJobId();
          const stream = await subscribed(harness.bus, jobId);
          const queued = transition(jobId, 1, 'QUEUED', null);
          const done = transition(jobId, 3, 'SUCCESS', 'RUNNING');
          bus.publish(queued);
          bus.publish(done);
          for (const sent of [queued, done]) {
            const got = await nextEvent(stream, `published on ${where}`);
            assert.ok(got.at instanceof Date, `event.at is a Date (${where})`);
            assert.equal(got.at.getTime(), sent.at.getTime());
            for (const field of JOB_DATES) {
              const expected = sent.job[field];
              const actual = got.job[field];
              if (expected === null) {
                assert.equal(actual, null, `job.${field} stays null (${where})`);
              } else {
                assert.ok(actual instanceof Date, `job.${field} is a Date (${where}), got ${typeof actual}`);
                assert.equal(actual.getTime(), expected.getTime(), `job.${field} (${where})`);
              }
            }
            assert.deepEqual(got, sent);
          }
          await stream.return?.();
        }
      });
    });
  });
}
