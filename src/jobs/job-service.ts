import { mayAccess, type Principal } from '../auth/principal.ts';
import { isQueryId, newJobId, normalizeQueryId } from '../core/ids.ts';
import { JobErrorCode, JobErrors, RequestErrorCode, requestError } from '../core/errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { SubmissionLimiter } from '../limits/submission-limiter.ts';
import type { Logger } from '../core/logger.ts';
import type { Warehouse } from '../warehouses/warehouse.ts';
import type { QueryState } from '../core/results.ts';
import { eventOf, type Job, type JsonValue } from '../core/job.ts';
import type { JobFilter, JobPage, JobPatch, JobStore, Lease } from '../store/job-store.ts';
import { Poller } from './poller.ts';
import { RunningJobs } from './running-jobs.ts';
import { splitStatements } from './sql-statements.ts';
import { canTransition, isTerminal, type JobStatus } from '../core/status.ts';

export interface JobLimits {
  maxConcurrentJobs: number;
  maxQueuedJobs: number;
  maxSqlLength: number;
  maxStatements: number;
  maxBindings: number;
  defaultTimeoutSeconds: number;
  maxTimeoutSeconds: number;
  maxWaitMs: number;
  /** Whether attachQuery is allowed at all (it also needs the admin scope). */
  allowAttach: boolean;
  /** Queued plus running jobs of one principal. */
  maxActiveJobsPerPrincipal: number;
  /** Dispatch slots one principal may hold at once, so that one cannot starve the others. */
  maxRunningJobsPerPrincipal: number;
  maxSubmissionsPerMinute: number;
  /** How long an idempotency key maps to its job. */
  idempotencyWindowSeconds: number;
}

export interface SubmitInput {
  sql: string;
  bindings?: readonly unknown[] | null;
  tag?: string | null;
  timeoutSeconds?: number | null;
  waitMs?: number | null;
  /** The same key from the same principal within the window returns the first job, not a new one. */
  idempotencyKey?: string | null;
}

const MAX_TAG_LENGTH = 256;
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
/** How often expired results are looked for (at most), and how many are deleted per pass. */
const EXPIRY_SWEEP_MS = 60_000;
const EXPIRY_BATCH = 100;
/** How often a transition is retried when a concurrent writer moved the job first. */
const CAS_ATTEMPTS = 5;
/** Jobs taken over per lease pass; the next pass takes more. */
const LEASE_BATCH = 500;
/** The longest time between two lease passes. */
const LEASE_PASS_MS = 1000;

/** Who this process is among the instances sharing a job store, and how long its leases last. */
export interface Instance {
  /** Unique per running process when several share a store; fixed when one process owns the store. */
  id: string;
  /** A lease not renewed within this time passes to another instance. Renewed every third of it, or every second. */
  leaseTtlMs: number;
  /**
   * Whether other instances share the store. One process alone takes its leases back once, at
   * recovery; after that nobody can take them, so its lease passes only dispatch.
   */
  shared: boolean;
}

/**
 * The jobs: submit, cancel, read, and the one place that changes a job's status (`#transition`).
 * Jobs wait QUEUED in the store until a slot is free (at most `maxConcurrentJobs` dispatched at
 * once), are then handed to the warehouse, and are driven to their end by the poller.
 */
