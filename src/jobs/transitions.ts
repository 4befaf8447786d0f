import type { Clock } from '../core/clock.ts';
import { JobErrors } from '../core/errors.ts';
import { eventOf, type Job, type JobEventKind, updateEventOf } from '../core/job.ts';
import type { Logger } from '../core/logger.ts';
import { canTransition, isTerminal, type JobStatus } from '../core/status.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { JobPatch, JobStore } from '../store/job-store.ts';

/** How often a transition is retried when a concurrent writer moved the job first. */
const CAS_ATTEMPTS = 5;

/**
 * The one writer of job status. Checks the transition table, writes the change as a
 * compare-and-set on the job's sequence (re-reading and re-checking when another writer won),
 * publishes it, and reports a job's end to `onEnded`. Every status change of every job goes through
 * `apply`; nothing else calls `JobStore.transition`.
 */
export class TransitionWriter {
  readonly #store: JobStore;
  readonly #bus: EventBus;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #onEnded: (job: Job) => void;

  constructor(deps: { store: JobStore; bus: EventBus; clock: Clock; logger: Logger; onEnded: (job: Job) => void }) {
    this.#store = deps.store;
    this.#bus = deps.bus;
    this.#clock = deps.clock;
    this.#log = deps.logger;
    this.#onEnded = deps.onEnded;
  }

  /** Returns the job as it now is, whether or not this transition applied. */
  async apply(job: Job, to: JobStatus, patch: JobPatch, at: Date = this.#clock.now()): Promise<Job> {
    let current = job;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      if (!canTransition(current.status, to)) return current;
      const next = await this.#store.transition(current.id, current.sequence, to, at, patch);
      if (next) {
        this.#log.info({ jobId: next.id, from: current.status, to, sequence: next.sequence }, 'job transition');
        this.#bus.publish(eventOf(next));
        if (isTerminal(to)) this.#onEnded(next);
        return next;
      }
      const reread = await this.#store.get(current.id);
      if (!reread) return current;
      current = reread;
    }
    this.#log.warn({ jobId: job.id, to }, 'transition gave up after repeated conflicts');
    return current;
  }

  /** A change that is not a transition (progress, place in line): published, never stored in the history. */
  publishUpdate(job: Job, kind: Exclude<JobEventKind, 'TRANSITION'>): void {
    this.#bus.publish(updateEventOf(job, kind, this.#clock.now()));
  }

  /** ABORTING → ABORTED, for a job the warehouse never ran (or confirmed stopped). */
  finishCancel(job: Job): Promise<Job> {
    return this.apply(job, 'ABORTED', { endedAt: this.#clock.now(), error: job.error ?? JobErrors.cancelled() });
  }

  /** Ends a job whose query is lost (the server stopped under it). */
  interrupt(job: Job, message: string): Promise<Job> {
    return this.apply(job, 'FAILED_WITH_INCIDENT', { endedAt: this.#clock.now(), error: JobErrors.interrupted(message) });
  }
}
