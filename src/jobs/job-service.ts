import { type Clock, systemClock } from '../core/clock.ts';
import { RequestErrorCode, requestError } from '../core/errors.ts';
import { newJobId, normalizeQueryId } from '../core/ids.ts';
import { eventOf, type Job, type JobError, type JobStatusEvent, type QueuePlace, type QueueReason } from '../core/job.ts';
import type { JobNotifier } from '../core/job-notifier.ts';
import { type Logger, logPassFailure } from '../core/logger.ts';
import { mayAccess, type Principal } from '../core/principal.ts';
import { isTerminal } from '../core/status.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { SubmissionLimiter } from '../limits/submission-limiter.ts';
import type { JobFilter, JobPage, JobStore } from '../store/job-store.ts';
import type { Warehouse } from '../warehouses/warehouse.ts';
import { Admission, checkAttach, type JobLimits, type SubmitInput, validateSubmission } from './admission.ts';
import { Dispatcher } from './dispatcher.ts';
import { FinishedJobs } from './finished-jobs.ts';
import { type Instance, Leases } from './leases.ts';
import { Lifecycle } from './lifecycle.ts';
import { Poller } from './poller.ts';
import { ResultExpiry } from './result-expiry.ts';
import { RunningJobs } from './running-jobs.ts';
import { TransitionWriter } from './transitions.ts';
import { QueuePositions } from './queue-positions.ts';
import { UnwatchedJobs } from './unwatched-jobs.ts';
import { WarehouseStates } from './warehouse-states.ts';

/**
 * Why a waiting job waits: its principal's share, when it holds it and that share is less than the
 * whole server (otherwise the server's slots are what it waits for either way).
 */
export function queueReason(ownerAtCap: boolean, cap: number, maxConcurrent: number): QueueReason {
  return ownerAtCap && cap < maxConcurrent ? 'PRINCIPAL_LIMIT' : 'INSTANCE_CONCURRENCY';
}

/**
 * The jobs, as the API sees them: submit, read, list, attach, cancel, follow to the end; and the
 * service's life (recover, drain). A facade: each part does one thing —
 * admission.ts (validation and limits), dispatcher.ts (slots and submits), transitions.ts (the one
 * writer of status), warehouse-states.ts (what a warehouse report means for a job), leases.ts
 * (recovery and the polling leases), result-expiry.ts, poller.ts (the one polling loop).
 */
export class JobService {
  readonly poller: Poller;
  readonly #store: JobStore;
  readonly #warehouse: Warehouse;
  readonly #bus: EventBus;
  readonly #limits: JobLimits;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #running = new RunningJobs();
  readonly #finished = new FinishedJobs();
  readonly #writer: TransitionWriter;
  readonly #dispatcher: Dispatcher;
  readonly #leases: Leases;
  readonly #expiry: ResultExpiry;
  readonly #admission: Admission;
  readonly #unwatched: UnwatchedJobs;
  readonly #queue: QueuePositions;
  readonly #notifier: JobNotifier | null;
  readonly #notifyRetryMs: number;
  /** Admission exists only while running: nothing is taken before recovery or after a drain began. */
  readonly #lifecycle = new Lifecycle<Admission>();
  #draining: Promise<void> | null = null;
  readonly #identities: { known: (name: string) => boolean } | null;

