import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import type { TypedEventTarget } from '@graphql-yoga/typed-event-target';
import type { Redis } from 'ioredis';
import type { JobStatusEvent } from '../core/job.ts';
import type { EventBus, JobEventStream } from './event-bus.ts';
import { eventStream } from './event-stream.ts';

type JobEvent = CustomEvent<JobStatusEvent>;

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
  #listeners = 0;

  constructor(deps: { publisher: Redis; subscriber: Redis; channelPrefix: string }) {
    this.#subscriber = deps.subscriber;
    this.#prefix = deps.channelPrefix;
    this.#target = createRedisEventTarget<JobEvent>({
      publishClient: deps.publisher,
      subscribeClient: deps.subscriber,
      serializer: { stringify: (message) => JSON.stringify(message), parse: (text) => reviveEvent(JSON.parse(text)) },
    });
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
    });
    const listener = (event: JobEvent): void => push(event.detail);
    this.#target.addEventListener(channel, listener);
    this.#listeners += 1;
    stream.ready = this.#subscriber.ping().then(
      () => undefined,
      () => undefined, // a broken connection shows in ioredis's own reconnect and error logs
    );
    return stream;
  }
}
