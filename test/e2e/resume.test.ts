/**
 * Resumable subscriptions: `jobStatus(id, afterSequence)` sends the recorded transitions after that
 * sequence, then the live ones, so a client that reconnects with the last sequence it saw misses
 * none and sees none twice.
 *
 * - The stream on a real bus and store, without a server: its edge cases (resumed at or past the
 *   end, a transition landing between the history read and the live events, a bus event that
 *   overtook an earlier one, a job with no history, refusals, leaving mid-read).
 * - A real server: 30 jobs of varied length (some cancelled, some failing), each followed over raw
 *   graphql-ws clients whose sockets are cut (the client's ws terminated) at random moments, with
 *   graphql-ws's retry resubscribing at the last sequence seen. Every subscriber's list of events
 *   must be 1, 2, … the job's last sequence, each once, equal to the job's stored history.
 * - The argument over the wire: refusals, an ended job resumed at its end, Server-Sent Events.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { type Client, createClient, type SubscribePayload } from 'graphql-ws';
import WebSocket from 'ws';
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { RequestError } from '../../src/core/errors.ts';
import { eventOf, type Job, type JobStatusEvent } from '../../src/core/job.ts';
import type { Principal } from '../../src/core/principal.ts';
import type { JobStatus } from '../../src/core/status.ts';
import { InProcessEventBus } from '../../src/events/in-process-event-bus.ts';
import { jobStatusStream } from '../../src/graphql/job-status-stream.ts';
import type { JobLimits } from '../../src/jobs/admission.ts';
import { JobService } from '../../src/jobs/job-service.ts';
import { TransitionWriter } from '../../src/jobs/transitions.ts';
import { createLogger } from '../../src/logger.ts';
import type { JobStore } from '../../src/store/job-store.ts';
import { SqliteJobStore } from '../../src/store/sqlite-job-store.ts';
import type { Warehouse } from '../../src/warehouses/warehouse.ts';
import { newApiKey } from '../helpers/auth.ts';
import { collect, gqlData, submit, waitForEnd, wsClient } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { waitFor, within } from '../helpers/wait-for.ts';
import { fakeClock, silentLogger } from '../jobs/fakes.ts';
import { seededRandom } from '../battery/seed.ts';

// ---------------------------------------------------------------------------------------------
// The stream on the bus and the store
// ---------------------------------------------------------------------------------------------

const alice: Principal = { id: 'alice', admin: false, expiresAt: null };
const bob: Principal = { id: 'bob', admin: false, expiresAt: null };
const admin: Principal = { id: 'ops', admin: true, expiresAt: null };

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

/** Runs around the store's `transitionsAfter` (the history read), to act just before and after it. */
interface HistoryHooks {
  before?: (() => Promise<void> | void) | undefined;
  after?: (() => Promise<void> | void) | undefined;
}

interface Harness {
  store: SqliteJobStore;
  file: string;
  bus: InProcessEventBus;
  jobs: JobService;
  writer: TransitionWriter;
  hooks: HistoryHooks;
  /** A new QUEUED job of `owner`, published as submitQuery publishes it. */
  queued(owner?: string): Promise<Job>;
  /** Moves the job on as the poller would: the compare-and-set, then the publish. */
  move(job: Job, to: JobStatus): Promise<Job>;
  close(): Promise<void>;
}

