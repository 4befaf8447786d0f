import { createSourceEventStream, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { MessageType } from 'graphql-ws';
import type { WebSocket } from 'ws';
import type { Principal } from '../core/principal.ts';
import { type EnvelopedSubscribe, isAsyncIterable, ReplaySchemas, type Resolved } from './replay.ts';
import { Selection, type SelectionHost, type SharedExecutionStats } from './selection.ts';

export type { EnvelopedSubscribe } from './replay.ts';
export type { SharedExecutionStats } from './selection.ts';

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
 * instead of calling the resolver (replay.ts). A failing source stream is replayed the same way
 * (a replay that throws the error), so the envelope wraps and masks it with the code it always
 * used. Errors before there is a stream (variables that do not coerce) are left to the envelope.
 * The frames are byte for byte what graphql-ws would send (test/e2e/fan-out.test.ts compares them).
 *
 * One `SharedExecution` per server: its selections, counts and caches are its own, so two
 * servers in one process share nothing.
 */

/** Sends one `next` message whose payload is this JSON text; resolves once the socket took it. */
export type SendPayload = (payloadJson: string) => Promise<void>;

interface SubscriberDeps {
  subscribe: EnvelopedSubscribe;
  principal: Principal;
  send: SendPayload;
}

export class SharedExecution implements SelectionHost {
  readonly stats: SharedExecutionStats = { executions: 0, reused: 0, subscriptions: 0, selections: 0 };
  readonly replay = new ReplaySchemas();
  /** Open selections by share key; a selection leaves this map with its last subscriber. */
  readonly #selections = new Map<string, Selection>();
  readonly #documentIds = new WeakMap<DocumentNode, number>();
  #lastDocumentId = 0;

  /**
   * The subscription of `args` for `principal`: its own source stream, each event's result shared
   * with every other subscriber of the same key and sent with `send`. What graphql-ws gets is an
   * iterator that yields nothing and ends when the subscription ends (graphql-ws then sends
   * `complete`), or throws the error it ends with (graphql-ws sends `error`); or, when there is no
   * stream, the envelope's own answer.
   */
  async subscribe(args: ExecutionArgs, deps: SubscriberDeps): Promise<Resolved> {
    const { subscribe } = deps;
    // Joins its selection before its source listens, so that an event this subscriber will see
    // finds it counted (results are kept for reuse only while a selection has several subscribers).
    const key = this.#shareKey(args, deps.principal);
    let selection = this.#selections.get(key);
    if (!selection) {
      selection = new Selection(key, args, subscribe, this);
      this.#selections.set(key, selection);
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
    return new SharedSubscription(source[Symbol.asyncIterator](), mine, args, deps, this);
  }

  forget(key: string, selection: Selection): void {
    if (this.#selections.get(key) === selection) this.#selections.delete(key);
  }

  /**
   * What a result depends on besides the event: the document (by identity: yoga's parse cache
   * hands the same object for the same text), the operation, the variables and the principal.
   */
  #shareKey(args: ExecutionArgs, principal: Principal): string {
    let documentId = this.#documentIds.get(args.document);
    if (documentId === undefined) {
      documentId = ++this.#lastDocumentId;
      this.#documentIds.set(args.document, documentId);
    }
    return JSON.stringify([documentId, args.operationName ?? null, stableJson(args.variableValues ?? {}), principal.id, principal.admin]);
  }
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
  readonly #deps: SubscriberDeps;
  readonly #host: SharedExecution;
  #open = true;

  constructor(events: AsyncIterator<unknown>, selection: Selection, args: ExecutionArgs, deps: SubscriberDeps, host: SharedExecution) {
    this.#events = events;
    this.#selection = selection;
    this.#args = args;
    this.#deps = deps;
    this.#host = host;
    host.stats.subscriptions += 1;
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
          throw await this.#host.replay.replayedError(this.#args, this.#deps.subscribe, error);
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
    this.#host.stats.subscriptions -= 1;
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