export class JobService {
  readonly #store: JobStore;
  readonly #warehouse: Warehouse;
  readonly #bus: EventBus;
  readonly #limits: JobLimits;
  readonly #log: Logger;
  readonly poller: Poller;
  /**
   * Jobs this instance handed to the warehouse or took over, not yet terminal, with their owners:
   * the jobs whose polling lease it holds and renews. Attached queries count too: they run.
   */
  readonly #running = new RunningJobs();
  /** Jobs this instance is claiming right now (not yet in #running): a lease pass must not adopt them. */
  readonly #claiming = new Set<string>();
  readonly #submissions: SubmissionLimiter;
  readonly #instance: Instance;
  #leaseTimer: NodeJS.Timeout | null = null;
  #leasePass: Promise<void> | null = null;
  #recovered = false;
  #pumping: Promise<void> | null = null;
  #pumpAgain = false;
  #accepting = true;
  #settled = new Set<() => void>();
  readonly #resultTtlMs: number;
  #sweepTimer: NodeJS.Timeout | null = null;

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
  }) {
    this.#store = deps.store;
    this.#warehouse = deps.warehouse;
    this.#bus = deps.bus;
    this.#limits = deps.limits;
    this.#log = deps.logger;
    this.#resultTtlMs = deps.resultTtlSeconds * 1000;
    this.#instance = deps.instance;
    this.#submissions = deps.submissionLimiter;
    this.poller = new Poller({
      warehouse: deps.warehouse,
      backoffMs: deps.pollBackoffMs,
      ...(deps.maxStatusChecksPerSecond ? { maxChecksPerSecond: deps.maxStatusChecksPerSecond } : {}),
      onState: (jobId, state) => this.#applyWarehouseState(jobId, state),
      onError: (error) => this.#log.error({ err: error }, 'poller tick failed'),
    });
  }

  get runningCount(): number {
    return this.#running.size;
  }

  /**
   * Picks up after a restart: jobs never handed to the warehouse wait to run again; dispatched
   * jobs whose lease is free (or this instance's) are polled, and a warehouse that forgot them (the
   * embedded one) ends them JOB_INTERRUPTED. Then a lease pass runs every second (or every third
   * of the lease time, if shorter): with instances sharing the store it renews this instance's
   * leases and takes over the jobs of instances that died; always, it dispatches waiting jobs
   * (some may have been queued through other instances).
   */
  async recover(): Promise<void> {
    for (const job of await this.#store.listUnfinished()) {
      if (!job.dispatchedAt && job.status === 'ABORTING') await this.#finishCancel(job);
    }
    await this.#leaseRound();
    this.#recovered = true;
    // At least every second, so that released leases and jobs queued through other instances are
    // picked up quickly; a lease outlives three missed passes.
    this.#leaseTimer = setInterval(() => void this.#leaseRound(), Math.min(LEASE_PASS_MS, Math.floor(this.#instance.leaseTtlMs / 3)));
    this.#leaseTimer.unref();
    await this.sweepExpiredResults();
    this.#sweepTimer = setInterval(() => void this.sweepExpiredResults(), Math.min(EXPIRY_SWEEP_MS, this.#resultTtlMs));
    this.#sweepTimer.unref();
  }

  #lease(): Lease {
    return { holder: this.#instance.id, until: new Date(Date.now() + this.#instance.leaseTtlMs) };
  }

  /** One lease pass (never two at once): renew, take over, dispatch. */
  #leaseRound(): Promise<void> {
    this.#leasePass ??= this.#renewAndTakeOver()
      .catch((error: unknown) => this.#log.error({ err: error }, 'lease pass failed'))
      .finally(() => {
        this.#leasePass = null;
        this.#pump();
      });
    return this.#leasePass;
  }

  async #renewAndTakeOver(): Promise<void> {
    if (!this.#accepting || (this.#recovered && !this.#instance.shared)) return;
    const held = this.#running.ids();
    const kept = new Set(await this.#store.renewLeases(held, this.#lease()));
    for (const id of held) {
      // Taken over (this process stalled past its lease): the new holder polls it now, not us.
      if (kept.has(id) || !this.#running.has(id)) continue;
      this.#running.delete(id);
      const job = await this.#store.get(id);
      if (job?.queryId) this.poller.untrack(job.queryId);
      this.#log.warn({ jobId: id }, 'polling lease lost to another instance');
    }
    // The store hands back this instance's own live leases too (oldest first), so ask for those
    // plus a batch, and go on only while a full answer brought jobs that are new to us.
    for (;;) {
      const limit = this.#running.size + LEASE_BATCH;
      const taken = await this.#store.acquireLeases(this.#lease(), new Date(), limit);
      let adopted = 0;
      for (const job of taken) if (await this.#adopt(job)) adopted += 1;
      if (adopted > 0) this.#log.info({ adopted }, 'took over jobs');
      if (taken.length < limit || adopted === 0) break;
    }
  }

  /**
   * Starts polling a dispatched job whose lease this instance just took (after a restart, or from
   * an instance that died). False when it is already this instance's.
   */
  async #adopt(job: Job): Promise<boolean> {
    if (this.#running.has(job.id) || this.#claiming.has(job.id) || isTerminal(job.status)) return false;
    this.#running.add(job.id, job.owner);
    if (job.queryId) this.poller.track(job.id, job.queryId);
    // Cut off mid-submit: submitting again finds the query if the warehouse had accepted it.
    else if (this.#warehouse.idempotentSubmit) await this.#submitClaimed(job);
    else await this.#interrupted(job, 'The server stopped before the warehouse accepted this job');
    return true;
  }

  /** Deletes the stored results that passed their `resultExpiresAt`; each exactly once. */
  async sweepExpiredResults(now = new Date()): Promise<number> {
    let deleted = 0;
    try {
      for (;;) {
        // Delete first, mark after: a crash in between deletes again (harmless), never forgets one.
        const expired = await this.#store.listExpiredResults(now, EXPIRY_BATCH);
        for (const job of expired) if (job.queryId) await this.#warehouse.deleteResult(job.queryId);
        await this.#store.markResultsDeleted(expired.map((job) => job.id));
        deleted += expired.length;
        if (expired.length < EXPIRY_BATCH) break;
      }
    } catch (error) {
      this.#log.error({ err: error }, 'result expiry sweep failed');
    }
    if (deleted > 0) this.#log.info({ deleted }, 'expired results deleted');
    return deleted;
  }

  async submit(input: SubmitInput, principal: Principal): Promise<Job> {
    if (!this.#accepting) {
      throw requestError(RequestErrorCode.SERVICE_UNAVAILABLE, 'The server is shutting down and takes no new jobs');
    }
    const { statements, bindings, tag, timeoutSeconds, waitMs, idempotencyKey } = this.#validate(input);
    if (idempotencyKey !== null) {
      const earlier = await this.#sameKey(principal, idempotencyKey, input, bindings, tag, timeoutSeconds);
      if (earlier) return waitMs > 0 ? this.waitForEnd(earlier.id, waitMs) : earlier;
    }
    await this.#admit(principal);
    const id = newJobId();
    const job = await this.#store.insert({
      id,
      owner: principal.id,
      idempotencyKey,
      queryText: input.sql,
      bindings,
      tag,
      timeoutSeconds,
      statementCount: statements.length,
      submittedAt: new Date(),
    });
    if (job.id === id) {
      // (Otherwise a concurrent submission with the same key made the job first.)
      this.#log.info({ jobId: job.id, principal: principal.id, tag, statements: statements.length }, 'job submitted');
      this.#bus.publish(eventOf(job));
      this.#pump();
    }
    return waitMs > 0 ? this.waitForEnd(job.id, waitMs) : job;
  }

  /**
   * The job an earlier submission with this key made, within the window. The same key with a
   * different request is the client's mistake, and says so rather than returning the wrong job.
   */
  async #sameKey(
    principal: Principal,
    key: string,
    input: SubmitInput,
    bindings: JsonValue[],
    tag: string | null,
    timeoutSeconds: number,
  ): Promise<Job | null> {
    const earlier = await this.#store.findByIdempotencyKey(principal.id, key);
    if (!earlier) return null;
    const windowStart = new Date(Date.now() - this.#limits.idempotencyWindowSeconds * 1000);
    if (earlier.submittedAt < windowStart) {
      await this.#store.forgetIdempotencyKeys(windowStart);
      return null;
    }
    const same =
      earlier.queryText === input.sql &&
      JSON.stringify(earlier.bindings) === JSON.stringify(bindings) &&
      earlier.tag === tag &&
      earlier.timeoutSeconds === timeoutSeconds;
    if (!same) {
      throw requestError(
        RequestErrorCode.BAD_USER_INPUT,
        'idempotencyKey was already used for a different submission (sql, bindings, tag or timeoutSeconds differ)',
        { argument: 'input.idempotencyKey' },
      );
    }
    return earlier;
  }

  /** The limits a new job must pass: submissions per minute, the principal's and the global queue. */
  async #admit(principal: Principal): Promise<void> {
    const counted = await this.#submissions.consume(principal.id);
    if (!counted.allowed) {
      const retryAfterSeconds = Math.ceil(counted.retryAfterMs / 1000);
      throw requestError(
        RequestErrorCode.RATE_LIMITED,
        `Too many submissions (limit ${this.#limits.maxSubmissionsPerMinute} per minute); retry in ${retryAfterSeconds} s`,
        { retryAfterSeconds },
      );
    }
    if ((await this.#store.countActive(principal.id)) >= this.#limits.maxActiveJobsPerPrincipal) {
      throw requestError(
        RequestErrorCode.LIMIT_EXCEEDED,
        `Too many unfinished jobs of yours (limit ${this.#limits.maxActiveJobsPerPrincipal}); wait for some to end or cancel them`,
      );
    }
    if ((await this.#store.countWaiting()) >= this.#limits.maxQueuedJobs) {
      throw requestError(
        RequestErrorCode.LIMIT_EXCEEDED,
        `Too many queued jobs (limit ${this.#limits.maxQueuedJobs}); try again later`,
      );
    }
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

  /** The job, if it exists and `principal` may see it: a foreign job is answered as an unknown one. */
  async get(id: string, principal: Principal): Promise<Job | null> {
    const job = await this.#store.get(id);
    return job && mayAccess(principal, job.owner) ? job : null;
  }

  /** `get`, or NOT_FOUND. */
  async #visible(id: string, principal: Principal): Promise<Job> {
    const job = await this.get(id, principal);
    if (!job) throw requestError(RequestErrorCode.NOT_FOUND, `No job with id ${JSON.stringify(id)}`);
    return job;
  }

  /** The principal's jobs (every job for an admin). */
  async list(filter: JobFilter, first: number, beforeSeq: number | null, principal: Principal): Promise<JobPage> {
    return this.#store.list(principal.admin ? filter : { ...filter, owner: principal.id }, first, beforeSeq);
  }

  /**
   * A job for a query started elsewhere (Snowpark's `create_async_job`). It is recorded as
   * dispatched with its query id, so the poller tracks it, a restart polls it again, and it never
   * takes a dispatch slot (it already runs).
   */
  async attach(queryId: string, principal: Principal): Promise<Job> {
    if (!this.#limits.allowAttach) {
      throw requestError(RequestErrorCode.FORBIDDEN, 'Attaching queries is not allowed on this server (JOBQL_ALLOW_ATTACH)');
    }
    // Any query the warehouse user ran is attachable, whoever asked for it: only admins may.
    if (!principal.admin) {
      throw requestError(RequestErrorCode.FORBIDDEN, 'Attaching queries needs the admin scope');
    }
    if (!isQueryId(queryId)) {
      throw requestError(RequestErrorCode.BAD_USER_INPUT, 'queryId must be a query id such as 01b2c3d4-0000-1111-2222-333344445555', {
        argument: 'queryId',
      });
    }
    const normalized = normalizeQueryId(queryId);
    const existing = await this.#store.findByQueryId(normalized);
    if (existing) return existing;
    const described = await this.#warehouse.describe(normalized);
    if (!described) throw requestError(RequestErrorCode.NOT_FOUND, `The warehouse knows no query ${JSON.stringify(queryId)}`);
    const now = new Date();
    const inserted = await this.#store.insert({
      id: newJobId(),
      owner: principal.id,
      idempotencyKey: null,
      queryText: described.queryText ?? '',
      bindings: [],
      tag: null,
      timeoutSeconds: null,
      statementCount: 1,
      submittedAt: now,
    });
    this.#claiming.add(inserted.id);
    await this.#store.claim(inserted.id, now, this.#lease()).finally(() => this.#claiming.delete(inserted.id));
    const job = (await this.#store.update(inserted.id, { queryId: normalized })) ?? inserted;
    this.#running.add(job.id, job.owner);
    this.#log.info({ jobId: job.id, queryId: normalized }, 'query attached');
    this.#bus.publish(eventOf(job));
    this.poller.track(job.id, normalized);
    return job;
  }

  /** Cancel is asynchronous: ABORTING now, ABORTED when the warehouse confirms. */
  async cancel(id: string, principal: Principal): Promise<Job> {
    let job = await this.#visible(id, principal);
    if (isTerminal(job.status) || job.status === 'ABORTING') return job;
    job = await this.#transition(job, 'ABORTING', {});
    if (job.status !== 'ABORTING') return job; // it ended on its own meanwhile
    this.#log.info({ jobId: job.id }, 'job cancel requested');
    if (!job.dispatchedAt) return this.#finishCancel(job);
    // Without a query id yet, the adapter stops the submit it has in flight, and #dispatch cancels
    // again by query id as soon as the warehouse returns one.
    await this.#warehouse.cancel(job.id, job.queryId).catch((error: unknown) => {
      this.#log.warn({ err: error, jobId: job.id }, 'warehouse cancel failed; the poller will see how the job ends');
    });
    return job;
  }

  /** Stops taking jobs; waits up to `graceMs` for running jobs, then interrupts the rest. */
  async drain(graceMs: number): Promise<void> {
    this.#accepting = false;
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    if (this.#leaseTimer) clearInterval(this.#leaseTimer);
    await this.#leasePass;
    await this.#pumping;
    if (this.#running.size > 0) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          if (this.#running.size === 0) finish();
        };
        const timer = setTimeout(() => finish(), graceMs);
        const finish = (): void => {
          clearTimeout(timer);
          this.#settled.delete(done);
          resolve();
        };
        this.#settled.add(done);
      });
    }
    await this.poller.stop();
    if (!this.#warehouse.forgetsOnRestart) {
      // The queries run on in the warehouse: another instance (or this one, restarted) polls them now.
      await this.#store.releaseLeases(this.#instance.id, this.#running.ids());
      return;
    }
    for (const id of this.#running.ids()) {
      const job = await this.#store.get(id);
      if (job && !isTerminal(job.status)) await this.#interrupted(job, 'The server shut down while this job was running');
    }
  }

  #validate(input: SubmitInput): {
    statements: string[];
    bindings: JsonValue[];
    tag: string | null;
    timeoutSeconds: number;
    waitMs: number;
    idempotencyKey: string | null;
  } {
    const limits = this.#limits;
    if (input.sql.length > limits.maxSqlLength) {
      throw requestError(
        RequestErrorCode.LIMIT_EXCEEDED,
        `sql is ${input.sql.length} characters long; the limit is ${limits.maxSqlLength}`,
      );
    }
    const statements = splitStatements(input.sql);
    if (statements.length === 0) {
      throw requestError(RequestErrorCode.BAD_USER_INPUT, 'sql holds no statement', { argument: 'input.sql' });
    }
    if (statements.length > limits.maxStatements) {
      throw requestError(
        RequestErrorCode.LIMIT_EXCEEDED,
        `sql holds ${statements.length} statements; the limit is ${limits.maxStatements}`,
      );
    }
    const bindings = (input.bindings ?? []).map((value, i) => {
      if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return value as JsonValue;
      throw requestError(
        RequestErrorCode.BAD_USER_INPUT,
        `bindings[${i}] must be a string, number, boolean or null`,
        { argument: 'input.bindings' },
      );
    });
    if (bindings.length > limits.maxBindings) {
      throw requestError(
        RequestErrorCode.LIMIT_EXCEEDED,
        `${bindings.length} bindings given; the limit is ${limits.maxBindings}`,
      );
    }
    const tag = input.tag ?? null;
    if (tag !== null && tag.length > MAX_TAG_LENGTH) {
      throw requestError(RequestErrorCode.BAD_USER_INPUT, `tag is longer than ${MAX_TAG_LENGTH} characters`, {
        argument: 'input.tag',
      });
    }
    const timeoutSeconds = input.timeoutSeconds ?? limits.defaultTimeoutSeconds;
    if (timeoutSeconds < 1) {
      throw requestError(RequestErrorCode.BAD_USER_INPUT, 'timeoutSeconds must be at least 1', {
        argument: 'input.timeoutSeconds',
      });
    }
    if (timeoutSeconds > limits.maxTimeoutSeconds) {
      throw requestError(
        RequestErrorCode.LIMIT_EXCEEDED,
        `timeoutSeconds is ${timeoutSeconds}; the limit is ${limits.maxTimeoutSeconds}`,
      );
    }
    const waitMs = input.waitMs ?? 0;
    if (waitMs < 0) {
      throw requestError(RequestErrorCode.BAD_USER_INPUT, 'waitMs must not be negative', { argument: 'input.waitMs' });
    }
    if (waitMs > limits.maxWaitMs) {
      throw requestError(RequestErrorCode.LIMIT_EXCEEDED, `waitMs is ${waitMs}; the limit is ${limits.maxWaitMs}`, {
        argument: 'input.waitMs',
      });
    }
    const idempotencyKey = input.idempotencyKey ?? null;
    if (idempotencyKey !== null && (idempotencyKey.length === 0 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
      throw requestError(
        RequestErrorCode.BAD_USER_INPUT,
        `idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
        { argument: 'input.idempotencyKey' },
      );
    }
    return { statements, bindings, tag, timeoutSeconds, waitMs, idempotencyKey };
  }

  /** Hands waiting jobs to the warehouse while slots are free. One pump runs at a time. */
  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = (async () => {
      do {
        this.#pumpAgain = false;
        const free = this.#limits.maxConcurrentJobs - this.#running.size;
        if (free <= 0 || !this.#accepting) break;
        // Principals at their share of the slots wait; the oldest job of every other one goes first.
        const perOwner = this.#running.perOwner();
        const atCap = [...perOwner].filter(([, n]) => n >= this.#limits.maxRunningJobsPerPrincipal).map(([owner]) => owner);
        const waiting = await this.#store.listWaiting(free, atCap);
        for (const job of waiting) {
          if ((perOwner.get(job.owner) ?? 0) >= this.#limits.maxRunningJobsPerPrincipal) {
            this.#pumpAgain = true; // its turn comes with the next slot
            continue;
          }
          perOwner.set(job.owner, (perOwner.get(job.owner) ?? 0) + 1);
          await this.#dispatch(job);
        }
      } while (this.#pumpAgain);
    })()
      .catch((error: unknown) => this.#log.error({ err: error }, 'dispatch failed'))
      .finally(() => {
        this.#pumping = null;
        if (this.#pumpAgain) this.#pump();
      });
  }

  async #dispatch(waiting: Job): Promise<void> {
    this.#claiming.add(waiting.id);
    const job = await this.#store.claim(waiting.id, new Date(), this.#lease()).finally(() => this.#claiming.delete(waiting.id));
    if (!job) {
      // Cancelled meanwhile, or another instance claimed it: the slot goes to the next waiting job.
      this.#pumpAgain = true;
      return;
    }
    this.#running.add(job.id, job.owner);
    await this.#submitClaimed(job);
  }

  /** Hands a claimed job to the warehouse and starts polling it. */
  async #submitClaimed(job: Job): Promise<void> {
    let queryId: string;
    try {
      queryId = await this.#warehouse.submit({
        jobId: job.id,
        statements: splitStatements(job.queryText),
        bindings: job.bindings,
        timeoutSeconds: job.timeoutSeconds ?? this.#limits.defaultTimeoutSeconds,
        tag: job.tag,
      });
    } catch (error) {
      this.#log.error({ err: error, jobId: job.id }, 'warehouse refused the job');
      const current = await this.#store.get(job.id);
      if (current?.status === 'ABORTING') {
        await this.#finishCancel(current); // cancelled while the submit was in flight
      } else if (current) {
        await this.#transition(current, 'FAILED_WITH_INCIDENT', {
          endedAt: new Date(),
          error: { code: JobErrorCode.WAREHOUSE_ERROR, sqlState: null, message: 'The warehouse did not accept the job' },
        });
      }
      return;
    }
    // Tracked before anything is awaited: the engine may report a fast query's end at once, and a
    // nudge for an untracked query is dropped (the job then waited for its first check, 500 ms).
    this.poller.track(job.id, queryId);
    const updated = await this.#store.update(job.id, { queryId });
    if (updated?.status === 'ABORTING') await this.#warehouse.cancel(job.id, queryId).catch(() => {});
  }

  /** The poller's callback: turns what the warehouse said into transitions. True when done. */
  async #applyWarehouseState(jobId: string, state: QueryState | undefined): Promise<boolean> {
    let job = await this.#store.get(jobId);
    if (!job || isTerminal(job.status)) return true;
    if (!state) {
      if (!this.#warehouse.forgetsOnRestart) return false;
      await this.#interrupted(job, 'The server restarted while this job was running; the embedded warehouse does not keep running queries across restarts');
      return true;
    }
    const patch: JobPatch = {
      ...(state.startedAt && !job.startedAt ? { startedAt: state.startedAt } : {}),
      progress: state.progress,
    };
    // A query that ran and ended between two polls still shows RUNNING first, with its real start.
    if (state.startedAt && !job.startedAt && isTerminal(state.status) && job.status !== 'ABORTING') {
      job = await this.#transition(job, 'RUNNING', patch, state.startedAt);
    }
    let target: JobStatus = state.status;
    // ABORTING holds until the warehouse reports an end.
    if (job.status === 'ABORTING' && !isTerminal(target)) target = 'ABORTING';
    if (target !== job.status) {
      job = await this.#transition(job, target, {
        ...patch,
        ...(isTerminal(target) ? this.#endPatch(target, state) : {}),
      });
    } else if (JSON.stringify(state.progress) !== JSON.stringify(job.progress)) {
      job = (await this.#store.update(job.id, patch)) ?? job;
    }
    return isTerminal(job.status);
  }

  #endPatch(status: JobStatus, state: QueryState): JobPatch {
    const endedAt = state.endedAt ?? new Date();
    return {
      endedAt,
      error: state.error,
      dml: state.dml,
      ...(status === 'SUCCESS' ? { resultExpiresAt: new Date(endedAt.getTime() + this.#resultTtlMs) } : {}),
    };
  }

  async #finishCancel(job: Job): Promise<Job> {
    return this.#transition(job, 'ABORTED', {
      endedAt: new Date(),
      error: JobErrors.cancelled(),
    });
  }

  async #interrupted(job: Job, message: string): Promise<void> {
    await this.#transition(job, 'FAILED_WITH_INCIDENT', {
      endedAt: new Date(),
      error: JobErrors.interrupted(message),
    });
  }

  /**
   * The one writer of job status. Checks the transition table, writes it as a compare-and-set on
   * the job's sequence (re-reading and re-checking when another writer won), and publishes it.
   * Returns the job as it now is, whether or not this transition applied.
   */
  async #transition(job: Job, to: JobStatus, patch: JobPatch, at: Date = new Date()): Promise<Job> {
    let current = job;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      if (!canTransition(current.status, to)) return current;
      const next = await this.#store.transition(current.id, current.sequence, to, at, patch);
      if (next) {
        this.#log.info({ jobId: next.id, from: current.status, to, sequence: next.sequence }, 'job transition');
        this.#bus.publish(eventOf(next));
        if (isTerminal(to)) this.#ended(next.id);
        return next;
      }
      const reread = await this.#store.get(current.id);
      if (!reread) return current;
      current = reread;
    }
    this.#log.warn({ jobId: job.id, to }, 'transition gave up after repeated conflicts');
    return current;
  }

  #ended(jobId: string): void {
    if (this.#running.delete(jobId)) {
      for (const settled of this.#settled) settled();
      this.#pump();
    }
  }
}
