import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import type { TypedEventTarget } from '@graphql-yoga/typed-event-target';
import type { Redis } from 'ioredis';
import type { JobStatusEvent } from '../core/job.ts';
import type { EventBus, JobEventStream } from './event-bus.ts';
import { eventStream } from './event-stream.ts';

type JobEvent = CustomEvent<JobStatusEvent>;

/** How long a new stream waits for Redis to confirm its SUBSCRIBE before the caller reads the store. */
const READY_WAIT_MS = 1000;

const JOB_DATES = ['statusChangedAt', 'submittedAt', 'dispatchedAt', 'startedAt', 'endedAt', 'resultExpiresAt'] as const;

/** JSON turns Dates into strings; the subscribers get Dates back, as from the in-process bus. */
function reviveEvent(value: unknown): JobStatusEvent {
  const event = value as JobStatusEvent;
  event.at = new Date(event.at);
  const job = event.job as unknown as Record<(typeof JOB_DATES)[number], string | Date | null>;
  for (const field of JOB_DATES) {
    const text = job[field];
    if (text !== null) job[field] = new Date(text);
  }
  return event;
}

/**
 * The event bus of a multi-instance deployment: transitions go through Redis pub/sub, so a
 * subscriber on any instance hears the jobs every instance applies. graphql-yoga's Redis event
 * target does the channel bookkeeping: one Redis SUBSCRIBE per job with listeners on this
 * instance, dropped with its last listener, and one parsed event object handed to all of them.
 *
 * `ready` resolves once Redis confirmed the SUBSCRIBE (a PING on the subscriber connection is
 * answered after it, in order), so a caller that waits for it before reading the store cannot
 * miss a transition published in between.
 */
export class RedisEventBus implements EventBus {
  readonly #target: TypedEventTarget<JobEvent>;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  readonly #latest: ((jobId: string) => Promise<JobStatusEvent | null>) | null;
  readonly #onCaughtUp: (streams: number) => void;
  /** The local streams of each job, for catching them up. */
  readonly #streams = new Map<string, Set<(event: JobStatusEvent) => void>>();
  #listeners = 0;

  /**
   * `latest` reads a job's current state from the job store. With it, every reconnect of either
   * Redis connection catches this instance's streams up: what was published while Redis was away
   * reached no one, so each stream is handed its job's stored state, and a stream that sees a
   * sequence ahead of its own reads the transitions it missed from the store (jobStatusStream).
   */
  constructor(deps: {
    publisher: Redis;
    subscriber: Redis;
    channelPrefix: string;
    latest?: (jobId: string) => Promise<JobStatusEvent | null>;
    onCaughtUp?: (streams: number) => void;
    /** A PUBLISH failed (Redis away): the event reached no other instance. */
    onUnpublished?: () => void;
  }) {
    this.#subscriber = deps.subscriber;
    this.#prefix = deps.channelPrefix;
    this.#latest = deps.latest ?? null;
    this.#onCaughtUp = deps.onCaughtUp ?? (() => {});
    // The target does not wait for PUBLISH: one that fails while Redis is away would be an
    // unhandled rejection (it ended the process). It reached no one; the catch-up covers it.
    const publisher = deps.publisher;
    const onUnpublished = deps.onUnpublished ?? (() => {});
    const publishClient = {
      publish: (channel: string, message: string) =>
        publisher.publish(channel, message).catch(() => {
          onUnpublished();
          return 0;
        }),
    };
    this.#target = createRedisEventTarget<JobEvent>({
      // The target calls `publish` only.
      publishClient: publishClient as unknown as Redis,
      subscribeClient: deps.subscriber,
      serializer: { stringify: (message) => JSON.stringify(message), parse: (text) => reviveEvent(JSON.parse(text)) },
    });
    // Both connections were up when the bus was made: a `ready` is a reconnect.
    for (const client of [deps.publisher, deps.subscriber]) client.on('ready', () => void this.#catchUp());
  }

  async #catchUp(): Promise<void> {
    const latest = this.#latest;
    if (!latest) return;
    // Answered after ioredis's resubscribes, which it sends first on reconnect: from here on no
    // event is missed, so the store read below is the state to catch up to.
    await this.#subscriber.ping().catch(() => undefined);
    let streams = 0;
    await Promise.all(
      [...this.#streams].map(async ([jobId, pushes]) => {
        const event = await latest(jobId).catch(() => null);
        if (!event) return;
        for (const push of pushes) push(event);
        streams += pushes.size;
      }),
    );
    this.#onCaughtUp(streams);
  }

  #channel(jobId: string): string {
    return `${this.#prefix}job:${jobId}`;
  }

  publish(event: JobStatusEvent): void {
    this.#target.dispatchEvent(new CustomEvent(this.#channel(event.job.id), { detail: event }));
  }

  listenerCount(): number {
    return this.#listeners;
  }

  subscribe(jobId: string): JobEventStream {
    const channel = this.#channel(jobId);
    const { stream, push } = eventStream(() => {
      this.#target.removeEventListener(channel, listener);
      this.#listeners -= 1;
      const pushes = this.#streams.get(jobId);
      pushes?.delete(push);
      if (pushes?.size === 0) this.#streams.delete(jobId);
    });
    const listener = (event: JobEvent): void => push(event.detail);
    this.#target.addEventListener(channel, listener);
    this.#listeners += 1;
    const pushes = this.#streams.get(jobId) ?? new Set();
    pushes.add(push);
    this.#streams.set(jobId, pushes);
    // Bounded: while Redis is away the PING waits for it (the subscriber queues its commands), and
    // the caller goes on to read the store; the catch-up brings what comes after.
    stream.ready = Promise.race([
      this.#subscriber.ping().then(
        () => undefined,
        () => undefined, // a broken connection shows in ioredis's own reconnect and error logs
      ),
      new Promise<void>((resolve) => setTimeout(resolve, READY_WAIT_MS).unref()),
    ]);
    return stream;
  }
}
