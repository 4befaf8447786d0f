import type { Clock } from '../core/clock.ts';
import { JobErrorCode } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import { type Logger, logPassFailure } from '../core/logger.ts';
import type { JobStore, Lease } from '../store/job-store.ts';
import type { Warehouse } from '../warehouses/warehouse.ts';
import type { JobLimits } from './admission.ts';
import type { Poller } from './poller.ts';
import type { RunningJobs } from './running-jobs.ts';
import { splitStatements } from './sql-statements.ts';
import type { TransitionWriter } from './transitions.ts';

interface DispatcherDeps {
  store: JobStore;
  warehouse: Warehouse;
  writer: TransitionWriter;
  poller: Poller;
  running: RunningJobs;
  limits: JobLimits;
  lease: () => Lease;
  clock: Clock;
  logger: Logger;
  /** Told after every pump: the line may have moved. */
  onQueueMoved?: () => void;
}

/**
 * Hands waiting jobs to the warehouse while slots are free, fairly across principals, and starts
 * polling them. A job is claimed in the store (its `dispatchedAt` set) before the warehouse sees
 * it, so a job without `dispatchedAt` has certainly not run. One pump runs at a time; a pump
 * asked for while one runs makes it go round once more.
 */
export class Dispatcher {
  readonly #deps: DispatcherDeps;
  #pumping: Promise<void> | null = null;
  #pumpAgain = false;
  #pumpSoon: NodeJS.Immediate | null = null;
  #stopped = false;

  constructor(deps: DispatcherDeps) {
    this.#deps = deps;
  }

  /**
   * Asks for a dispatch pass. Passes asked for in one turn of the event loop are one pass: a
   * burst of 10,000 job ends frees 10,000 slots in one poller tick, and a pass per end would read
   * the waiting jobs 10,000 times.
   */
  pump(): void {
    this.#pumpSoon ??= setImmediate(() => {
      this.#pumpSoon = null;
      this.#startPump();
    });
  }

  #startPump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = this.#pumpRounds()
      .catch((error: unknown) => logPassFailure(this.#deps.logger, error, 'dispatch failed'))
      .finally(() => {
        this.#pumping = null;
        if (this.#pumpAgain) this.#startPump();
        else this.#deps.onQueueMoved?.();
      });
  }

  /** No more dispatching; resolves when the pump under way (if any) is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#pumpSoon) clearImmediate(this.#pumpSoon);
    this.#pumpSoon = null;
    await this.#pumping;
  }

  async #pumpRounds(): Promise<void> {
    do {
      this.#pumpAgain = false;
      const free = this.#deps.limits.maxConcurrentJobs - this.#deps.running.size;
      if (free <= 0 || this.#stopped) break;
      // Principals at their share of the slots wait; the oldest job of every other one goes first.
      const perOwner = this.#deps.running.perOwner();
      const cap = this.#deps.limits.maxRunningJobsPerPrincipal;
      const atCap = [...perOwner].filter(([, n]) => n >= cap).map(([owner]) => owner);
      for (const job of await this.#deps.store.listWaiting(free, atCap)) {
        if ((perOwner.get(job.owner) ?? 0) >= cap) {
          this.#pumpAgain = true; // its turn comes with the next slot
          continue;
        }
        perOwner.set(job.owner, (perOwner.get(job.owner) ?? 0) + 1);
        await this.#dispatch(job);
      }
    } while (this.#pumpAgain);
  }

  async #dispatch(waiting: Job): Promise<void> {
    const job = await this.#deps.running.claiming(waiting.id, () => this.#deps.store.claim(waiting.id, this.#deps.clock.now(), this.#deps.lease()));
    if (!job) {
      // Cancelled meanwhile, or another instance claimed it: the slot goes to the next waiting job.
      this.#pumpAgain = true;
      return;
    }
    this.#deps.running.add(job.id, job.owner);
    await this.submitClaimed(job);
  }

  /** Hands a claimed job to the warehouse and starts polling it. */
  async submitClaimed(job: Job): Promise<void> {
    let queryId: string;
    try {
      queryId = await this.#deps.warehouse.submit({
        jobId: job.id,
        owner: job.owner,
        runAs: job.runAs,
        statements: splitStatements(job.queryText),
        bindings: job.bindings,
        timeoutSeconds: job.timeoutSeconds ?? this.#deps.limits.defaultTimeoutSeconds,
        tag: job.tag,
      });
    } catch (error) {
      this.#deps.logger.error({ err: error, jobId: job.id }, 'warehouse refused the job');
      const current = await this.#deps.store.get(job.id);
      if (current?.status === 'ABORTING') {
        await this.#deps.writer.finishCancel(current); // cancelled while the submit was in flight
      } else if (current) {
        await this.#deps.writer.apply(current, 'FAILED_WITH_INCIDENT', {
          endedAt: this.#deps.clock.now(),
          error: { code: JobErrorCode.WAREHOUSE_ERROR, sqlState: null, message: 'The warehouse did not accept the job' },
        });
      }
      return;
    }
    // Tracked before anything is awaited: the engine may report a fast query's end at once, and a
    // nudge for an untracked query is dropped (the job then waited for its first check, 500 ms).
    this.#deps.poller.track(job.id, queryId);
    const updated = await this.#deps.store.update(job.id, { queryId });
    if (updated?.status === 'ABORTING') await this.#deps.warehouse.cancel(job.id, queryId).catch(() => {});
  }

  /**
   * Records a query started elsewhere as this instance's running job and polls it. It never takes
   * a dispatch slot's turn in the queue: it already runs.
   */
  async attach(inserted: Job, queryId: string): Promise<Job> {
    await this.#deps.running.claiming(inserted.id, () => this.#deps.store.claim(inserted.id, inserted.submittedAt, this.#deps.lease()));
    const job = (await this.#deps.store.update(inserted.id, { queryId })) ?? inserted;
    this.#deps.running.add(job.id, job.owner);
    this.#deps.poller.track(job.id, queryId);
    return job;
  }

  /** A job reached its end: its slot is free. */
  ended(jobId: string): void {
    if (this.#deps.running.delete(jobId)) this.pump();
    else this.#deps.onQueueMoved?.(); // a waiting job left the line (cancelled)
  }
}
