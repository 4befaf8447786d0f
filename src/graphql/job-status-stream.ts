import type { Principal } from '../core/principal.ts';
import { RequestErrorCode, requestError } from '../core/errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import { eventOf, type JobStatusEvent } from '../core/job.ts';
import type { JobService } from '../jobs/job-service.ts';
import type { JobStatusStreamObserver } from '../core/observers.ts';
import { isTerminal } from '../core/status.ts';

/**
 * The `jobStatus` event stream: the job's current state, then every later transition, then the
 * end after a terminal state. A job the principal may not see ends it with NOT_FOUND before any
 * event, exactly like an unknown id. It listens on the bus before it reads the store, so a transition in
 * between is not lost, and drops events whose sequence the client has already seen.
 *
 * A hand-written iterator rather than an async generator: a generator waiting inside `for await`
 * cannot be returned until its next event, so a client that leaves while its job sits QUEUED
 * would keep its bus listener until the job moved. Here `return()` removes it at once.
 */
export function jobStatusStream(
  id: string,
  principal: Principal,
  jobs: Pick<JobService, 'get'>,
  bus: EventBus,
  observer: JobStatusStreamObserver | null = null,
): AsyncIterableIterator<JobStatusEvent> {
  const stream = bus.subscribe(id);
  let phase: 'start' | 'events' | 'last-sent' | 'done' = 'start';
  let lastSequence = 0;
  // Its own flag: `phase` can be set again by a `next` that was awaiting the store during a `return`.
  let open = true;
  observer?.streamOpened();

  const finish = async (): Promise<IteratorResult<JobStatusEvent>> => {
    if (open) observer?.streamClosed();
    open = false;
    phase = 'done';
    await stream.return?.();
    return { value: undefined, done: true };
  };

  return {
    async next(): Promise<IteratorResult<JobStatusEvent>> {
      if (phase === 'done') return { value: undefined, done: true };
      if (phase === 'last-sent') return finish();
      if (phase === 'start') {
        const job = await stream.ready.then(() => jobs.get(id, principal)).catch(async (error: unknown) => {
          await finish();
          throw error;
        });
        if (!job) {
          await finish();
          throw requestError(RequestErrorCode.NOT_FOUND, `No job with id ${JSON.stringify(id)}`);
        }
        lastSequence = job.sequence;
        phase = isTerminal(job.status) ? 'last-sent' : 'events';
        return { value: eventOf(job), done: false };
      }
      for (;;) {
        const next = await stream.next();
        if (next.done || phase !== 'events') return finish();
        if (next.value.sequence <= lastSequence) continue;
        lastSequence = next.value.sequence;
        if (isTerminal(next.value.status)) {
          phase = 'last-sent';
          observer?.terminalEventDelivered(next.value);
        }
        return { value: next.value, done: false };
      }
    },
    return: finish,
    async throw(error: unknown): Promise<IteratorResult<JobStatusEvent>> {
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
