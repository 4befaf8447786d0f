/**
 * The job service's life, as a state machine:
 *
 *   not-started ──recover()──► recovering ──► running ──drain()──► draining ──► stopped
 *
 * Only `running` carries the admission (see JobService): a submit or an attach before recovery
 * has finished, or after a drain began, has nothing to be admitted by and is refused.
 */
export type ServicePhase = 'not-started' | 'recovering' | 'running' | 'draining' | 'stopped';

export const SERVICE_TRANSITIONS: Readonly<Record<ServicePhase, readonly ServicePhase[]>> = {
  'not-started': ['recovering', 'draining'],
  recovering: ['running', 'draining'],
  running: ['draining'],
  draining: ['stopped'],
  stopped: [],
};

/** The current phase and the data that exists only in it; moves only along SERVICE_TRANSITIONS. */
export class Lifecycle<Running> {
  #phase: ServicePhase = 'not-started';
  #running: Running | null = null;

  get phase(): ServicePhase {
    return this.#phase;
  }

  /** What the running phase carries; null in every other phase. */
  get running(): Running | null {
    return this.#running;
  }

  enter(next: 'running', carried: Running): void;
  enter(next: Exclude<ServicePhase, 'running' | 'not-started'>): void;
  enter(next: ServicePhase, carried?: Running): void {
    if (!SERVICE_TRANSITIONS[this.#phase].includes(next)) {
      throw new Error(`The job service cannot go from ${this.#phase} to ${next}`);
    }
    this.#phase = next;
    this.#running = next === 'running' ? (carried ?? null) : null;
  }
}
