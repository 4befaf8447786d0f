/**
 * Benchmark 3: jobStatus subscriptions, one per WebSocket, on one jobql process.
 *
 * Processes: jobql (bench/servers/jobql-server.ts, --expose-gc, with the scripted warehouse of
 * bench/servers/scripted-warehouse.ts), the subscribers (bench/clients/ws-subscribers.ts, all
 * sockets in one process), and the floor (bench/servers/ws-floor-server.ts: a bare `ws` server
 * sending messages of the same shape and size, with its own fresh subscriber process).
 *
 * The scripted warehouse pushes each change through onChange, as the embedded engine does, and
 * the poll backoff is set to 10 min, so the poller asks only when told: CPU at rest measures the
 * subscriptions, not the polling of N running jobs (benchmark 4 measures polling). The status
 * budget is raised to its maximum (10,000/s) so that a 10,000-job burst is not spread over
 * seconds by the default of 50 checks/s. N jobs running at once needs more dispatch slots than the
 * configuration allows (JOBQL_MAX_CONCURRENT_JOBS is capped at 64): the launcher lifts the cap
 * (BENCH_MAX_DISPATCHED).
 *
 * Knobs: BENCH_SUBSCRIBERS (10000), BENCH_OWN_JOBS (= subscribers: one job each; fewer, and the
 * first subscriptions share them round-robin), BENCH_SINGLE_EVENTS (200), BENCH_REST_SECONDS (10),
 * BENCH_SHARED_JOBS (50), BENCH_CONNECT_BATCH (200), BENCH_SUBMIT_VIA (inprocess: JobService.submit
 * over the server's IPC, so that HTTP garbage does not pre-grow the heap the subscriptions are
 * measured against; graphql: submitQuery over HTTP, BENCH_SUBMIT_CONCURRENCY (16) at a time).
 * BENCH_PROFILE_DIR=<dir> writes CPU profiles of the server during each burst, and
 * BENCH_HEAP_DIR=<dir> heap snapshots idle and loaded (open either in Chrome DevTools).
 *
 * Phases, jobql: submit N + shared + single jobs (all RUNNING); memory idle; N sockets each
 * subscribe to their own job; memory loaded; CPU at rest; burst 1: the N own jobs end at one
 * instant; every socket subscribes again, to one of the `shared` jobs (50: within the default
 * dispatch cap of 64), and `single` sockets take a second subscription to a job of their own;
 * single events: those jobs end one at a time (now ~250 jobs tracked, as in production, not
 * 10,000); burst 2: the shared jobs end at one instant. Floor: the same sockets, burst 1, single
 * events, burst 2. Reference (bench/servers/yoga-ws-server.ts): graphql-yoga + graphql-ws alone, the
 * same subscription shape, memory and one burst: what the framework costs before jobql adds any.
 */
import { envNumber, envString } from './lib/env.ts';
import { gql, mapConcurrent } from './lib/gql.ts';
import { type CpuSample, cpuShare, type MemoryUsage, startJobql } from './lib/jobql.ts';
import { type Launched, launch } from './lib/process.ts';
import { epochMs, fmt, sleep, summarize, type Summary } from './lib/stats.ts';
import { printTable, printVerdict, type Verdict } from './lib/table.ts';

const TARGET_KB_PER_SUB = 16;
const TARGET_SINGLE_P99_MS = 25;
const TARGET_BURST_RATIO = 1.5;

type Client = Launched<{ pid: number }>;

interface BurstResult {
  latencies: number[];
  sampleBytes: number;
  sample: string;
}

interface Burst {
  latency: Summary;
  /** From the trigger to the last message received. */
  wallMs: number;
  /** Server CPU spent from just before the trigger to the last receipt, ms. */
  serverCpuMs: number;
  messageBytes: number;
}

interface Side {
  idle: MemoryUsage;
  loaded: MemoryUsage;
  connectMs: number;
  restCpu: number | null;
  restElu: number | null;
  single: Summary;
  /** One job (or message) per subscriber, the first burst of the process. */
  burstOwn: Burst;
  /** Every subscriber on one of a few shared jobs (jobql); the floor's second burst. */
  burstShared: Burst;
}

async function singleEvents(client: Client, count: number, trigger: (i: number) => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    await trigger(i);
    const receipt = await client.call<{ latencyMs: number }>('waitFor', { key: `${i}:s${i}` });
    latencies.push(receipt.latencyMs);
    await sleep(5);
  }
  return latencies;
}

