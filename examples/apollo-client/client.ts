import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { OperationTypeNode } from 'graphql';
import { type Client as SocketClient, createClient, type FormattedExecutionResult, type Sink, type SubscribePayload } from 'graphql-ws';
import { typePolicies } from './cache.ts';

export interface Jobql {
  client: ApolloClient;
  /** Stops the client and closes its WebSocket. */
  dispose(): Promise<void>;
}

/** The `sequence` of a subscription event's root field (jobStatus's), if it has one. */
function sequenceOf(data: unknown): number | null {
  const root: unknown = typeof data === 'object' && data !== null ? Object.values(data)[0] : undefined;
  const sequence: unknown = typeof root === 'object' && root !== null ? (root as { sequence?: unknown }).sequence : undefined;
  return typeof sequence === 'number' ? sequence : null;
}

/**
 * The graphql-ws client, with every subscription that has an `afterSequence` variable (jobStatus)
 * resumed where it left off after a dropped socket: the variable is moved on to the `sequence` of
 * each event that arrives, and graphql-ws sends the payload again when its retry resubscribes, so
 * the server sends just the transitions after the last one seen (those missed meanwhile come from
 * the job's recorded history). GraphQLWsLink only calls `subscribe`.
 */
function resuming(socket: SocketClient): SocketClient {
  return {
    ...socket,
    subscribe<Data, Extensions>(payload: SubscribePayload, sink: Sink<FormattedExecutionResult<Data, Extensions>>) {
      if (!payload.variables || !('afterSequence' in payload.variables)) return socket.subscribe(payload, sink);
      // Our own copy: graphql-ws reads its `variables` again at every resubscription.
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
    },
  };
}

/**
 * Apollo Client for the jobql server at `url` (http://host:port/graphql): queries and mutations
 * over HTTP, subscriptions over graphql-ws on the same path. A token (API key or JWT; JOBQL_TOKEN
 * by default) goes in the `Authorization` header and in graphql-ws's `connectionParams`.
 * Documents go by hash first (see below), so the same client works with trusted documents on.
 */
export function createJobqlClient(url: string, token: string | undefined = process.env['JOBQL_TOKEN']): Jobql {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const socket = createClient({
    url: url.replace(/^http/, 'ws'),
    connectionParams: headers,
    // A dropped socket is opened again and its subscriptions sent again, resumed (see `resuming`).
    retryAttempts: 3,
    // 4403: the token was refused (or has expired); the same one again would not help.
    shouldRetry: (error) => (error as { code?: unknown } | null)?.code !== 4403,
  });
  // Each operation names its document by SHA-256 (automatic persisted queries): a server that
  // runs trusted documents only (JOBQL_TRUSTED_DOCUMENTS) runs it by that hash; any other answers
  // PERSISTED_QUERY_NOT_FOUND to a hash alone, and the link sends the text. (In a browser, hash
  // with crypto.subtle.digest instead of node:crypto.)
  const persisted = new PersistedQueryLink({ sha256: (query) => createHash('sha256').update(query).digest('hex') });
  const link = persisted.concat(
    ApolloLink.split(
      (operation) => operation.operationType === OperationTypeNode.SUBSCRIPTION,
      new GraphQLWsLink(resuming(socket)),
      new HttpLink({ uri: url, headers }),
    ),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache({ typePolicies }) });
  return {
    client,
    async dispose() {
      client.stop();
      await socket.dispose();
    },
  };
}
