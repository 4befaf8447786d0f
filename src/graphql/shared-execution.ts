import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLFieldConfigMap,
  GraphQLObjectType,
  GraphQLSchema,
} from 'graphql';
import { MessageType } from 'graphql-ws';
import type { WebSocket } from 'ws';
import type { Principal } from '../auth/principal.ts';

/**
 * Shared execution of subscription events (goal G6 of the subscription performance notes).
 *
 * graphql-ws executes an operation's selection once per subscriber per event and serializes
 * every message on its own: 2,000 subscribers of one job cost 2,000 executions and 2,000
 * JSON.stringify calls per transition. Here each subscriber keeps its own source stream (for
 * jobStatus: its NOT_FOUND check and its first event, the job's state read from the store), but
 * the events are executed by one "selection" per share key (document, operation, variables,
 * principal), once per event object, and the JSON of the result is made once too: each
 * subscriber's `next` frame is its own envelope around the same payload text. The bus hands one
 * event object to all its listeners (in process, and once per Redis message), so a selection
 * keeps its results in a WeakMap keyed by the event, freed with it. Results are never shared
 * between principals: they may depend on who asks.
 *
 * Execution still goes through yoga's envelope, so every plugin's subscribe hooks (error codes,
 * masking) apply as before: a selection is the envelope's own `subscribe`, run once, on a
 * "replay" copy of the schema whose subscription fields take their events from the selection
 * instead of calling the resolver. A failing source stream is replayed the same way (a replay
 * that throws the error), so the envelope wraps and masks it with the code it always used.
 * Errors before there is a stream (variables that do not coerce) are left to the envelope. The
 * frames are byte for byte what graphql-ws would send (test/e2e/fan-out.test.ts compares them).
 */

type Resolved = ExecutionResult | AsyncIterable<ExecutionResult>;
/** The envelope's subscribe (yoga's `getEnveloped().subscribe`). */
export type EnvelopedSubscribe = (args: ExecutionArgs) => Resolved | Promise<Resolved>;
/** Sends one `next` message whose payload is this JSON text; resolves once the socket took it. */
export type SendPayload = (payloadJson: string) => Promise<void>;

/** Counts for tests, benchmarks and leak checks. */
export const sharedExecutionStats = {
  /** Events executed (one per event object and share key). */
  executions: 0,
  /** Results handed to a further subscriber instead of executing again. */
  reused: 0,
  /** Subscriptions open now (each with its own source stream). */
  subscriptions: 0,
  /** Selections (one envelope subscription per share key) open now. */
  selections: 0,
};

/** A result and its JSON text as a `next` payload, made once. */
interface Shared {
  result: ExecutionResult;
  json: string;
}

/** Open selections by share key; a selection leaves this map with its last subscriber. */
const selections = new Map<string, Selection>();

/**
 * The subscription of `args` for `principal`: its own source stream, each event's result shared
 * with every other subscriber of the same key and sent with `send`. What graphql-ws gets is an
 * iterator that yields nothing and ends when the subscription ends (graphql-ws then sends
 * `complete`), or throws the error it ends with (graphql-ws sends `error`); or, when there is no
 * stream, the envelope's own answer.
 */
export async function subscribeShared(
  args: ExecutionArgs,
  deps: { subscribe: EnvelopedSubscribe; principal: Principal; send: SendPayload },
): Promise<Resolved> {
  const { subscribe } = deps;
  // Joins its selection before its source listens, so that an event this subscriber will see
  // finds it counted (results are kept for reuse only while a selection has several subscribers).
  const key = shareKey(args, deps.principal);
  let selection = selections.get(key);
  if (!selection) {
    selection = new Selection(key, args, subscribe);
    selections.set(key, selection);
  }
  selection.subscribers += 1;
  const mine = selection;
  let source: AsyncIterable<unknown> | ExecutionResult;
  try {
    source = await createSourceEventStream(args);
  } catch (error) {
    mine.leave();
    throw error;
  }
  if (!isAsyncIterable(source)) {
    mine.leave();
    // No stream (variables that do not coerce, a subscribe resolver that threw): the envelope
    // answers, exactly as before. Its resolver runs again only if it threw the first time.
    return subscribe(args);
  }
  return new SharedSubscription(source[Symbol.asyncIterator](), mine, args, deps);
}

const DONE: IteratorResult<ExecutionResult> = Object.freeze({ value: undefined, done: true });

