import type { JobStatusEvent } from '../jobs/job.ts';

/** A stream of one job's events; `return()` (or `for await` ending) removes its listener. */
export type JobEventStream = AsyncIterableIterator<JobStatusEvent>;

/**
 * Carries job transitions from the process that applies them to the subscribers. `subscribe`
 * registers its listener before it returns, so a caller that subscribes, then reads the stored
 * job, cannot miss a transition that lands in between (the per-job sequence removes duplicates).
 */
export interface EventBus {
  publish(event: JobStatusEvent): void;
  subscribe(jobId: string): JobEventStream;
  /** Listeners currently registered, over all jobs; for leak checks. */
  listenerCount(): number;
}

export class InProcessEventBus implements EventBus {
  readonly #listeners = new Map<string, Set<(event: JobStatusEvent) => void>>();

  publish(event: JobStatusEvent): void {
    const listeners = this.#listeners.get(event.job.id);
    if (listeners) for (const listener of [...listeners]) listener(event);
  }

  listenerCount(): number {
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }

  subscribe(jobId: string): JobEventStream {
    const buffer: JobStatusEvent[] = [];
    let wake: ((result: IteratorResult<JobStatusEvent>) => void) | null = null;
    let closed = false;

    const listener = (event: JobStatusEvent): void => {
      if (wake) {
        const resolve = wake;
        wake = null;
        resolve({ value: event, done: false });
      } else {
        buffer.push(event);
      }
    };
    let set = this.#listeners.get(jobId);
    if (!set) {
      set = new Set();
      this.#listeners.set(jobId, set);
    }
    set.add(listener);

    const close = (): IteratorResult<JobStatusEvent> => {
      if (!closed) {
        closed = true;
        const listeners = this.#listeners.get(jobId);
        listeners?.delete(listener);
        if (listeners?.size === 0) this.#listeners.delete(jobId);
        buffer.length = 0;
        wake?.({ value: undefined, done: true });
        wake = null;
      }
      return { value: undefined, done: true };
    };

    return {
      next: () => {
        const event = buffer.shift();
        if (event) return Promise.resolve({ value: event, done: false });
        if (closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (wake = resolve));
      },
      return: () => Promise.resolve(close()),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}