async function burst(
  server: Launched<unknown>,
  client: Client,
  count: number,
  subId: string,
  trigger: () => Promise<{ at: number }>,
): Promise<Burst> {
  await client.call('armBurst', { count, subId });
  const cpuBefore = await server.call<CpuSample>('cpu');
  const waiting = client.call<BurstResult>('awaitBurst', { timeoutMs: 300_000 });
  const { at } = await trigger();
  const result = await waiting;
  const wallMs = epochMs() - at;
  const cpuAfter = await server.call<CpuSample>('cpu');
  return {
    latency: summarize(result.latencies),
    wallMs,
    serverCpuMs: (cpuAfter.usage.user - cpuBefore.usage.user + cpuAfter.usage.system - cpuBefore.usage.system) / 1000,
    messageBytes: result.sampleBytes,
  };
}

async function restCpu(server: Launched<unknown>, seconds: number): Promise<{ share: number; elu: number | null }> {
  const a = await server.call<CpuSample>('cpu');
  await sleep(seconds * 1000);
  const b = await server.call<CpuSample>('cpu');
  const elu = a.elu && b.elu ? (b.elu.active - a.elu.active) / (b.elu.active - a.elu.active + b.elu.idle - a.elu.idle) : null;
  return { share: cpuShare(a, b), elu };
}

interface Sizes {
  n: number;
  /** Jobs the N sockets subscribe to first (N: one each; fewer: shared round-robin). */
  own: number;
  k: number;
  shared: number;
  restSeconds: number;
  batch: number;
  submitConcurrency: number;
  submitVia: 'inprocess' | 'graphql';
}

/**
 * JobService.submit over IPC, CHUNK jobs at a time, each chunk with a deadline, so that a server
 * that stops answering as running jobs pile up fails the benchmark with a message, not a hang.
 */
