import type { Job } from '../core/job.ts';
import { isTerminal } from '../core/status.ts';

/** Finished jobs kept; the least recently read goes first. */
const KEPT = 10_000;

/**
 * The finished jobs clients read lately, in memory: a job that ended and whose webhook (if any)
 * is settled changes no more, so `job(id)` of it need not read the store again (a dashboard
 * polling a result reads one job thousands of times). Only such jobs are kept, so a hit is never
 * stale, with one store or with many instances.
 */
export class FinishedJobs {
  readonly #jobs = new Map<string, Job>();

  get(id: string): Job | undefined {
    const job = this.#jobs.get(id);
    if (job) {
      // Most recently read last, so the first entry is the one to drop.
      this.#jobs.delete(id);
      this.#jobs.set(id, job);
    }
    return job;
  }

  /** Keeps `job` if it will not change again. */
  offer(job: Job): void {
    if (!isTerminal(job.status) || (job.notification && !job.notification.deliveredAt && !job.notification.gaveUp)) return;
    this.#jobs.set(job.id, job);
    if (this.#jobs.size > KEPT) this.#jobs.delete(this.#jobs.keys().next().value!);
  }
}
