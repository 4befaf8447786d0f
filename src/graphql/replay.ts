import { type ExecutionArgs, type ExecutionResult, type GraphQLFieldConfigMap, GraphQLObjectType, GraphQLSchema } from 'graphql';

/**
 * The "replay" copy of a schema (see shared-execution.ts): its subscription fields take their
 * events from a selection's feed, or throw a subscriber's source error, instead of calling the
 * resolver, so that yoga's envelope runs once per selection with every plugin's hooks.
 */

export type Resolved = ExecutionResult | AsyncIterable<ExecutionResult>;
/** The envelope's subscribe (yoga's `getEnveloped().subscribe`). */
export type EnvelopedSubscribe = (args: ExecutionArgs) => Resolved | Promise<Resolved>;

/** The events of a selection, in the order they were fed: the replay field's source. */
export class Feed implements AsyncIterableIterator<unknown> {
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

/** The replay schemas of one server's schemas (one, in practice), made once each. */
export class ReplaySchemas {
  readonly #known = new WeakMap<GraphQLSchema, GraphQLSchema>();

  /** `schema` with each subscription field's source replaced by `replaySource`; the rest is shared. */
  of(schema: GraphQLSchema): GraphQLSchema {
    const known = this.#known.get(schema);
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
    this.#known.set(schema, replay);
    return replay;
  }

  /** The source's error, wrapped and masked as the envelope wraps and masks a source stream's error. */
  async replayedError(args: ExecutionArgs, subscribe: EnvelopedSubscribe, error: unknown): Promise<unknown> {
    const stream = await subscribe({ ...args, schema: this.of(args.schema), rootValue: new Failure(error) });
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

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
