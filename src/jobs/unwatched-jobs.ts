import type { Clock } from '../core/clock.ts';
import { JobErrors, type JobError } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import { type Logger, logPassFailure } from '../core/logger.ts';
import { isTerminal } from '../core/status.ts';
import type { JobStore } from '../store/job-store.ts';

/** How often watches are written and unwatched jobs looked for. */
export const UNWATCHED_SWEEP_MS = 1000;
const BATCH = 100;

/**
 * The unwatched-job cancel (`cancelIfUnwatchedSeconds`): a job nobody watches for that long is
 * cancelled with JOB_UNWATCHED. Watching is a subscriber open on the job, a read of it (`job`,
 * `jobs`, a download): all go through `watched` or `watching`. The time of the last watch is kept in
 * the store, so that a subscriber on one instance keeps a job alive that another instance runs;
 * writes are batched once a sweep and, per job, made at most every quarter of its setting, so a
 * job is cancelled between its setting and a quarter more (plus a sweep) after its last watch.
 * Every instance sweeps; two cancelling one job is harmless (the cancel is a compare-and-set).
 */
export class UnwatchedJobs {
  readonly #store: JobStore;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #cancel: (job: Job, reason: JobError) => Promise<unknown>;
  /** Open subscribers per job with the setting. */
  readonly #subscribers = new Map<string, { count: number; seconds: number }>();
  /** Jobs read since the last sweep, with their setting. */
  readonly #read = new Map<string, number>();
  /** When each job's watch was last written. */
  readonly #written = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #sweeping: Promise<void> | null = null;

  constructor(deps: { store: JobStore; clock: Clock; logger: Logger; cancel: (job: Job, reason: JobError) => Promise<unknown> }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#log = deps.logger;
    this.#cancel = deps.cancel;
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#sweeping ??= this.sweep().finally(() => (this.#sweeping = null));
    }, UNWATCHED_SWEEP_MS);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#sweeping;
  }

  /** Someone read the job. */
  watched(job: Job): void {
    if (job.cancelIfUnwatchedSeconds === null || isTerminal(job.status)) return;
    this.#read.set(job.id, job.cancelIfUnwatchedSeconds);
  }

  /** A subscriber opened on the job; the returned function closes it. */
  watching(job: Job): () => void {
    const seconds = job.cancelIfUnwatchedSeconds;
    if (seconds === null || isTerminal(job.status)) return () => {};
    const entry = this.#subscribers.get(job.id) ?? { count: 0, seconds };
    entry.count += 1;
    this.#subscribers.set(job.id, entry);
    this.#read.set(job.id, seconds);
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      entry.count -= 1;
      if (entry.count === 0) this.#subscribers.delete(job.id);
      // The subscriber's last moment counts as a watch.
      this.#read.set(job.id, seconds);
    };
  }

  /** Writes the watches due, then cancels the jobs whose time is up. */
  async sweep(): Promise<void> {
    try {
      const now = this.#clock.now();
      await this.#writeWatches(now);
      for (const job of await this.#store.listUnwatched(now, BATCH)) {
        if (job.status === 'ABORTING') continue;
        if (this.#subscribers.has(job.id)) {
          // Watched here, written a moment too late: write it now rather than cancel.
          await this.#store.touch([job.id], now);
          continue;
        }
        this.#log.info({ jobId: job.id, seconds: job.cancelIfUnwatchedSeconds }, 'cancelling an unwatched job');
        await this.#cancel(job, JobErrors.unwatched(job.cancelIfUnwatchedSeconds ?? 0));
        this.#written.delete(job.id);
      }
    } catch (error) {
      logPassFailure(this.#log, error, 'unwatched-job sweep failed');
    }
  }

  async #writeWatches(now: Date): Promise<void> {
    const due = new Map(this.#read);
    this.#read.clear();
    for (const [id, { seconds }] of this.#subscribers) due.set(id, seconds);
    const ids: string[] = [];
    for (const [id, seconds] of due) {
      const last = this.#written.get(id);
      // Often enough that a job is never cancelled while watched, rarely enough to stay cheap: a
      // watch too soon after the last write waits for a later sweep (so a job may live up to a
      // quarter of its setting longer, never less).
      if (last !== undefined && now.getTime() - last < (seconds * 1000) / 4) {
        this.#read.set(id, seconds);
        continue;
      }
      ids.push(id);
      this.#written.set(id, now.getTime());
    }
    if (ids.length > 0) await this.#store.touch(ids, now);
    // Forget jobs nobody watches any more (their next watch writes again).
    for (const [id, at] of this.#written) {
      if (!due.has(id) && now.getTime() - at > 2 * 86_400_000) this.#written.delete(id);
    }
  }
}
