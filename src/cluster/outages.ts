/**
 * When a shared dependency stops and starts answering, as the instance meets it: each outage is
 * counted once (for `jobql_dependency_outages_total`) and logged twice, a warning when it begins
 * and one line with its length when the dependency answers again, instead of one error per
 * failed request or tick.
 */
import type { Dependency } from '../core/dependencies.ts';
import type { Logger } from '../core/logger.ts';

export class Outages {
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #since = new Map<Dependency, number>();
  readonly #counts: Record<Dependency, number> = { postgresql: 0, redis: 0 };

  constructor(logger: Logger, now: () => number = Date.now) {
    this.#logger = logger;
    this.#now = now;
  }

  /** It did not answer: the start of an outage unless one is on. */
  down(dependency: Dependency, reason: string): void {
    if (this.#since.has(dependency)) return;
    this.#since.set(dependency, this.#now());
    this.#counts[dependency] += 1;
    this.#logger.warn({ dependency, reason }, `${NAMES[dependency]} does not answer`);
  }

  /** It answered: the end of the outage if one is on. */
  up(dependency: Dependency): void {
    const since = this.#since.get(dependency);
    if (since === undefined) return;
    this.#since.delete(dependency);
    this.#logger.info({ dependency, outageMs: this.#now() - since }, `${NAMES[dependency]} answers again`);
  }

  /** Outages that began since the start, by dependency. */
  count(dependency: Dependency): number {
    return this.#counts[dependency];
  }
}

const NAMES: Record<Dependency, string> = { postgresql: 'PostgreSQL', redis: 'Redis' };
