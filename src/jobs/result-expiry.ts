import type { Clock } from '../core/clock.ts';
import { type Logger, logPassFailure } from '../core/logger.ts';
import type { JobStore } from '../store/job-store.ts';
import type { Warehouse } from '../warehouses/warehouse.ts';

/** How often expired results are looked for (at most), and how many are deleted per pass. */
const SWEEP_MS = 60_000;
const BATCH = 100;

/**
 * Deletes the stored results that passed their `resultExpiresAt`, each exactly once. Driven by the
 * store (not by timers per job), so it survives restarts.
 */
export class ResultExpiry {
  readonly #store: JobStore;
  readonly #warehouse: Warehouse;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #ttlMs: number;
  #timer: NodeJS.Timeout | null = null;

  constructor(deps: { store: JobStore; warehouse: Warehouse; clock: Clock; logger: Logger; resultTtlMs: number }) {
    this.#store = deps.store;
    this.#warehouse = deps.warehouse;
    this.#clock = deps.clock;
    this.#log = deps.logger;
    this.#ttlMs = deps.resultTtlMs;
  }

  /** Sweeps now, then at least every minute (more often when results live less than that). */
  async start(): Promise<void> {
    await this.sweep();
    this.#timer = setInterval(() => void this.sweep(), Math.min(SWEEP_MS, this.#ttlMs));
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  async sweep(now: Date = this.#clock.now()): Promise<number> {
    let deleted = 0;
    try {
      for (;;) {
        // Delete first, mark after: a crash in between deletes again (harmless), never forgets one.
        const expired = await this.#store.listExpiredResults(now, BATCH);
        for (const job of expired) if (job.queryId) await this.#warehouse.deleteResult(job.queryId);
        await this.#store.markResultsDeleted(expired.map((job) => job.id));
        deleted += expired.length;
        if (expired.length < BATCH) break;
      }
    } catch (error) {
      logPassFailure(this.#log, error, 'result expiry sweep failed');
    }
    if (deleted > 0) this.#log.info({ deleted }, 'expired results deleted');
    return deleted;
  }
}
