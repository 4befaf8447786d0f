import type { JobStatusEvent } from '../core/job.ts';
import { eventStream } from './event-stream.ts';

/** A stream of one job's events; `return()` (or `for await` ending) removes its listener. */
export interface JobEventStream extends AsyncIterableIterator<JobStatusEvent> {
  /** Resolves once the bus delivers this job's events to the stream (at once in process; Redis confirms). */
  ready: Promise<void>;
}

/**
 * Carries job transitions from the process that applies them to the subscribers. A caller that
 * subscribes, waits for `ready`, then reads the stored job cannot miss a transition that lands in
 * between (the per-job sequence removes duplicates).
 */
export interface EventBus {
  publish(event: JobStatusEvent): void;
  subscribe(jobId: string): JobEventStream;
  /** Listeners currently registered, over all jobs; for leak checks. */
  listenerCount(): number;
}

/** The bus of a single process: listeners in a map, each event object handed to all of them. */
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
    const { stream, push } = eventStream(() => {
      const listeners = this.#listeners.get(jobId);
      listeners?.delete(push);
      if (listeners?.size === 0) this.#listeners.delete(jobId);
    });
    let set = this.#listeners.get(jobId);
    if (!set) {
      set = new Set();
      this.#listeners.set(jobId, set);
    }
    set.add(push);
    return stream;
  }
}
