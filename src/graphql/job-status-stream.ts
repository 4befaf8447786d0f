import type { Principal } from '../core/principal.ts';
import { RequestErrorCode, requestError } from '../core/errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import { eventOf, type Job, type JobStatusEvent } from '../core/job.ts';
import type { JobService } from '../jobs/job-service.ts';
import type { JobStatusStreamObserver } from '../core/observers.ts';
import { isTerminal } from '../core/status.ts';

/** An event to send, and whether it came from the bus as it happened (for the delivery-lag metric). */
interface Pending {
  event: JobStatusEvent;
  live: boolean;
}

/**
 * The `jobStatus` event stream, then the end after a terminal state. It listens on the bus before
 * it reads the store, so a transition in between is not lost, and drops events whose sequence
 * the client has already seen. A job the principal may not see ends it with NOT_FOUND before any
 * event, exactly like an unknown id.
 *
 * - Without `afterSequence`: the job's current state first, then every later transition.
 * - With `afterSequence` (the last sequence the client saw; 0 for none): the recorded transitions
 *   after it, in order (JobService.history), then the later ones as they happen; nothing at all,
 *   just the end, when the job has ended and the client saw its last sequence. A job with no
 *   recorded history past `afterSequence` (it predates the history) sends its current state.
 *
 * A bus event that skips a sequence (an event overtook an earlier one: two writers' publishes
 * crossing, or instances publishing through Redis) makes it read the skipped ones from the
 * store first, so the stream stays gap-free whichever way it started.
 *
 * A hand-written iterator rather than an async generator: a generator waiting inside `for await`
 * cannot be returned until its next event, so a client that leaves while its job sits QUEUED
 * would keep its bus listener until the job moved. Here `return()` removes it at once.
 */
export function jobStatusStream(
  id: string,
  principal: Principal,
  jobs: Pick<JobService, 'get' | 'history' | 'watching'>,
  bus: EventBus,
  observer: JobStatusStreamObserver | null = null,
  afterSequence: number | null = null,
): AsyncIterableIterator<JobStatusEvent> {
  if (afterSequence !== null && !(Number.isSafeInteger(afterSequence) && afterSequence >= 0)) {
    // Before the bus is asked for anything.
    throw requestError(RequestErrorCode.BAD_USER_INPUT, 'afterSequence must be 0 or more: the last sequence the client saw', {
      argument: 'afterSequence',
    });
  }
  const stream = bus.subscribe(id);
  let phase: 'start' | 'events' | 'last-sent' | 'done' = 'start';
  let lastSequence = 0;
  /** Read from the store, sent before the next bus event. */
  let pending: Pending[] = [];
  // Its own flag: `phase` can be set again by a `next` that was awaiting the store during a `return`.
  let open = true;
  observer?.streamOpened();

  /** Ends this subscriber's watch of the job (the unwatched-job cancel), once it began. */
  let unwatch = (): void => {};

  const finish = async (): Promise<IteratorResult<JobStatusEvent>> => {
    if (open) observer?.streamClosed();
    open = false;
    unwatch();
    phase = 'done';
    await stream.return?.();
    return { value: undefined, done: true };
  };

  const notFound = () => requestError(RequestErrorCode.NOT_FOUND, `No job with id ${JSON.stringify(id)}`);

  /** What comes before the first bus event, read once the bus listens; `job` is the job as read. */
  const start = async (): Promise<{ first: JobStatusEvent[]; job: Job }> => {
    await stream.ready;
    if (afterSequence === null) {
      const job = await jobs.get(id, principal);
      if (!job) throw notFound();
      return { first: [eventOf(job)], job };
    }
    const history = await jobs.history(id, afterSequence, principal);
    if (!history) throw notFound();
    lastSequence = afterSequence;
    const { job } = history;
    const first = history.events.filter((e) => e.sequence > afterSequence);
    // No recorded history up to the job's state (it predates the history): its current state.
    if (job.sequence > (first.at(-1)?.sequence ?? afterSequence)) first.push(eventOf(job));
    return { first, job };
  };

  /**
   * The transitions the store has between the last one sent and `event` (a bus event that skipped
   * some), then `event`. A progress or queue event repeats its transition's sequence: that
   * transition is among the skipped ones.
   */
  const fill = async (event: JobStatusEvent): Promise<Pending[]> => {
    const history = await jobs.history(id, lastSequence, principal);
    const through = event.kind === 'TRANSITION' ? event.sequence - 1 : event.sequence;
    const skipped = (history?.events ?? []).filter((e) => e.sequence > lastSequence && e.sequence <= through);
    return [...skipped.map((e) => ({ event: e, live: false })), { event, live: true }];
  };

  /** Whether `event` is the next one to send: the next transition, or news of the latest one's state. */
  const isNext = (event: JobStatusEvent): boolean =>
    event.kind === 'TRANSITION' ? event.sequence === lastSequence + 1 : event.sequence === lastSequence;
  /** Whether the client has it already (or it is news of a state the client has seen move on). */
  const isStale = (event: JobStatusEvent): boolean =>
    event.kind === 'TRANSITION' ? event.sequence <= lastSequence : event.sequence < lastSequence;

  const send = ({ event, live }: Pending): IteratorResult<JobStatusEvent> => {
    lastSequence = event.sequence;
    if (isTerminal(event.status)) {
      phase = 'last-sent';
      if (live) observer?.terminalEventDelivered(event);
    }
    return { value: event, done: false };
  };

  /** Fails the stream with `error` (after removing its listener). */
  const fail = async (error: unknown): Promise<never> => {
    await finish();
    throw error;
  };

  return {
    async next(): Promise<IteratorResult<JobStatusEvent>> {
      if (phase === 'done') return { value: undefined, done: true };
      if (phase === 'last-sent') return finish();
      if (phase === 'start') {
        const { first, job } = await start().catch(fail);
        if (!open) return { value: undefined, done: true };
        unwatch = jobs.watching(job);
        phase = 'events';
        pending = first.map((event) => ({ event, live: false }));
        // Resumed at or past the end: nothing to send.
        if (pending.length === 0 && isTerminal(job.status)) return finish();
      }
      for (;;) {
        const queued = pending.shift();
        if (queued) {
          if (!isStale(queued.event)) return send(queued);
          continue;
        }
        const next = await stream.next();
        if (next.done || phase !== 'events') return finish();
        const event = next.value;
        if (isStale(event)) continue;
        if (isNext(event)) return send({ event, live: true });
        pending = await fill(event).catch(fail);
        if (!open) return { value: undefined, done: true };
      }
    },
    return: finish,
    async throw(error: unknown): Promise<IteratorResult<JobStatusEvent>> {
      return fail(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
