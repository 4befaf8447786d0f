import type { JobStatusEvent } from '../core/job.ts';
import type { EventBus, JobEventStream } from './event-bus.ts';
import { eventStream } from './event-stream.ts';

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
