import { cacheExchange, Client, type Exchange, fetchExchange, subscriptionExchange } from '@urql/core';
import { type Client as SocketClient, createClient, type FormattedExecutionResult, type Sink, type SubscribePayload } from 'graphql-ws';

export interface Jobql {
  client: Client;
  /** Closes the client's WebSocket. */
  dispose(): Promise<void>;
}

/** The `sequence` of a subscription event's root field (jobStatus's), if it has one. */
function sequenceOf(data: unknown): number | null {
  const root: unknown = typeof data === 'object' && data !== null ? Object.values(data)[0] : undefined;
  const sequence: unknown = typeof root === 'object' && root !== null ? (root as { sequence?: unknown }).sequence : undefined;
  return typeof sequence === 'number' ? sequence : null;
}

/**
 * `socket.subscribe`, resumed where it left off after a dropped socket. A subscription with an
 * `afterSequence` variable (jobStatus) has it moved on to the `sequence` of every event that
 * arrives; graphql-ws sends this same payload object again when its retry resubscribes, so the
 * server sends just the transitions after the last one seen (those missed meanwhile come from the
 * job's recorded history): none lost, none twice.
 */
export function subscribeResuming<Data, Extensions>(
  socket: SocketClient,
  payload: SubscribePayload,
  sink: Sink<FormattedExecutionResult<Data, Extensions>>,
): () => void {
  if (!payload.variables || !('afterSequence' in payload.variables)) return socket.subscribe(payload, sink);
  const own: { -readonly [K in keyof SubscribePayload]: SubscribePayload[K] } = { ...payload };
  return socket.subscribe<Data, Extensions>(own, {
    next(result) {
      const sequence = sequenceOf(result.data);
      if (sequence !== null && sequence > Number(own.variables?.['afterSequence'] ?? 0)) {
        own.variables = { ...own.variables, afterSequence: sequence };
      }
      sink.next(result);
    },
    error: (error) => sink.error(error),
    complete: () => sink.complete(),
  });
}

/**
 * urql for the jobql server at `url` (http://host:port/graphql): queries and mutations over HTTP
 * (fetchExchange), subscriptions over graphql-ws on the same path (subscriptionExchange). A token
 * (API key or JWT; JOBQL_TOKEN by default) goes in the `Authorization` header and in graphql-ws's
 * `connectionParams`. `cacheExchange` is urql's document cache; pass `jobqlGraphcache`
 * (graphcache.ts) for the normalized one.
 */
export function createJobqlClient(
  url: string,
  token: string | undefined = process.env['JOBQL_TOKEN'],
  cache: Exchange = cacheExchange,
): Jobql {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const socket = createClient({
    url: url.replace(/^http/, 'ws'),
    connectionParams: headers,
    // A dropped socket is opened again and its subscriptions sent again (subscribeResuming).
    retryAttempts: 3,
    // 4403: the token was refused (or has expired); the same one again would not help.
    shouldRetry: (error) => (error as { code?: unknown } | null)?.code !== 4403,
  });
  const client = new Client({
    url,
    preferGetMethod: false,
    fetchOptions: { headers },
    exchanges: [
      cache,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const payload: SubscribePayload = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              // The sink takes graphql-ws's results; the types differ only in absent vs undefined
              // fields (under exactOptionalPropertyTypes).
              return { unsubscribe: subscribeResuming(socket, payload, sink as Parameters<typeof socket.subscribe>[1]) };
            },
          };
        },
      }),
    ],
  });
  return {
    client,
    async dispose() {
      await socket.dispose();
    },
  };
}
