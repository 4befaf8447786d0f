import { RequestErrorCode, requestError } from '../core/errors.ts';
import type { JobStatusEvent } from '../core/job.ts';
import type { JobEventStream } from './event-bus.ts';

/**
 * Events one subscription may have waiting before it is ended. A job has a handful of
 * transitions, so a reader this far behind has stopped reading: its events are dropped and the
 * stream ends with LIMIT_EXCEEDED (the client resubscribes), rather than growing without bound.
 */
export const MAX_BUFFERED_EVENTS = 256;

/**
 * The iterator behind a bus subscription: events pushed before anyone reads wait in order, and
 * `return()` ends it at once (calling `onClose` once), even while a read is pending.
 */
export function eventStream(
  onClose: () => void,
  maxBuffered = MAX_BUFFERED_EVENTS,
): { stream: JobEventStream; push: (event: JobStatusEvent) => void } {
  const buffer: JobStatusEvent[] = [];
  let wake: ((result: IteratorResult<JobStatusEvent>) => void) | null = null;
  let closed = false;
  let overflowed = false;

  const push = (event: JobStatusEvent): void => {
    if (closed) return;
    if (wake) {
      const resolve = wake;
      wake = null;
      resolve({ value: event, done: false });
    } else if (buffer.length >= maxBuffered) {
      overflowed = true;
      close();
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
      if (overflowed) {
        return Promise.reject(
          requestError(RequestErrorCode.LIMIT_EXCEEDED, `More than ${maxBuffered} events waited unread on this subscription; subscribe again`),
        );
      }
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
