import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { JobStatusEvent } from '../core/job.ts';
import type { DownloadObserver, JobStatusStreamObserver, ResultRowsObserver } from '../core/observers.ts';
import { DOWNLOAD_FORMATS, type DownloadFormat } from '../core/results.ts';
import { JOB_STATUSES } from '../core/status.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Poller } from '../jobs/poller.ts';
import type { JobStore } from '../store/job-store.ts';
import type { Dependencies } from '../core/dependencies.ts';

const DOWNLOAD_FORMAT_NAMES = Object.keys(DOWNLOAD_FORMATS) as DownloadFormat[];

/**
 * jobql's Prometheus metrics, on a registry of their own (never prom-client's global one, so two
 * apps in one process, as in the tests, do not share counters), plus prom-client's default
 * process and Node.js metrics on the same registry.
 *
 * Only counts, durations and sizes: no label carries a job id, SQL text, tag or principal. Every
 * label has a closed set of values (job statuses, download formats), so no series can be created
 * by a client. Counters and histograms count what THIS process did; `jobql_jobs` reads the job
 * store, which several instances may share.
 */
export class Metrics implements JobStatusStreamObserver, ResultRowsObserver, DownloadObserver {
  readonly registry = new Registry();
  #sources: MetricsSources | null = null;

  readonly #transitions: Counter<'status'>;
  readonly #updates: Counter<'kind'>;
  readonly #submissions: Counter;
  readonly #attachments: Counter;
  readonly #statusCalls: Counter;
  readonly #statusCallErrors: Counter;
  readonly #queriesChecked: Counter;
  readonly #statusCallSeconds: Histogram;
  readonly #subscriptions: Gauge;
  readonly #endToEventSeconds: Histogram;
  readonly #downloads: Counter<'format'>;
  readonly #bytesServed: Counter<'format'>;
  readonly #rowsServed: Counter<'via'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> =>
      new Counter<L>({ name, help, labelNames, registers });
    const histogram = (name: string, help: string, buckets: number[]): Histogram => new Histogram({ name, help, buckets, registers });
    /** A gauge set when scraped from what `watch` named (nothing before). */
    const scraped = (name: string, help: string, read: (sources: MetricsSources) => number): void => {
      const gauge: Gauge = new Gauge({
        name,
        help,
        registers,
        collect: () => {
          if (this.#sources) gauge.set(read(this.#sources));
        },
      });
    };

    // Read when scraped, from the parts `watch` names.
    const jobs: Gauge<'status'> = new Gauge({
      name: 'jobql_jobs',
      help:
        'Jobs in the job store by status, counted when scraped. With several instances on a shared ' +
        'store this is the global count (the same on every instance): do not sum it across instances.',
      labelNames: ['status'],
      registers,
      collect: async () => {
        const sources = this.#sources;
        if (!sources) return;
        // While the store does not answer (an outage), the last counts stand: /metrics must still
        // answer then, to show the outage itself.
        const counts = await sources.store.countByStatus().catch(() => null);
        if (!counts) return;
        for (const status of JOB_STATUSES) jobs.set({ status }, counts[status] ?? 0);
      },
    });
    scraped('jobql_poller_tracked_jobs', 'Dispatched, unfinished jobs this instance polls the warehouse for.', (s) => s.poller.trackedCount);
    scraped('jobql_websocket_sockets', 'Open graphql-ws WebSocket connections to this instance.', (s) => s.sockets());
    scraped(
      'jobql_event_bus_listeners',
      "Listeners registered on this instance's event bus (jobStatus subscriptions and waitMs " +
        'submissions); should return to zero when idle.',
      (s) => s.bus.listenerCount(),
    );

    const dependencyUp: Gauge<'dependency'> = new Gauge({
      name: 'jobql_dependency_up',
      help: 'Whether a shared dependency (PostgreSQL, Redis) answers this instance, checked when scraped; absent with one process.',
      labelNames: ['dependency'],
      registers,
      collect: async () => {
        const sources = this.#sources;
        if (!sources?.dependencies.shared) return;
        const missing = await sources.dependencies.missing();
        for (const dependency of ['postgresql', 'redis'] as const) dependencyUp.set({ dependency }, missing.includes(dependency) ? 0 : 1);
      },
    });
    /** A counter kept elsewhere (a running total), read when scraped. */
    const scrapedCounter = (name: string, help: string, read: (sources: MetricsSources) => number): void => {
      const total: Counter = new Counter({
        name,
        help,
        registers,
        collect: () => {
          if (!this.#sources) return;
          total.reset();
          total.inc(read(this.#sources));
        },
      });
    };
    scrapedCounter(
      'jobql_submission_limit_fallbacks_total',
      'Submissions counted against the per-instance limit because Redis did not answer (the shared limit was not checked).',
      (s) => s.dependencies.limitFallbacks,
    );
    const outages: Counter<'dependency'> = new Counter({
      name: 'jobql_dependency_outages_total',
      help: 'Times a shared dependency (PostgreSQL, Redis) stopped answering this instance; absent with one process.',
      labelNames: ['dependency'],
      registers,
      collect: () => {
        if (!this.#sources?.dependencies.shared) return;
        outages.reset();
        for (const dependency of ['postgresql', 'redis'] as const) outages.inc({ dependency }, this.#sources.dependencies.outages(dependency));
      },
    });
    scrapedCounter(
      'jobql_events_unpublished_total',
      'Job events this instance could not publish to Redis (it was away); subscribers elsewhere are caught up from the store.',
      (s) => s.dependencies.unpublishedEvents,
    );
    scrapedCounter(
      'jobql_subscription_catch_ups_total',
      'Subscriptions on this instance caught up from the job store after Redis reconnected.',
      (s) => s.dependencies.catchUps,
    );

    // Counted as things happen.
    this.#submissions = counter(
      'jobql_submissions_total',
      'Jobs created by submitQuery on this instance (a retry that finds its idempotent job is not counted).',
    );
    this.#attachments = counter('jobql_attached_queries_total', 'Jobs created by attachQuery on this instance.');
    this.#transitions = counter(
      'jobql_job_transitions_total',
      'Job status changes applied by this instance, by the status moved to. A job being created ' +
        '(QUEUED, sequence 1) is not a transition: see jobql_submissions_total and jobql_attached_queries_total.',
      ['status'],
    );
    this.#updates = counter(
      'jobql_job_updates_total',
      'Events published by this instance that are not transitions, by kind (PROGRESS, QUEUE_POSITION): throttled at their source.',
      ['kind'],
    );
    this.#statusCalls = counter(
      'jobql_warehouse_status_calls_total',
      "Warehouse status calls made by this instance's poller (one per tick, for every due job).",
    );
    this.#statusCallErrors = counter(
      'jobql_warehouse_status_call_errors_total',
      'Warehouse status calls that failed (the jobs asked about are retried on their backoff).',
    );
    this.#queriesChecked = counter('jobql_warehouse_queries_checked_total', 'Query ids asked about in warehouse status calls.');
    this.#statusCallSeconds = histogram(
      'jobql_warehouse_status_call_duration_seconds',
      'Duration of warehouse status calls, failed ones included.',
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
    this.#subscriptions = new Gauge({
      name: 'jobql_subscriptions',
      help: 'Open jobStatus subscriptions on this instance (WebSocket and SSE).',
      registers,
    });
    this.#endToEventSeconds = histogram(
      'jobql_job_end_to_event_seconds',
      "Time from a job's end (its endedAt) to its terminal event being handed to a jobStatus " +
        'subscriber, once per subscriber; only subscriptions open when the job ended.',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    );
    this.#downloads = counter(
      'jobql_result_downloads_total',
      'Result downloads started (GET /jobs/<id>/result.<format> answered 200), by format.',
      ['format'],
    );
    this.#bytesServed = counter(
      'jobql_result_bytes_served_total',
      'Result bytes handed to download responses (body only, no headers), by format.',
      ['format'],
    );
    this.#rowsServed = counter(
      'jobql_result_rows_served_total',
      'Result rows served, by how: "graphql" counts the rows of Job.result pages whose rows were asked for.',
      ['via'],
    );
    // Every label value known up front starts at 0, so its series exists (and rate() works) from the first scrape.
    for (const status of JOB_STATUSES) this.#transitions.inc({ status }, 0);
    for (const kind of ['PROGRESS', 'QUEUE_POSITION']) this.#updates.inc({ kind }, 0);
    for (const format of DOWNLOAD_FORMAT_NAMES) {
      this.#downloads.inc({ format }, 0);
      this.#bytesServed.inc({ format }, 0);
    }
    this.#rowsServed.inc({ via: 'graphql' }, 0);
  }

  /**
   * Names the parts read at scrape time and starts observing the poller's warehouse status calls.
   * Called once the server's parts exist (the WebSocket server comes last).
   */
  watch(sources: MetricsSources): void {
    this.#sources = sources;
    sources.poller.observe((seconds, queries, failed) => this.statusCall(seconds, queries, failed));
  }

  /** The text exposition of every metric, and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** An event published on the bus by this instance. */
  published(event: JobStatusEvent): void {
    if (event.kind !== 'TRANSITION') {
      this.#updates.inc({ kind: event.kind });
    } else if (event.sequence > 1) {
      this.#transitions.inc({ status: event.status });
    } else if (event.job.queryId === null) {
      // A submitted job is published before it is dispatched; an attached one already has its query.
      this.#submissions.inc();
    } else {
      this.#attachments.inc();
    }
  }

  statusCall(seconds: number, queries: number, failed: boolean): void {
    this.#statusCalls.inc();
    this.#queriesChecked.inc(queries);
    this.#statusCallSeconds.observe(seconds);
    if (failed) this.#statusCallErrors.inc();
  }

  streamOpened(): void {
    this.#subscriptions.inc();
  }

  streamClosed(): void {
    this.#subscriptions.dec();
  }

  terminalEventDelivered(event: JobStatusEvent): void {
    const endedAt = event.job.endedAt;
    if (endedAt) this.#endToEventSeconds.observe(Math.max(0, Date.now() - endedAt.getTime()) / 1000);
  }

  downloadStarted(format: DownloadFormat): void {
    this.#downloads.inc({ format });
  }

  bytesServed(format: DownloadFormat, bytes: number): void {
    this.#bytesServed.inc({ format }, bytes);
  }

  rowsServed(via: 'graphql', rows: number): void {
    this.#rowsServed.inc({ via }, rows);
  }
}

/** What the scrape-time gauges read. */
export interface MetricsSources {
  store: Pick<JobStore, 'countByStatus'>;
  bus: Pick<EventBus, 'listenerCount'>;
  poller: Pick<Poller, 'trackedCount' | 'observe'>;
  /** Open WebSocket connections. */
  sockets: () => number;
  dependencies: Dependencies;
}

/**
 * The bus the job service publishes through, counting what it publishes (submissions, attaches,
 * transitions). Everything else goes straight to `bus`. Without metrics, `bus` itself.
 */
export function instrumentBus(bus: EventBus, metrics: Metrics | null): EventBus {
  if (!metrics) return bus;
  return {
    publish(event) {
      metrics.published(event);
      bus.publish(event);
    },
    subscribe: (jobId) => bus.subscribe(jobId),
    listenerCount: () => bus.listenerCount(),
  };
}