async function harness(): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'jobql-resume-'));
  const file = path.join(dir, 'jobs.sqlite');
  const store = new SqliteJobStore(file);
  const hooks: HistoryHooks = {};
  // The real store, with the history read wrapped in the hooks.
  const hooked = new Proxy(store, {
    get(target, property) {
      if (property === 'transitionsAfter') {
        return async (id: string, sequence: number) => {
          await hooks.before?.();
          const events = await target.transitionsAfter(id, sequence);
          await hooks.after?.();
          return events;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as JobStore;
  const bus = new InProcessEventBus();
  const clock = fakeClock();
  const warehouse = { onChange: () => () => {}, forgetsOnRestart: true, idempotentSubmit: false } as Partial<Warehouse> as Warehouse;
  const jobs = new JobService({
    store: hooked,
    warehouse,
    bus,
    limits,
    resultTtlSeconds: 60,
    pollBackoffMs: [500],
    submissionLimiter: { consume: async () => ({ allowed: true }) },
    instance: { id: 'local', leaseTtlMs: 15_000, shared: false },
    logger: silentLogger,
    clock,
  });
  const writer = new TransitionWriter({ store, bus, clock, logger: silentLogger, onEnded: () => {} });
  let n = 0;
  return {
    store,
    file,
    bus,
    jobs,
    writer,
    hooks,
    async queued(owner = 'alice') {
      n += 1;
      const job = await store.insert({
        id: `job_${String(n).padStart(32, '0')}`,
        owner,
        idempotencyKey: null,
        queryText: `select ${n}`,
        bindings: [],
        tag: null,
        timeoutSeconds: null,
        statementCount: 1,
        submittedAt: clock.now(),
      });
      bus.publish(eventOf(job));
      return job;
    },
    async move(job, to) {
      clock.advance(7);
      return writer.apply(job, to, {});
    },
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Reads `count` events (or to the end, if sooner) and says whether the stream ended. */
async function read(stream: AsyncIterator<JobStatusEvent>, count = Infinity): Promise<{ events: JobStatusEvent[]; ended: boolean }> {
  const events: JobStatusEvent[] = [];
  while (events.length < count) {
    const next = await within(stream.next(), { timeoutMs: 5000, what: 'the next event of the stream' });
    if (next.done) return { events, ended: true };
    events.push(next.value);
  }
  return { events, ended: false };
}

const sequencesOf = (events: readonly { sequence: number }[]): number[] => events.map((e) => e.sequence);

describe('jobStatusStream with afterSequence, on the bus and the store', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(() => h.close());

  const stream = (id: string, afterSequence: number | null, principal: Principal = alice) =>
    jobStatusStream(id, principal, h.jobs, h.bus, null, afterSequence);

  test('an ended job resumed at its last sequence or beyond completes at once, with no event', async () => {
    const job = await h.queued();
    const running = await h.move(job, 'RUNNING');
    const ended = await h.move(running, 'SUCCESS');
    assert.equal(ended.sequence, 3);
    for (const afterSequence of [3, 4, 1000]) {
      assert.deepEqual(await read(stream(job.id, afterSequence)), { events: [], ended: true }, `after ${afterSequence}`);
    }
    assert.equal(h.bus.listenerCount(), 0);
  });

  test('an ended job resumed earlier: exactly the later transitions, as published, then the end', async () => {
    const job = await h.queued();
    const running = await h.move(job, 'RUNNING');
    const aborting = await h.move(running, 'ABORTING');
    const aborted = await h.move(aborting, 'ABORTED');
    const published = [job, running, aborting, aborted].map(eventOf);
    for (let afterSequence = 0; afterSequence <= 3; afterSequence++) {
      assert.deepEqual(await read(stream(job.id, afterSequence)), { events: published.slice(afterSequence), ended: true });
    }
    assert.equal(h.bus.listenerCount(), 0);
  });

  test('a running job resumed: the missed transitions, then the live ones, then the end', async () => {
    const job = await h.queued();
    const running = await h.move(job, 'RUNNING');
    const s = stream(job.id, 1);
    assert.deepEqual(sequencesOf((await read(s, 1)).events), [2]);
    const blocked = await h.move(running, 'BLOCKED');
    const again = await h.move(blocked, 'RUNNING');
    await h.move(again, 'SUCCESS');
    const rest = await read(s);
    assert.deepEqual([sequencesOf(rest.events), rest.ended], [[3, 4, 5], true]);
    assert.deepEqual(rest.events.map((e) => e.status), ['BLOCKED', 'RUNNING', 'SUCCESS']);
  });

  test('a transition committed after the history read comes live, once', async () => {
    const job = await h.queued();
    const running = await h.move(job, 'RUNNING');
    let landed: Promise<Job> | null = null;
    h.hooks.after = () => {
      h.hooks.after = undefined;
      // Between the history read and the first live event: committed and published now.
      landed = h.move(running, 'SUCCESS');
      return landed.then(() => {});
    };
    const { events, ended } = await read(stream(job.id, 0));
    assert.ok(landed);
    assert.deepEqual([sequencesOf(events), ended], [[1, 2, 3], true]);
    assert.deepEqual(events[2], eventOf(await landed));
  });

  test('a transition committed before the history read but published after it is sent once', async () => {
    const job = await h.queued();
    let late: JobStatusEvent | null = null;
    h.hooks.before = async () => {
      h.hooks.before = undefined;
      // Committed (so in the history), its publish still on its way.
      const moved = await h.store.transition(job.id, 1, 'RUNNING', new Date(), {});
      assert.ok(moved);
      late = eventOf(moved);
    };
    h.hooks.after = () => {
      h.hooks.after = undefined;
      if (late) h.bus.publish(late);
    };
    const s = stream(job.id, 0);
    const first = await read(s, 2);
    assert.deepEqual(sequencesOf(first.events), [1, 2]);
    const current = await h.store.get(job.id);
    assert.ok(current);
    await h.move(current, 'FAILED_WITH_ERROR');
    const rest = await read(s);
    assert.deepEqual([sequencesOf(rest.events), rest.ended], [[3], true], 'the late publish of 2 is dropped');
  });

  test('a bus event that overtook an earlier one: the skipped ones come from the store first', async () => {
    for (const afterSequence of [null, 0]) {
      const job = await h.queued();
      const s = stream(job.id, afterSequence);
      assert.deepEqual(sequencesOf((await read(s, 1)).events), [1]);
      // Two writers' publishes crossing: 3 reaches the bus before 2.
      const two = await h.store.transition(job.id, 1, 'RUNNING', new Date(), {});
      assert.ok(two);
      const three = await h.store.transition(job.id, 2, 'SUCCESS', new Date(), {});
      assert.ok(three);
      h.bus.publish(eventOf(three));
      h.bus.publish(eventOf(two));
      const rest = await read(s);
      assert.deepEqual([rest.events, rest.ended], [[eventOf(two), eventOf(three)], true], `afterSequence ${afterSequence}`);
    }
    assert.equal(h.bus.listenerCount(), 0);
  });

  test('a job with no recorded history (from before it was kept) sends its current state', async () => {
    const job = await h.queued();
    const running = await h.move(job, 'RUNNING');
    const db = new DatabaseSync(h.file);
    db.prepare('DELETE FROM job_transitions WHERE job_id = ?').run(job.id);
    db.close();
    const s = stream(job.id, 0);
    assert.deepEqual((await read(s, 1)).events, [eventOf(running)]);
    const ended = await h.move(running, 'SUCCESS');
    assert.deepEqual(await read(s), { events: [eventOf(ended)], ended: true });
  });

  test('without afterSequence: the current state first, as before', async () => {
    const job = await h.queued();
    const running = await h.move(job, 'RUNNING');
    const s = stream(job.id, null);
    assert.deepEqual((await read(s, 1)).events, [eventOf(running)]);
    const ended = await h.move(running, 'SUCCESS');
    assert.deepEqual(await read(s), { events: [eventOf(ended)], ended: true });
  });

  test('a negative or fractional afterSequence is BAD_USER_INPUT, before the bus is asked', () => {
    for (const afterSequence of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => stream('job_whatever', afterSequence),
        (error: unknown) => error instanceof RequestError && error.code === 'BAD_USER_INPUT',
        String(afterSequence),
      );
    }
    assert.equal(h.bus.listenerCount(), 0);
  });

  test("another principal's job is NOT_FOUND, exactly like an unknown id; an admin follows it", async () => {
    const job = await h.queued('bob');
    const refusal = async (id: string): Promise<string> => {
      const error = await stream(id, 0, alice).next().then(
        () => assert.fail('an event'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof RequestError);
      assert.equal(error.code, 'NOT_FOUND');
      return error.message.replace(id, '<id>');
    };
    assert.equal(await refusal(job.id), await refusal('job_nope'));
    assert.equal(h.bus.listenerCount(), 0);
    for (const principal of [bob, admin]) {
      const s = stream(job.id, 0, principal);
      assert.deepEqual(sequencesOf((await read(s, 1)).events), [1], principal.id);
      await s.return?.();
    }
    assert.equal(h.bus.listenerCount(), 0);
  });

  test('leaving while the history is read sends nothing and leaves no listener', async () => {
    const job = await h.queued();
    const listeners = h.bus.listenerCount();
    const release = Promise.withResolvers<void>();
    const reading = Promise.withResolvers<void>();
    h.hooks.before = () => {
      h.hooks.before = undefined;
      reading.resolve();
      return release.promise;
    };
    const s = stream(job.id, 0);
    const pending = s.next();
    await within(reading.promise, { timeoutMs: 5000, what: 'the history read' });
    await s.return?.();
    assert.equal(h.bus.listenerCount(), listeners);
    release.resolve();
    assert.deepEqual(await pending, { value: undefined, done: true });
    assert.deepEqual(await s.next(), { value: undefined, done: true });
  });
});

// ---------------------------------------------------------------------------------------------
// Sockets cut at random moments during many jobs' lives
// ---------------------------------------------------------------------------------------------

const FOLLOW = `subscription Follow($id: ID!, $afterSequence: Int) {
  jobStatus(id: $id, afterSequence: $afterSequence) { kind sequence status previousStatus at job { id status } } }`;

interface Seen {
  kind: string;
  sequence: number;
  status: string;
  previousStatus: string | null;
  at: string;
  job: { id: string; status: string };
}

interface Cutter {
  client: Client;
  /** Sockets this client opened (the first, then one per retry). */
  sockets: number;
  cuts: number;
  /** Subscribe messages sent with afterSequence > 0: resumptions. */
  resumed: number;
  stop(): void;
}

/**
 * A graphql-ws client whose sockets are cut (the underlying ws terminated: no close frame, as when
 * a network drops) at random moments: as a socket opens, after a random delay, or right after a
 * random `next` frame; at most `maxCuts`, and none after `until`. graphql-ws's retry reconnects at
 * once (after a short random wait) and sends each subscription's payload again.
 */
function cuttingClient(url: string, rng: () => number, maxCuts: number, until: number): Cutter {
  const timers = new Set<NodeJS.Timeout>();
  const state: Cutter = {
    client: null as unknown as Client,
    sockets: 0,
    cuts: 0,
    resumed: 0,
    stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      state.cuts = maxCuts;
    },
  };
  const cut = (socket: WebSocket): void => {
    if (state.cuts >= maxCuts || Date.now() > until || socket.readyState > WebSocket.OPEN) return;
    state.cuts += 1;
    socket.terminate();
  };
  const later = (ms: number, body: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      body();
    }, ms);
    timers.add(timer);
  };
  class CutSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      state.sockets += 1;
      const roll = rng();
      if (roll < 0.15) this.once('open', () => cut(this)); // before connection_init is answered
      else if (roll < 0.6) later(Math.floor(rng() * 600), () => cut(this));
      this.on('message', (data) => {
        if (!String(data).includes('"type":"next"') || rng() >= 0.3) return;
        // Right after this frame: the ones the server sends next are lost with the socket.
        setImmediate(() => cut(this));
      });
    }

    override send(data: unknown, ...rest: unknown[]): void {
      const text = String(data);
      if (text.includes('"type":"subscribe"') && /"afterSequence":[1-9]/.test(text)) state.resumed += 1;
      (super.send as (...args: unknown[]) => void)(data, ...rest);
    }
  }
  state.client = createClient({
    url,
    webSocketImpl: CutSocket,
    lazy: true,
    retryAttempts: 1000, // per connection: the count starts again at every connection_ack
    shouldRetry: () => true,
    retryWait: () => new Promise((resolve) => later(Math.floor(rng() * 30), () => resolve(undefined))),
  });
  return state;
}