  constructor(deps: {
    store: JobStore;
    warehouse: Warehouse;
    bus: EventBus;
    limits: JobLimits;
    resultTtlSeconds: number;
    pollBackoffMs: readonly number[];
    /** The global budget of warehouse status checks (see Poller). */
    maxStatusChecksPerSecond?: number;
    /** Counts submissions per principal; in memory, or shared by several instances (Redis). */
    submissionLimiter: SubmissionLimiter;
    instance: Instance;
    logger: Logger;
    clock?: Clock;
    /** PROGRESS events (and progress writes) per running job and second; 0 turns them off. */
    progressEventsPerSecond?: number;
    /** Completion webhooks; without one, a submission with `notify` is refused. */
    notifier?: JobNotifier | null;
    /** How long after its end a job's undelivered webhook is taken up again at start (the sender's retry period). */
    notifyRetryMs?: number;
    /**
     * Principals mapped to warehouse identities: every job must run as one, and only as one the
     * warehouse has (`known`). Null or absent: every job runs as the warehouse's one identity.
     */
    identities?: { known: (name: string) => boolean } | null;
  }) {
    const { store, warehouse, bus, limits, instance, logger: log } = deps;
    const clock = deps.clock ?? systemClock;
    const resultTtlMs = deps.resultTtlSeconds * 1000;
    this.#store = store;
    this.#warehouse = warehouse;
    this.#bus = bus;
    this.#limits = limits;
    this.#clock = clock;
    this.#log = log;
    this.#notifier = deps.notifier ?? null;
    this.#notifyRetryMs = deps.notifyRetryMs ?? 86_400_000;
    this.#identities = deps.identities ?? null;
    this.#writer = new TransitionWriter({
      store,
      bus,
      clock,
      logger: log,
      onEnded: (job) => {
        this.#dispatcher.ended(job.id);
        this.#notify(job);
      },
    });
    const states = new WarehouseStates({
      store,
      writer: this.#writer,
      clock,
      resultTtlMs,
      forgetsOnRestart: warehouse.forgetsOnRestart,
      ...(deps.progressEventsPerSecond !== undefined ? { progressPerSecond: deps.progressEventsPerSecond } : {}),
    });
    this.poller = new Poller({
      warehouse,
      backoffMs: deps.pollBackoffMs,
      ...(deps.maxStatusChecksPerSecond ? { maxChecksPerSecond: deps.maxStatusChecksPerSecond } : {}),
      queriesPerCall: deps.warehouse.statusBatchSize ?? 1,
      onState: (jobId, state) => states.apply(jobId, state),
      onError: (error) => logPassFailure(log, error, 'poller tick failed'),
      mayPoll: () => this.#leases.mayPoll(),
    });
    const parts = { store, warehouse, writer: this.#writer, poller: this.poller, running: this.#running, clock, logger: log };
    this.#queue = new QueuePositions({
      store,
      running: this.#running,
      writer: this.#writer,
      maxRunningPerPrincipal: limits.maxRunningJobsPerPrincipal,
      reasonOf: (passedOver) => queueReason(passedOver, limits.maxRunningJobsPerPrincipal, limits.maxConcurrentJobs),
    });
    this.#dispatcher = new Dispatcher({ ...parts, limits, lease: () => this.#leases.lease(), onQueueMoved: () => this.#queue.moved() });
    this.#leases = new Leases({ ...parts, dispatcher: this.#dispatcher, instance });
    this.#expiry = new ResultExpiry({ store, warehouse, clock, logger: log, resultTtlMs });
    this.#admission = new Admission({ store, limiter: deps.submissionLimiter, limits });
    this.#unwatched = new UnwatchedJobs({ store, clock, logger: log, cancel: (job, reason) => this.#cancel(job, reason) });
  }

  /** Picks up after a restart (see leases.ts), starts the expiry sweeps, then takes jobs. */
  async recover(): Promise<void> {
    this.#lifecycle.enter('recovering');
    await this.#leases.recover();
    await this.#expiry.start();
    this.#unwatched.start();
    await this.#resumeNotifications();
    this.#lifecycle.enter('running', this.#admission);
  }

  /** The admission of the running service, or SERVICE_UNAVAILABLE. */
  #admitting(): Admission {
    const admission = this.#lifecycle.running;
    if (admission) return admission;
    const message =
      this.#lifecycle.phase === 'draining' || this.#lifecycle.phase === 'stopped'
        ? 'The server is shutting down and takes no new jobs'
        : 'The server is starting and takes no jobs yet';
    throw requestError(RequestErrorCode.SERVICE_UNAVAILABLE, message);
  }

  async submit(input: SubmitInput, principal: Principal): Promise<Job> {
    const admission = this.#admitting();
    const notifyUrl = input.notifyUrl == null ? null : this.#checkNotifyUrl(input.notifyUrl);
    const submission = validateSubmission({ ...input, notifyUrl }, this.#limits);
    const runAs = this.#runAsOf(principal);
    const earlier = await admission.earlierWithKey(principal, submission, this.#clock.now());
    if (earlier) return this.#maybeWait(earlier, submission.waitMs);
    await admission.admit(principal);
    const id = newJobId();
    const job = await this.#store.insert({
      id,
      owner: principal.id,
      idempotencyKey: submission.idempotencyKey,
      queryText: submission.sql,
      bindings: submission.bindings,
      tag: submission.tag,
      timeoutSeconds: submission.timeoutSeconds,
      statementCount: submission.statements.length,
      submittedAt: this.#clock.now(),
      cancelIfUnwatchedSeconds: submission.cancelIfUnwatchedSeconds,
      notifyUrl: submission.notifyUrl,
      runAs,
    });
    if (job.id === id) {
      // (Otherwise a concurrent submission with the same key made the job first.)
      this.#log.info({ jobId: job.id, principal: principal.id, tag: job.tag, statements: job.statementCount }, 'job submitted');
      this.#bus.publish(eventOf(job));
      this.#dispatcher.pump();
    }
    return this.#maybeWait(job, submission.waitMs);
  }

  #checkNotifyUrl(url: string): string {
    if (!this.#notifier) {
      throw requestError(RequestErrorCode.BAD_USER_INPUT, 'notify.url: webhooks are not enabled on this server (JOBQL_WEBHOOK_SECRET)', {
        argument: 'input.notify.url',
      });
    }
    return this.#notifier.checkUrl(url);
  }

  /** Hands an ended job's webhook to the notifier; each attempt's record is written to the job. */
  #notify(job: Job): void {
    if (!this.#notifier || !job.notification) return;
    this.#notifier.deliver(job, async (notification) => {
      await this.#store.update(job.id, { notification });
    });
  }

  /**
   * Webhooks of jobs that ended while no instance was delivering them (a restart cut the retries
   * short). With several instances each one takes them up: a receiver may get a delivery twice,
   * which it already must handle (at least once; the Jobql-Delivery header is the same).
   */
  async #resumeNotifications(): Promise<void> {
    if (!this.#notifier) return;
    const since = new Date(this.#clock.now().getTime() - this.#notifyRetryMs);
    for (const job of await this.#store.listUndelivered(since, 1000)) this.#notify(job);
  }

  #maybeWait(job: Job, waitMs: number): Promise<Job> {
    return waitMs > 0 ? this.waitForEnd(job.id, waitMs) : Promise.resolve(job);
  }

  /**
   * The job once terminal, or as it is after `ms`. Listens before it reads, so an end that lands
   * in between is not missed.
   */
  async waitForEnd(id: string, ms: number): Promise<Job> {
    const stream = this.#bus.subscribe(id);
    let timer: NodeJS.Timeout | undefined;
    try {
      await stream.ready;
      const job = await this.#store.get(id);
      if (!job) throw new Error(`waitForEnd: no job ${id}`);
      if (isTerminal(job.status)) return job;
      const timedOut = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
      const ended = (async () => {
        for await (const event of stream) if (isTerminal(event.status)) return event.job;
        return null;
      })();
      return (await Promise.race([ended, timedOut])) ?? (await this.#store.get(id)) ?? job;
    } finally {
      clearTimeout(timer);
      await stream.return?.();
    }
  }

  /**
   * The job, if it exists and `principal` may see it: a foreign job is answered as an unknown one.
   * A read watches the job (see unwatched-jobs.ts).
   */
  async get(id: string, principal: Principal): Promise<Job | null> {
    let job = this.#finished.get(id);
    if (!job) {
      job = (await this.#store.get(id)) ?? undefined;
      if (job) this.#finished.offer(job);
    }
    if (!job || !mayAccess(principal, job.owner)) return null;
    this.#unwatched.watched(job);
    return job;
  }

  /** A subscriber follows `job` (as `get` returned it) until the returned function is called. */
  watching(job: Job): () => void {
    return this.#unwatched.watching(job);
  }

  /**
   * Where a waiting job stands in line, or null when it does not wait (it was dispatched, or
   * ended). The dispatcher's order: oldest first, but a principal holding its share of the slots
   * (JOBQL_MAX_RUNNING_JOBS_PER_PRINCIPAL) is passed over, so the jobs before this one are the
   * older ones of its own principal and of every principal not passed over. Counted in the store,
   * so with PostgreSQL it spans every instance's jobs; the passed-over principals are this
   * instance's.
   */
  async queuePlace(job: Job): Promise<QueuePlace | null> {
    if (job.status !== 'QUEUED' || job.dispatchedAt) return null;
    const perOwner = this.#running.perOwner();
    const cap = this.#limits.maxRunningJobsPerPrincipal;
    const atCap = [...perOwner].filter(([, n]) => n >= cap).map(([owner]) => owner);
    const before = await this.#store.countWaitingBefore(job.seq, job.owner, atCap);
    return { position: before + 1, reason: queueReason(atCap.includes(job.owner), cap, this.#limits.maxConcurrentJobs) };
  }

  /**
   * The job (as `get` answers it: null for one the principal may not see) and its recorded
   * transitions after `afterSequence`, oldest first: what a resuming subscriber has not seen.
   * The store is asked only when the job has moved past `afterSequence`.
   */
  async history(id: string, afterSequence: number, principal: Principal): Promise<{ job: Job; events: JobStatusEvent[] } | null> {
    const job = await this.get(id, principal);
    if (!job) return null;
    return { job, events: job.sequence > afterSequence ? await this.#store.transitionsAfter(id, afterSequence) : [] };
  }

  /** The principal's jobs (every job for an admin); each one listed is watched. */
  async list(filter: JobFilter, first: number, beforeSeq: number | null, principal: Principal): Promise<JobPage> {
    const page = await this.#store.list(principal.admin ? filter : { ...filter, owner: principal.id }, first, beforeSeq);
    for (const job of page.jobs) this.#unwatched.watched(job);
    return page;
  }

  /**
   * A job for a query started elsewhere (Snowpark's `create_async_job`). It is recorded as
   * dispatched with its query id, so the poller tracks it, a restart polls it again, and it never
   * takes a dispatch slot (it already runs).
   */
  /**
   * The identity a principal's jobs run as. With identities mapped, a principal without one (or
   * with one the warehouse does not have) may run nothing: running it as the shared service
   * identity would be the very thing the mapping is there to prevent.
   */
  #runAsOf(principal: Principal): string | null {
    if (!this.#identities) return null;
    const runAs = principal.runAs ?? null;
    if (runAs === null) {
      throw requestError(RequestErrorCode.FORBIDDEN, 'No warehouse identity is mapped for this principal, so it may not run SQL here');
    }
    if (!this.#identities.known(runAs)) {
      throw requestError(RequestErrorCode.FORBIDDEN, 'The warehouse identity this principal is mapped to is not configured on the server');
    }
    return runAs;
  }

  async attach(queryId: string, principal: Principal): Promise<Job> {
    this.#admitting();
    checkAttach(queryId, principal, this.#limits);
    const normalized = normalizeQueryId(queryId);
    const existing = await this.#store.findByQueryId(normalized);
    if (existing) return existing;
    const runAs = this.#runAsOf(principal);
    // As the attaching principal: the warehouse shows it only the queries its identity may see.
    const described = await this.#warehouse.describe(normalized, runAs);
    if (!described) throw requestError(RequestErrorCode.NOT_FOUND, `The warehouse knows no query ${JSON.stringify(queryId)}`);
    const inserted = await this.#store.insert({
      id: newJobId(),
      owner: principal.id,
      idempotencyKey: null,
      queryText: described.queryText ?? '',
      bindings: [],
      tag: null,
      timeoutSeconds: null,
      statementCount: 1,
      submittedAt: this.#clock.now(),
      runAs,
    });
    const job = await this.#dispatcher.attach(inserted, normalized);
    this.#log.info({ jobId: job.id, queryId: normalized }, 'query attached');
    this.#bus.publish(eventOf(job));
    return job;
  }

  /**
   * Cancel is asynchronous: ABORTING now, ABORTED when the warehouse confirms (error
   * QUERY_CANCELLED). The unwatched-job cancel gives its own reason, set at ABORTING already.
   */
  async cancel(id: string, principal: Principal): Promise<Job> {
    const job = await this.get(id, principal);
    if (!job) throw requestError(RequestErrorCode.NOT_FOUND, `No job with id ${JSON.stringify(id)}`);
    return this.#cancel(job, null);
  }

  async #cancel(found: Job, reason: JobError | null): Promise<Job> {
    let job = found;
    if (isTerminal(job.status) || job.status === 'ABORTING') return job;
    job = await this.#writer.apply(job, 'ABORTING', reason ? { error: reason } : {});
    if (job.status !== 'ABORTING') return job; // it ended on its own meanwhile
    this.#log.info({ jobId: job.id }, 'job cancel requested');
    if (!job.dispatchedAt) return this.#writer.finishCancel(job);
    // Without a query id yet, the adapter stops the submit it has in flight, and the dispatcher
    // cancels again by query id as soon as the warehouse returns one.
    const cancelling = job;
    await this.#warehouse.cancel(cancelling.id, cancelling.queryId).catch((error: unknown) => {
      this.#log.warn({ err: error, jobId: cancelling.id }, 'warehouse cancel failed; the poller will see how the job ends');
    });
    return job;
  }

  /** Stops taking jobs; waits up to `graceMs` for running jobs, then hands them over or interrupts them. */
  drain(graceMs: number): Promise<void> {
    this.#draining ??= this.#drain(graceMs);
    return this.#draining;
  }

  async #drain(graceMs: number): Promise<void> {
    this.#lifecycle.enter('draining');
    this.#expiry.stop();
    await Promise.all([this.#unwatched.stop(), this.#queue.stop()]);
    // The dispatcher stops first (at once), so the pump that ends a lease pass dispatches nothing.
    await Promise.all([this.#dispatcher.stop(), this.#leases.stop()]);
    await this.#running.emptied(graceMs);
    await this.poller.stop();
    if (!this.#warehouse.forgetsOnRestart) {
      // The queries run on in the warehouse: another instance (or this one, restarted) polls them now.
      await this.#leases.release(this.#running.ids());
    } else {
      for (const id of this.#running.ids()) {
        const job = await this.#store.get(id);
        if (job && !isTerminal(job.status)) await this.#writer.interrupt(job, 'The server shut down while this job was running');
      }
    }
    // Before the store closes: the sender writes its last records first.
    await this.#notifier?.stop();
    this.#lifecycle.enter('stopped');
  }
}
