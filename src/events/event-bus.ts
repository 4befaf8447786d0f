import type { JobStatusEvent } from '../core/job.ts';

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
