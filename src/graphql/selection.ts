import type { ExecutionArgs, ExecutionResult } from 'graphql';
import { type EnvelopedSubscribe, Feed, isAsyncIterable, type ReplaySchemas } from './replay.ts';

/** A result and its JSON text as a `next` payload, made once. */
export interface Shared {
  result: ExecutionResult;
  json: string;
}

/** Counts for tests, benchmarks and leak checks; one set per shared execution (per server). */
export interface SharedExecutionStats {
  /** Events executed (one per event object and share key). */
  executions: number;
  /** Results handed to a further subscriber instead of executing again. */
  reused: number;
  /** Subscriptions open now (each with its own source stream). */
  subscriptions: number;
  /** Selections (one envelope subscription per share key) open now. */
  selections: number;
}

/** What a selection needs of the shared execution it belongs to. */
export interface SelectionHost {
  readonly stats: SharedExecutionStats;
  readonly replay: ReplaySchemas;
  /** The selection's last subscriber left: it takes no new subscribers. */
  forget(key: string, selection: Selection): void;
}

/** The payload graphql-ws makes of a result (errors last, as their `toJSON`), as JSON text. */
function payloadJson(result: ExecutionResult): string {
  if (!result.errors) return JSON.stringify(result);
  const { errors, ...rest } = result;
  return JSON.stringify({ ...rest, errors: errors.map((error) => error.toJSON()) });
}

/**
 * One envelope subscription for all the subscribers of a share key. The events they pull from
 * their sources are fed to it in order, each event object once; it yields one result per event
 * (the schema has no @defer or @stream), which go back to the callers in the same order.
 */
export class Selection {
  subscribers = 0;
  readonly #key: string;
  readonly #args: ExecutionArgs;
  readonly #subscribe: EnvelopedSubscribe;
  readonly #host: SelectionHost;
  /** Results kept for reuse, by event object; made when a second subscriber comes. */
  #results: WeakMap<object, Promise<Shared>> | null = null;
  /** Results not produced yet, in the order their events were fed. */
  readonly #waiting: PromiseWithResolvers<Shared>[] = [];
  #feed = new Feed();
  #stream: AsyncIterator<ExecutionResult> | ExecutionResult | null = null;
  #pumping = false;
  #closed = false;

  constructor(key: string, args: ExecutionArgs, subscribe: EnvelopedSubscribe, host: SelectionHost) {
    this.#key = key;
    // The first subscriber's arguments (its context: the same principal and services as the
    // others'), without its root value, which carries its socket.
    this.#args = { ...args, rootValue: undefined };
    this.#subscribe = subscribe;
    this.#host = host;
    host.stats.selections += 1;
  }

  /** The result of `event`; kept for the other subscribers (`keep`) while there are any. */
  resultOf(event: unknown, keep: boolean): Promise<Shared> {
    // A lone subscriber has no one to share with; keeping its results would only cost (a WeakMap
    // entry per event is a GC ephemeron: ~5 µs an event, measured).
    const cacheable = keep && this.subscribers > 1 && typeof event === 'object' && event !== null;
    if (cacheable) {
      const known = this.#results?.get(event);
      if (known) {
        this.#host.stats.reused += 1;
        return known;
      }
    }
    this.#host.stats.executions += 1;
    const waiter = Promise.withResolvers<Shared>();
    this.#waiting.push(waiter);
    if (cacheable) (this.#results ??= new WeakMap()).set(event, waiter.promise);
    this.#feed.push(event);
    if (!this.#pumping) void this.#pump();
    return waiter.promise;
  }

  /** One subscriber fewer; the last one closes the selection once its pending results are out. */
  leave(): void {
    this.subscribers -= 1;
    if (this.subscribers > 0) return;
    this.#host.forget(this.#key, this);
    if (!this.#pumping) void this.#close();
  }

  /**
   * Takes results from the envelope's stream while events wait for them, one at a time. Written
   * with callbacks rather than a loop of awaits: this runs for every event (measured ~1.5 µs less).
   */
  #pump(): void {
    this.#pumping = true;
    const stream = this.#stream;
    if (stream === null) {
      this.#open(this.#feed).then(
        (opened) => {
          this.#stream = opened;
          this.#pump();
        },
        (error: unknown) => this.#fail(error),
      );
    } else if (!('next' in stream)) {
      // Errors alone (cannot happen: the subscribers' sources coerced the same variables).
      for (const waiter of this.#waiting.splice(0)) waiter.resolve({ result: stream, json: payloadJson(stream) });
      this.#idle();
    } else {
      stream.next().then(
        (step) => {
          if (step.done) return this.#fail(new Error('a subscription selection ended while events were waiting'));
          this.#waiting.shift()?.resolve({ result: step.value, json: payloadJson(step.value) });
          if (this.#waiting.length > 0) this.#pump();
          else this.#idle();
        },
        (error: unknown) => this.#fail(error),
      );
    }
  }

  #idle(): void {
    this.#pumping = false;
    if (this.subscribers <= 0) void this.#close();
  }

  /**
   * The envelope's stream failed (not a field error: those are in the result). Every waiting
   * subscriber gets the error; the next event starts a fresh envelope subscription.
   */
  #fail(error: unknown): void {
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
    const broken = this.#stream;
    this.#stream = null;
    this.#feed.end();
    this.#feed = new Feed();
    void returnStream(broken);
    this.#idle();
  }

  async #open(feed: Feed): Promise<AsyncIterator<ExecutionResult> | ExecutionResult> {
    const opened = await this.#subscribe({ ...this.#args, schema: this.#host.replay.of(this.#args.schema), rootValue: feed });
    return isAsyncIterable(opened) ? opened[Symbol.asyncIterator]() : opened;
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#host.stats.selections -= 1;
    this.#feed.end();
    await returnStream(this.#stream);
  }
}

/** Ends an envelope stream; it has nobody left to report a failure to. */
async function returnStream(stream: AsyncIterator<ExecutionResult> | ExecutionResult | null): Promise<void> {
  try {
    if (stream && 'next' in stream) await stream.return?.();
  } catch {
    // nothing waits for it
  }
}
