import { cacheExchange, Client, type Exchange, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient, type SubscribePayload } from 'graphql-ws';

export interface Jobql {
  client: Client;
  /** Closes the client's WebSocket. */
  dispose(): Promise<void>;
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
              return { unsubscribe: socket.subscribe(payload, sink as Parameters<typeof socket.subscribe>[1]) };
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