/**
 * One subscriber: pulls its source, gets each event's result from its selection and sends it.
 * `next()` runs for the whole subscription and yields nothing: it resolves when the source ends
 * or the subscriber leaves, and throws the error the source failed with. A class rather than
 * closures: with one subscriber per job it is the per-subscription memory this module adds.
 */
class SharedSubscription implements AsyncIterableIterator<ExecutionResult> {
  readonly #events: AsyncIterator<unknown>;
  readonly #selection: Selection;
  readonly #args: ExecutionArgs;
  readonly #deps: { subscribe: EnvelopedSubscribe; send: SendPayload };
  #open = true;

  constructor(
    events: AsyncIterator<unknown>,
    selection: Selection,
    args: ExecutionArgs,
    deps: { subscribe: EnvelopedSubscribe; send: SendPayload },
  ) {
    this.#events = events;
    this.#selection = selection;
    this.#args = args;
    this.#deps = deps;
    sharedExecutionStats.subscriptions += 1;
  }

  async next(): Promise<IteratorResult<ExecutionResult>> {
    try {
      // A subscriber's first event is its own (jobStatus reads it from the store): not kept for reuse.
      let first = true;
      while (this.#open) {
        let step: IteratorResult<unknown>;
        try {
          step = await this.#events.next();
        } catch (error) {
          await this.#close();
          throw await replayedError(this.#args, this.#deps.subscribe, error);
        }
        if (step.done || !this.#open) break;
        const payload = await this.#payloadOf(step.value, !first);
        first = false;
        if (payload === null) break; // left while the event was executing: nothing more is sent
        await this.#deps.send(payload);
      }
      await this.#close();
      return DONE;
    } catch (error) {
      await this.#close();
      throw error;
    }
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    await this.#close();
    return DONE;
  }

  async throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    await this.#close();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The event's payload, once executed (or shared), or null once this subscriber has left. */
  async #payloadOf(event: unknown, keep: boolean): Promise<string | null> {
    const shared = await this.#selection.resultOf(event, keep);
    return this.#open ? shared.json : null;
  }

  async #close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    sharedExecutionStats.subscriptions -= 1;
    this.#selection.leave();
    await this.#events.return?.();
  }
}

/**
 * A `SendPayload` for subscription `id` on `socket`: the frame graphql-ws would send
 * (`{"id":…,"type":"next","payload":…}`), sent as graphql-ws's `ws` adapter sends, awaiting the
 * socket's callback (so a subscription has at most one frame waiting in a slow socket's buffer);
 * nothing once the socket is no longer open. A failed write means the connection is gone: the
 * close that follows ends the subscription, so the failure is not thrown (graphql-ws would only
 * try to send an error frame on the dead socket, and log its failure as an internal error).
 */