/**
 * Follows one job from its first state with afterSequence: 0. Each event moves the payload's
 * afterSequence on, and graphql-ws sends this same payload object again when it resubscribes
 * after a retry, so a resubscription asks for exactly what the client has not seen.
 */
function follow(client: Client, id: string): Promise<Seen[]> {
  // graphql-ws types the payload read-only; it is ours, and it is what the retry sends.
  const payload: { -readonly [K in keyof SubscribePayload]: SubscribePayload[K] } = { query: FOLLOW, variables: { id, afterSequence: 0 } };
  const seen: Seen[] = [];
  return new Promise((resolve, reject) => {
    client.subscribe<{ jobStatus: Seen }>(payload, {
      next: (result) => {
        if (result.errors?.length || !result.data) return reject(new Error(`${id}: ${JSON.stringify(result.errors)}`));
        const event = result.data.jobStatus;
        if (event.kind !== 'TRANSITION') {
          // Progress of the state the client has: it repeats that transition's sequence, and is not history.
          if (event.sequence !== seen.at(-1)?.sequence) return reject(new Error(`${id}: ${event.kind} of ${event.sequence} after ${seen.at(-1)?.sequence}`));
          return;
        }
        seen.push(event);
        payload.variables = { id, afterSequence: Math.max(event.sequence, Number(payload.variables?.['afterSequence'] ?? 0)) };
      },
      error: (error) => reject(new Error(`${id}: ${error instanceof Error ? error.message : JSON.stringify(error)}`)),
      complete: () => resolve(seen),
    });
  });
}

