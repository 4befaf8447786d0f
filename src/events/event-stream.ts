import type { JobStatusEvent } from '../core/job.ts';
import type { JobEventStream } from './event-bus.ts';

/**
 * The iterator behind a bus subscription: events pushed before anyone reads wait in order, and
 * `return()` ends it at once (calling `onClose` once), even while a read is pending.
 */
export function eventStream(onClose: () => void): { stream: JobEventStream; push: (event: JobStatusEvent) => void } {
  const buffer: JobStatusEvent[] = [];
  let wake: ((result: IteratorResult<JobStatusEvent>) => void) | null = null;
  let closed = false;

  const push = (event: JobStatusEvent): void => {
    if (closed) return;
    if (wake) {
      const resolve = wake;
      wake = null;
      resolve({ value: event, done: false });
    } else {
      buffer.push(event);
    }
  };

  const close = (): IteratorResult<JobStatusEvent> => {
    if (!closed) {
      closed = true;
      onClose();
      buffer.length = 0;
      wake?.({ value: undefined, done: true });
      wake = null;
    }
    return { value: undefined, done: true };
  };

  const stream: JobEventStream = {
    ready: Promise.resolve(),
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
  return { stream, push };
}