export function payloadSender(socket: WebSocket, id: string): SendPayload {
  const head = `{"id":${JSON.stringify(id)},"type":${JSON.stringify(MessageType.Next)},"payload":`;
  return (payloadJson) =>
    new Promise((resolve) => {
      if (socket.readyState !== socket.OPEN) return resolve();
      socket.send(`${head}${payloadJson}}`, () => resolve());
    });
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
class Selection {
  subscribers = 0;
  readonly #key: string;
  readonly #args: ExecutionArgs;
  readonly #subscribe: EnvelopedSubscribe;
  /** Results kept for reuse, by event object; made when a second subscriber comes. */
  #results: WeakMap<object, Promise<Shared>> | null = null;
  /** Results not produced yet, in the order their events were fed. */
  readonly #waiting: PromiseWithResolvers<Shared>[] = [];
  #feed = new Feed();
  #stream: AsyncIterator<ExecutionResult> | ExecutionResult | null = null;
  #pumping = false;
  #closed = false;

  constructor(key: string, args: ExecutionArgs, subscribe: EnvelopedSubscribe) {
    this.#key = key;
    // The first subscriber's arguments (its context: the same principal and services as the
    // others'), without its root value, which carries its socket.
    this.#args = { ...args, rootValue: undefined };
    this.#subscribe = subscribe;
    sharedExecutionStats.selections += 1;
  }

  /** The result of `event`; kept for the other subscribers (`keep`) while there are any. */
  resultOf(event: unknown, keep: boolean): Promise<Shared> {
    // A lone subscriber has no one to share with; keeping its results would only cost (a WeakMap
    // entry per event is a GC ephemeron: ~5 µs an event, measured).
    const cacheable = keep && this.subscribers > 1 && typeof event === 'object' && event !== null;
    if (cacheable) {
      const known = this.#results?.get(event);
      if (known) {
        sharedExecutionStats.reused += 1;
        return known;
      }
    }
    sharedExecutionStats.executions += 1;
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
    if (selections.get(this.#key) === this) selections.delete(this.#key);
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
    const opened = await this.#subscribe({ ...this.#args, schema: replaySchema(this.#args.schema), rootValue: feed });
    return isAsyncIterable(opened) ? opened[Symbol.asyncIterator]() : opened;
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    sharedExecutionStats.selections -= 1;
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

/** The events of a selection, in the order they were fed: the replay field's source. */
class Feed implements AsyncIterableIterator<unknown> {
  readonly #queue: unknown[] = [];
  #wake: ((step: IteratorResult<unknown>) => void) | null = null;
  #ended = false;

  push(event: unknown): void {
    if (this.#wake) {
      const wake = this.#wake;
      this.#wake = null;
      wake({ value: event, done: false });
    } else {
      this.#queue.push(event);
    }
  }

  end(): void {
    this.#ended = true;
    this.#queue.length = 0;
    this.#wake?.({ value: undefined, done: true });
    this.#wake = null;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.#queue.length > 0) return Promise.resolve({ value: this.#queue.shift(), done: false });
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.#wake = resolve));
  }

  return(): Promise<IteratorResult<unknown>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** The root value of an error replay: the error a subscriber's own source failed with. */
class Failure {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/** The source's error, wrapped and masked as the envelope wraps and masks a source stream's error. */
async function replayedError(args: ExecutionArgs, subscribe: EnvelopedSubscribe, error: unknown): Promise<unknown> {
  const stream = await subscribe({ ...args, schema: replaySchema(args.schema), rootValue: new Failure(error) });
  if (!isAsyncIterable(stream)) return error;
  const results = stream[Symbol.asyncIterator]();
  try {
    await results.next();
  } catch (processed) {
    return processed;
  } finally {
    await results.return?.();
  }
  return error;
}

/** The replay schema's source for every subscription field: a selection's feed, or a failure. */
function replaySource(root: unknown): AsyncIterableIterator<unknown> {
  if (root instanceof Feed) return root;
  if (!(root instanceof Failure)) throw new Error('the replay schema runs only selections and failures');
  let thrown = false;
  const iterator: AsyncIterableIterator<unknown> = {
    next: () => {
      if (thrown) return Promise.resolve({ value: undefined, done: true });
      thrown = true;
      return Promise.reject(root.error);
    },
    return: () => {
      thrown = true;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

const replaySchemas = new WeakMap<GraphQLSchema, GraphQLSchema>();

/** `schema` with each subscription field's source replaced by `replaySource`; the rest is shared. */
function replaySchema(schema: GraphQLSchema): GraphQLSchema {
  const known = replaySchemas.get(schema);
  if (known) return known;
  const subscription = schema.getSubscriptionType();
  if (!subscription) return schema;
  const config = subscription.toConfig();
  const fields: GraphQLFieldConfigMap<unknown, unknown> = {};
  for (const [name, field] of Object.entries(config.fields)) fields[name] = { ...field, subscribe: replaySource };
  const replayType = new GraphQLObjectType({ ...config, fields });
  const schemaConfig = schema.toConfig();
  const replay = new GraphQLSchema({
    ...schemaConfig,
    subscription: replayType,
    types: schemaConfig.types.map((type) => (type === subscription ? replayType : type)),
  });
  replaySchemas.set(schema, replay);
  return replay;
}

const documentIds = new WeakMap<DocumentNode, number>();
let lastDocumentId = 0;

/**
 * What a result depends on besides the event: the document (by identity: yoga's parse cache
 * hands the same object for the same text), the operation, the variables and the principal.
 */
function shareKey(args: ExecutionArgs, principal: Principal): string {
  let documentId = documentIds.get(args.document);
  if (documentId === undefined) {
    documentId = ++lastDocumentId;
    documentIds.set(args.document, documentId);
  }
  return JSON.stringify([documentId, args.operationName ?? null, stableJson(args.variableValues ?? {}), principal.id, principal.admin]);
}

/** JSON with object keys in order, so that equal variables give equal keys. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