async function submitInChunks(server: Launched<unknown>, total: number): Promise<string[]> {
  const CHUNK = 250;
  const ids: string[] = [];
  while (ids.length < total) {
    const count = Math.min(CHUNK, total - ids.length);
    try {
      ids.push(...(await server.call<string[]>('submitMany', { count }, 60_000)));
    } catch (error) {
      throw new Error(
        `jobql stopped answering with ${ids.length} jobs running (submitting ${count} more): ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return ids;
}

async function runJobql({ n, own: ownCount, k, shared, restSeconds, batch, submitConcurrency, submitVia }: Sizes): Promise<Side> {
  const server = await startJobql('jobql-subscriptions', {
    BENCH_WAREHOUSE: 'scripted',
    BENCH_PUSH_ON_START: '1',
    BENCH_MAX_DISPATCHED: String(ownCount + shared + k + 100),
    JOBQL_POLL_BACKOFF_MS: '600000',
    JOBQL_MAX_STATUS_CHECKS_PER_SECOND: '10000',
  });
  const client = await launch<{ pid: number }>('ws-subscribers', 'clients/ws-subscribers.ts');
  try {
    const started = epochMs();
    const total = ownCount + shared + k;
    const ids =
      submitVia === 'graphql'
        ? await mapConcurrent(Array.from({ length: total }), submitConcurrency, async (_, i) => {
            const data = await gql<{ submitQuery: { job: { id: string } } }>(
              server.info.url,
              'mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { job { id } } }',
              { input: { sql: `select ${i}` } },
            );
            return data.submitQuery.job.id;
          })
        : await submitInChunks(server, total);
    // Every job RUNNING (the scripted warehouse nudges the poller on submit) before measuring.
    for (const deadline = Date.now() + 120_000; ; ) {
      if (Date.now() > deadline) throw new Error('jobs still QUEUED after 120 s');
      const queued = await gql<{ jobs: { nodes: { id: string }[] } }>(server.info.url, '{ jobs(first: 1, filter: {status: [QUEUED]}) { nodes { id } } }');
      if (queued.jobs.nodes.length === 0) break;
      await sleep(100);
    }
    console.log(`  jobql: ${ids.length} jobs submitted (${submitVia}) and RUNNING in ${fmt(epochMs() - started, 0)} ms`);
    const own = ids.slice(0, ownCount);
    const sharedIds = ids.slice(ownCount, ownCount + shared);
    const single = ids.slice(ownCount + shared);
    const heapDir = process.env['BENCH_HEAP_DIR'];

    const idle = await server.call<MemoryUsage>('memory');
    if (heapDir) await server.call('heapSnapshot', { file: `${heapDir}/jobql-idle-${process.pid}.heapsnapshot` });
    const connected = await client.call<{ ms: number; errors: number }>('connect', {
      url: server.info.wsUrl,
      mode: 'jobql',
      count: n,
      jobIds: Array.from({ length: n }, (_, i) => own[i % own.length]!),
      batch,
    });
    console.log(`  jobql: ${n} sockets subscribed in ${fmt(connected.ms, 0)} ms (${connected.errors} errors)`);
    await sleep(1000);
    const loaded = await server.call<MemoryUsage>('memory');
    if (heapDir) await server.call('heapSnapshot', { file: `${heapDir}/jobql-loaded-${process.pid}.heapsnapshot` });
    const rest = await restCpu(server, restSeconds);

    const profileDir = process.env['BENCH_PROFILE_DIR'];
    if (profileDir) await server.call('profileStart');
    const burstOwn = await burst(server, client, n, '1', () => server.call<{ at: number }>('end', { jobIds: own }));
    if (profileDir) console.log(`  jobql: burst CPU profile in ${(await server.call<{ file: string }>('profileStop', { file: `${profileDir}/jobql-burst-${process.pid}.cpuprofile` })).file}`);

    await client.call('subscribeAll', { jobIds: sharedIds, subId: 'b' });
    await client.call('subscribeExtra', { jobIds: single });
    const singles = await singleEvents(client, k, (i) => server.call('end', { jobIds: [single[i]!] }));
    if (profileDir) await server.call('profileStart');
    const burstShared = await burst(server, client, n, 'b', () => server.call<{ at: number }>('end', { jobIds: sharedIds }));
    if (profileDir) console.log(`  jobql: burst 2 CPU profile in ${(await server.call<{ file: string }>('profileStop', { file: `${profileDir}/jobql-burst2-${process.pid}.cpuprofile` })).file}`);
    const info = await client.call<{ errors: number; lastError: string; sample: string }>('info');
    if (info.errors > 0) console.log(`  jobql: client saw ${info.errors} errors, last: ${info.lastError}`);
    console.log(`  jobql: a burst message as received (${burstShared.messageBytes} bytes): ${info.sample}`);
    return { idle, loaded, connectMs: connected.ms, restCpu: rest.share, restElu: rest.elu, single: summarize(singles), burstOwn, burstShared };
  } finally {
    await Promise.allSettled([client.stop(), server.stop()]);
  }
}

async function runFloor({ n, k, batch }: Sizes): Promise<Side> {
  const server = await launch<{ url: string }>('ws-floor', 'servers/ws-floor-server.ts', { execArgv: ['--expose-gc'], env: { NODE_ENV: 'production' } });
  const client = await launch<{ pid: number }>('ws-subscribers-floor', 'clients/ws-subscribers.ts');
  try {
    const idle = await server.call<MemoryUsage>('memory');
    const connected = await client.call<{ ms: number }>('connect', { url: server.info.url, mode: 'floor', count: n, batch });
    console.log(`  floor: ${n} sockets open in ${fmt(connected.ms, 0)} ms`);
    await sleep(1000);
    const loaded = await server.call<MemoryUsage>('memory');
    const burstOwn = await burst(server, client, n, '1', () => server.call<{ at: number }>('burst'));
    const singles = await singleEvents(client, k, (i) => server.call('send', { index: i, subId: `s${i}` }));
    const burstShared = await burst(server, client, n, '1', () => server.call<{ at: number }>('burst'));
    return { idle, loaded, connectMs: connected.ms, restCpu: null, restElu: null, single: summarize(singles), burstOwn, burstShared };
  } finally {
    await Promise.allSettled([client.stop(), server.stop()]);
  }
}

/** graphql-yoga + graphql-ws alone (bench/servers/yoga-ws-server.ts): memory and one burst. */
async function runReference({ n, batch }: Sizes): Promise<{ idle: MemoryUsage; loaded: MemoryUsage; connectMs: number; burst: Burst }> {
  const server = await launch<{ wsUrl: string }>('yoga-ws', 'servers/yoga-ws-server.ts', { execArgv: ['--expose-gc'], env: { NODE_ENV: 'production' } });
  const client = await launch<{ pid: number }>('ws-subscribers-ref', 'clients/ws-subscribers.ts');
  try {
    const idle = await server.call<MemoryUsage>('memory');
    const jobIds = Array.from({ length: n }, (_, i) => `job_${i.toString(16).padStart(32, '0')}`);
    const connected = await client.call<{ ms: number }>('connect', { url: server.info.wsUrl, mode: 'jobql', count: n, jobIds, batch });
    console.log(`  yoga + graphql-ws reference: ${n} sockets subscribed in ${fmt(connected.ms, 0)} ms`);
    await sleep(1000);
    const loaded = await server.call<MemoryUsage>('memory');
    const result = await burst(server, client, n, '1', () => server.call<{ at: number }>('burst'));
    return { idle, loaded, connectMs: connected.ms, burst: result };
  } finally {
    await Promise.allSettled([client.stop(), server.stop()]);
  }
}

export async function run(): Promise<Verdict[]> {
  const sizes: Sizes = {
    n: envNumber('BENCH_SUBSCRIBERS', 10_000),
    own: envNumber('BENCH_OWN_JOBS', envNumber('BENCH_SUBSCRIBERS', 10_000)),
    k: envNumber('BENCH_SINGLE_EVENTS', 200),
    shared: envNumber('BENCH_SHARED_JOBS', 50),
    restSeconds: envNumber('BENCH_REST_SECONDS', 10),
    batch: envNumber('BENCH_CONNECT_BATCH', 200),
    submitConcurrency: envNumber('BENCH_SUBMIT_CONCURRENCY', 16),
    submitVia: envString('BENCH_SUBMIT_VIA', 'inprocess') === 'graphql' ? 'graphql' : 'inprocess',
  };
  const { n, own, shared, restSeconds } = sizes;
  const ownLabel = own >= n ? `${n.toLocaleString('en')} jobs end, one subscriber each` : `${own} jobs end, ${fmt(n / own, 0)} subscribers each`;
  const count = n.toLocaleString('en');
  console.log(`\n## 3. jobStatus subscriptions: ${count} sockets, one subscription each, one server process`);

  const jobql = await runJobql(sizes);
  const floor = await runFloor(sizes);
  const reference = await runReference(sizes);

  const kb = (bytes: number): number => bytes / 1024 / n;
  const mb = (bytes: number): string => fmt(bytes / 1024 / 1024, 1);
  const rssPer = kb(jobql.loaded.rss - jobql.idle.rss);
  const heapPer = kb(jobql.loaded.heapUsed - jobql.idle.heapUsed);
  const memRow = (name: string, side: Pick<Side, 'idle' | 'loaded' | 'connectMs'>): string[] => [
    name,
    `${mb(side.idle.rss)} → ${mb(side.loaded.rss)}`,
    `${mb(side.idle.heapUsed)} → ${mb(side.loaded.heapUsed)}`,
    `${mb(side.idle.heapTotal)} → ${mb(side.loaded.heapTotal)}`,
    fmt(kb(side.loaded.rss - side.idle.rss), 1),
    fmt(kb(side.loaded.heapUsed - side.idle.heapUsed), 1),
    fmt(n / (side.connectMs / 1000), 0),
  ];
  printTable(
    `Memory after GC (server process), idle vs ${count} connected sockets:`,
    ['server', 'RSS MB', 'heap used MB', 'heap total MB', 'RSS per socket KB', 'heap per socket KB', 'sockets (+ subscriptions) opened per s'],
    [
      memRow('jobql (graphql-ws, one jobStatus each)', jobql),
      memRow('reference: yoga + graphql-ws alone, one subscription each', reference),
      memRow('floor (bare ws, connection only)', floor),
    ],
  );
  console.log(
    `\nCPU at rest, jobql, ${restSeconds} s with ${count} subscribed: ${fmt((jobql.restCpu ?? 0) * 100, 2)} % of one core ` +
      `(event-loop utilisation ${fmt((jobql.restElu ?? 0) * 100, 2)} %)`,
  );

  const row = (name: string, s: Summary, ratioTo?: Summary): string[] => [name, String(s.n), fmt(s.p50), fmt(s.p99), fmt(s.max), ratioTo ? fmt(s.p99 / ratioTo.p99) : '1.00'];
  const burstRow = (name: string, b: Burst, ratioTo?: Burst): string[] => [
    ...row(name, b.latency, ratioTo?.latency),
    fmt(b.wallMs, 0),
    fmt(b.latency.n / (b.wallMs / 1000), 0),
    fmt((b.serverCpuMs * 1000) / b.latency.n, 1),
  ];
  printTable(
    `End → event latency, ms: client receipt − the instant in the message (jobql: job.endedAt, set by the scripted warehouse when told to end), ${count} sockets connected:`,
    ['case', 'events', 'p50', 'p99', 'max', 'p99 ratio to floor'],
    [row(`single event, floor (bare ws)`, floor.single), row(`single event, jobql`, jobql.single, floor.single)],
  );
  printTable(
    'Bursts, all at one instant (wall: trigger → last receipt; server CPU per message includes the poller, store and pump for jobql):',
    ['case', 'events', 'p50', 'p99', 'max', 'p99 ratio to floor', 'wall ms', 'messages/s', 'server CPU µs per message'],
    [
      burstRow(`floor, burst 1: one message to each of ${count} sockets`, floor.burstOwn),
      burstRow(`jobql, ${ownLabel}`, jobql.burstOwn, floor.burstOwn),
      burstRow(`floor, burst 2 (warm)`, floor.burstShared),
      burstRow(`jobql, ${shared} jobs end, ${fmt(n / shared, 0)} subscribers each`, jobql.burstShared, floor.burstShared),
      burstRow('reference: yoga + graphql-ws alone, every subscription gets its event', reference.burst, floor.burstShared),
    ],
  );
  console.log(
    `\nMessage size: jobql ${jobql.burstOwn.messageBytes} bytes, floor ${floor.burstOwn.messageBytes} bytes, reference ${reference.burst.messageBytes} bytes (same shape).`,
  );

  const singleRatio = jobql.single.p99 / floor.single.p99;
  const burstRatio = jobql.burstOwn.latency.p99 / floor.burstOwn.latency.p99;
  const sharedRatio = jobql.burstShared.latency.p99 / floor.burstShared.latency.p99;
  const verdicts: Verdict[] = [
    {
      bench: 'subscriptions',
      target: `≤ ${TARGET_KB_PER_SUB} KB RSS per subscription`,
      measured: `${fmt(rssPer, 1)} KB RSS per subscribed socket (floor: ${fmt(kb(floor.loaded.rss - floor.idle.rss), 1)} KB per bare connection)`,
      met: rssPer <= TARGET_KB_PER_SUB,
    },
    {
      bench: 'subscriptions',
      target: '≤ 12 KB heap per subscription (G2)',
      measured: `${fmt(heapPer, 1)} KB heap per subscribed socket (floor: ${fmt(kb(floor.loaded.heapUsed - floor.idle.heapUsed), 1)} KB)`,
      met: heapPer <= 12,
    },
    {
      bench: 'subscriptions',
      target: `single-event p99 < ${TARGET_SINGLE_P99_MS} ms`,
      measured: `p99 ${fmt(jobql.single.p99)} ms (p50 ${fmt(jobql.single.p50)} ms)`,
      met: jobql.single.p99 < TARGET_SINGLE_P99_MS,
    },
    {
      bench: 'subscriptions',
      target: `single-event p99 ≤ ${TARGET_BURST_RATIO} × floor p99`,
      measured: `p99 ${fmt(jobql.single.p99)} ms vs floor ${fmt(floor.single.p99)} ms (${fmt(singleRatio)} ×)`,
      met: singleRatio <= TARGET_BURST_RATIO,
    },
    {
      bench: 'subscriptions',
      target: `burst of ${count} (${own >= n ? 'one job each' : `${own} jobs`}) p99 ≤ ${TARGET_BURST_RATIO} × floor p99`,
      measured: `p99 ${fmt(jobql.burstOwn.latency.p99, 0)} ms vs floor ${fmt(floor.burstOwn.latency.p99, 0)} ms (${fmt(burstRatio)} ×)`,
      met: burstRatio <= TARGET_BURST_RATIO,
    },
    {
      bench: 'subscriptions',
      target: `burst of ${count} on ${shared} shared jobs, p99 vs floor (informational)`,
      measured: `p99 ${fmt(jobql.burstShared.latency.p99, 0)} ms vs floor ${fmt(floor.burstShared.latency.p99, 0)} ms (${fmt(sharedRatio)} ×)`,
      met: null,
    },
    {
      bench: 'subscriptions',
      target: 'yoga + graphql-ws alone, for comparison (informational)',
      measured:
        `${fmt(kb(reference.loaded.rss - reference.idle.rss), 1)} KB RSS, ${fmt(kb(reference.loaded.heapUsed - reference.idle.heapUsed), 1)} KB heap per subscription; ` +
        `burst p99 ${fmt(reference.burst.latency.p99, 0)} ms (${fmt(reference.burst.latency.p99 / floor.burstShared.latency.p99)} × floor)`,
      met: null,
    },
    { bench: 'subscriptions', target: 'CPU at rest (informational)', measured: `${fmt((jobql.restCpu ?? 0) * 100, 2)} % of one core with ${count} subscribed`, met: null },
  ];
  for (const v of verdicts) printVerdict(v);
  return verdicts;
}

if (import.meta.main) await run();