type Kind = 'quick' | 'medium' | 'long' | 'failing' | 'cancelled while queued' | 'cancelled while running';

describe('jobStatus(afterSequence) over graphql-ws, sockets cut at random moments', () => {
  const SEED = Number(process.env['JOBQL_RESUME_SEED'] ?? 20261124);
  let app: App;
  let store: SqliteJobStore;
  let url: string;
  let wsUrl: string;
  let dataDir: string;

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'jobql-resume-e2e-'));
    store = new SqliteJobStore(path.join(dataDir, 'given.sqlite'));
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      JOBQL_DATA_DIR: dataDir,
      LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
      JOBQL_SHUTDOWN_GRACE_MS: '0',
      JOBQL_MAX_CONCURRENT_JOBS: '3',
      JOBQL_MAX_SOCKETS_PER_PRINCIPAL: '1000',
      JOBQL_MAX_SUBMISSIONS_PER_MINUTE: '10000',
    });
    app = await buildApp(config, createLogger(config.logLevel), { store });
    await app.start();
    url = `${app.url}/graphql`;
    wsUrl = `${app.url.replace('http', 'ws')}/graphql`;
  });
  after(async () => {
    await app?.stop();
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test(`30 jobs, 10 clients, up to 8 cuts each (seed ${SEED}): every subscriber sees the whole history, gap-free, once`, async (t) => {
    const rng = seededRandom(SEED);
    const until = Date.now() + 20_000;
    const clients = Array.from({ length: 10 }, () => cuttingClient(wsUrl, rng, 8, until));
    const kinds: Kind[] = ['quick', 'medium', 'long', 'failing', 'cancelled while queued', 'cancelled while running'];
    const jobs: { id: string; kind: Kind; seen: Promise<Seen[]> }[] = [];
    const cancels: Promise<unknown>[] = [];
    const cancel = (id: string) => gqlData(url, 'mutation($id: ID!) { cancelJob(id: $id) { job { status } } }', { id });
    try {
      for (let i = 0; i < 30; i++) {
        const kind = kinds[Math.floor(rng() * kinds.length)] ?? 'quick';
        const n = {
          quick: Math.floor(1e3 + rng() * 1e6),
          medium: Math.floor(2e7 + rng() * 6e7),
          long: Math.floor(1e8 + rng() * 5e7),
          failing: 0,
          'cancelled while queued': 1e10,
          'cancelled while running': 1e10,
        }[kind];
        const sql = kind === 'failing' ? `select * from no_such_table_${i}` : `select sum(hash(range)) from range(${n})`;
        const job = await submit(url, sql);
        const client = clients[i % clients.length];
        assert.ok(client);
        jobs.push({ id: job.id, kind, seen: follow(client.client, job.id) });
        if (kind === 'cancelled while queued') cancels.push(cancel(job.id));
        if (kind === 'cancelled while running') {
          cancels.push(
            waitFor(async () => (await gqlData(url, 'query($id: ID!) { job(id: $id) { status } }', { id: job.id })).job.status === 'RUNNING', {
              timeoutMs: 60_000,
              what: `job ${job.id} to run`,
            }).then(() => cancel(job.id)),
          );
        }
      }
      const seen = await within(Promise.all(jobs.map((j) => j.seen)), { timeoutMs: 90_000, what: 'every subscription to complete' });
      await Promise.all(cancels);

      const expectedEnd: Record<Kind, string> = {
        quick: 'SUCCESS',
        medium: 'SUCCESS',
        long: 'SUCCESS',
        failing: 'FAILED_WITH_ERROR',
        'cancelled while queued': 'ABORTED',
        'cancelled while running': 'ABORTED',
      };
      for (const [i, job] of jobs.entries()) {
        const events = seen[i] ?? [];
        const stored = await store.get(job.id);
        assert.ok(stored);
        const history = await store.transitionsAfter(job.id, 0);
        const what = `${job.kind} job ${job.id}: ${JSON.stringify(events.map((e) => `${e.sequence} ${e.status}`))}`;
        assert.deepEqual(sequencesOf(events), Array.from({ length: stored.sequence }, (_, k) => k + 1), `gap-free, once each: ${what}`);
        assert.deepEqual(
          events.map((e) => [e.sequence, e.status, e.previousStatus, e.at, e.job.id, e.job.status]),
          history.map((e) => [e.sequence, e.status, e.previousStatus, e.at.toISOString(), e.job.id, e.job.status]),
          `the stored history: ${what}`,
        );
        assert.equal(events.at(-1)?.status, expectedEnd[job.kind], what);
      }
      const cuts = clients.reduce((sum, c) => sum + c.cuts, 0);
      const resumed = clients.reduce((sum, c) => sum + c.resumed, 0);
      const sockets = clients.reduce((sum, c) => sum + c.sockets, 0);
      t.diagnostic(`${cuts} cuts, ${sockets} sockets, ${resumed} resubscriptions with afterSequence > 0`);
      assert.ok(cuts >= 10, `sockets were cut (${cuts})`);
      assert.ok(resumed >= 5, `subscriptions resumed after a sequence (${resumed})`);
    } finally {
      for (const c of clients) c.stop();
      await Promise.all(clients.map((c) => c.client.dispose()));
    }
    await waitFor(() => app.sockets() === 0 && app.bus.listenerCount() === 0, {
      timeoutMs: 5000,
      what: () => `no socket (${app.sockets()}) and no bus listener (${app.bus.listenerCount()}) left`,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The argument over the wire
// ---------------------------------------------------------------------------------------------

describe('jobStatus(afterSequence) over the wire', () => {
  const alicesKey = newApiKey('alice', false);
  const bobsKey = newApiKey('bob', false);
  let server: TestServer;
  before(async () => {
    server = await startServer({ JOBQL_API_KEYS: `${alicesKey.entry},${bobsKey.entry}` });
  });
  after(() => server.stop());

  const codes = (errors: unknown): unknown[] => (errors as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code);

  test('a negative or fractional afterSequence is BAD_USER_INPUT; the socket stays usable', async () => {
    const client = wsClient(server.wsUrl, alicesKey.key);
    try {
      const job = await submit(server.url, 'select 1', {}, alicesKey.key);
      const negative = await collect(client, FOLLOW, { id: job.id, afterSequence: -1 });
      assert.deepEqual([negative.events, codes(negative.errors)], [[], ['BAD_USER_INPUT']]);
      assert.match(JSON.stringify(negative.errors), /afterSequence/);
      const fractional = await collect(client, FOLLOW, { id: job.id, afterSequence: 1.5 });
      assert.deepEqual([fractional.events, codes(fractional.errors)], [[], ['BAD_USER_INPUT']]);
      const ok = await collect(client, FOLLOW, { id: job.id, afterSequence: 0 });
      assert.equal(ok.errors, null);
      assert.equal(ok.events[0].jobStatus.sequence, 1);
    } finally {
      await client.dispose();
    }
  });

  test("another principal's job is NOT_FOUND, like an unknown id", async () => {
    const job = await submit(server.url, 'select 1', {}, bobsKey.key);
    const client = wsClient(server.wsUrl, alicesKey.key);
    try {
      const foreign = await collect(client, FOLLOW, { id: job.id, afterSequence: 0 });
      const unknown = await collect(client, FOLLOW, { id: 'job_00000000000000000000000000000000', afterSequence: 0 });
      assert.deepEqual([foreign.events, codes(foreign.errors)], [[], ['NOT_FOUND']]);
      assert.deepEqual([unknown.events, codes(unknown.errors)], [[], ['NOT_FOUND']]);
    } finally {
      await client.dispose();
    }
  });

  test('an ended job: afterSequence 0 replays its whole history; at its end, completion and no event', async () => {
    const job = await submit(server.url, 'select 42', {}, alicesKey.key);
    await waitForEnd(server.url, job.id, 30_000, 'id status isTerminal', alicesKey.key);
    const client = wsClient(server.wsUrl, alicesKey.key);
    try {
      const whole = await collect(client, FOLLOW, { id: job.id, afterSequence: 0 });
      assert.equal(whole.errors, null);
      assert.deepEqual(
        whole.events.map((e) => [e.jobStatus.previousStatus, e.jobStatus.status, e.jobStatus.sequence]),
        [
          [null, 'QUEUED', 1],
          ['QUEUED', 'RUNNING', 2],
          ['RUNNING', 'SUCCESS', 3],
        ],
      );
      const tail = await collect(client, FOLLOW, { id: job.id, afterSequence: 2 });
      assert.deepEqual(tail.events.map((e) => e.jobStatus.sequence), [3]);
      for (const afterSequence of [3, 10]) {
        const none = await collect(client, FOLLOW, { id: job.id, afterSequence });
        assert.deepEqual([none.events, none.errors], [[], null], `after ${afterSequence}`);
      }
      const current = await collect(client, FOLLOW, { id: job.id, afterSequence: null });
      assert.deepEqual(current.events.map((e) => e.jobStatus.sequence), [3], 'null is no afterSequence: the current state');
    } finally {
      await client.dispose();
    }
  });

  test('over Server-Sent Events too', async () => {
    const job = await submit(server.url, 'select 7', {}, alicesKey.key);
    await waitForEnd(server.url, job.id, 30_000, 'id status isTerminal', alicesKey.key);
    const query = encodeURIComponent(`subscription { jobStatus(id: "${job.id}", afterSequence: 1) { status sequence } }`);
    const response = await fetch(`${server.url}?query=${query}`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${alicesKey.key}` },
    });
    const body = await response.text();
    assert.deepEqual([...body.matchAll(/"sequence":(\d+)/g)].map((m) => Number(m[1])), [2, 3]);
    assert.match(body, /event: complete/);
  });
});
