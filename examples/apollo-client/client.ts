import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { OperationTypeNode } from 'graphql';
import { createClient } from 'graphql-ws';
import { typePolicies } from './cache.ts';

export interface Jobql {
  client: ApolloClient;
  /** Stops the client and closes its WebSocket. */
  dispose(): Promise<void>;
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
      new GraphQLWsLink(socket),
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
