import { type Client as SocketClient, createClient as createSocketClient, type SubscribePayload } from 'graphql-ws';
import { Client, type CombinedError, fetchExchange, makeOperation, mapExchange, subscriptionExchange } from 'urql';

/** jobql's GraphQL endpoint, on the server that serves the console: HTTP and graphql-ws. */
export const GRAPHQL_PATH = '/graphql';

/** graphql-ws closes with 4403 Forbidden when connection_init's token does not verify. */
export const SOCKET_REFUSED = 4403;

export function socketUrl(location: Location): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${GRAPHQL_PATH}`;
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === 'object' && value !== null && 'code' in value && 'reason' in value;
}

/** An answer that says the token no longer works: UNAUTHENTICATED, or the socket refused (4403). */
function isRefusal(error: CombinedError): boolean {
  if (error.graphQLErrors.some((e) => e.extensions['code'] === 'UNAUTHENTICATED')) return true;
  const network: unknown = error.networkError;
  return isCloseEvent(network) && network.code === SOCKET_REFUSED;
}

/**
 * Every document of the console is generated with its SHA-256 (`__meta__.hash`, codegen.ts).
 * Send it as `extensions.persistedQuery.sha256Hash` with the text (the automatic persisted
 * queries registration form: urql sends the text when `miss` is set), so one build works on an
 * open server (which runs the text) and on a trusted-documents one (which runs the hash's
 * document from console/src/gql/persisted-documents.json).
 */
const documentHashes = mapExchange({
  onOperation(operation) {
    const hash = (operation.query as { __meta__?: { hash?: string } }).__meta__?.hash;
    if (!hash || operation.kind === 'teardown') return operation;
    return makeOperation(
      operation.kind,
      { ...operation, extensions: { ...operation.extensions, persistedQuery: { version: 1, sha256Hash: hash, miss: true } } },
      operation.context,
    );
  },
});

/** The sequence of a resumable subscription's event: its root field's `sequence` (jobStatus's). */
function sequenceOf(data: unknown): number | null {
  if (typeof data !== 'object' || data === null) return null;
  const root: unknown = Object.values(data)[0];
  const sequence = typeof root === 'object' && root !== null ? (root as { sequence?: unknown }).sequence : undefined;
  return typeof sequence === 'number' ? sequence : null;
}

type SocketSink = Parameters<SocketClient['subscribe']>[1];

/**
 * Subscribes with `payload` and, when it has an `afterSequence` variable (jobStatus), moves that
 * variable on to the sequence of every event that arrives. graphql-ws sends this same payload
 * object again when it resubscribes after a dropped socket (its retry), so the new subscription
 * asks only for what came after the last event seen: the server replays the transitions missed
 * meanwhile from the job's history, and none twice.
 */
export function subscribeResuming(socket: SocketClient, payload: SubscribePayload, sink: SocketSink): () => void {
  const variables = payload.variables;
  if (!variables || !('afterSequence' in variables)) return socket.subscribe(payload, sink);
  const own: { -readonly [K in keyof SubscribePayload]: SubscribePayload[K] } = { ...payload };
  return socket.subscribe(own, {
    next(result) {
      const sequence = sequenceOf(result.data);
      const after = Number(own.variables?.['afterSequence'] ?? 0);
      if (sequence !== null && sequence > after) own.variables = { ...own.variables, afterSequence: sequence };
      sink.next(result);
    },
    error: (error) => sink.error(error),
    complete: () => sink.complete(),
  });
}

/**
 * The urql client of one token (or none): queries and mutations over HTTP with
 * `Authorization: Bearer`, subscriptions over one graphql-ws socket that sends the same header
 * value in connection_init. A new token makes a new client (App remounts on it).
 */
export function createConsoleClient(token: string | null, onRefused: () => void = () => {}): { client: Client; dispose(): void } {
  const authorization = token ? `Bearer ${token}` : null;
  // A token that stops working mid-session (it expired, or was revoked): tell the App once, so it
  // asks the server again and shows the sign-in with the reason. The probe itself is what decides.
  let told = false;
  const refusals = mapExchange({
    onResult(result) {
      if (told || !token || result.operation.kind === 'teardown') return;
      const name = (result.operation.query.definitions[0] as { name?: { value: string } } | undefined)?.name?.value;
      if (name !== 'AuthProbe' && result.error && isRefusal(result.error)) {
        told = true;
        onRefused();
      }
    },
  });
  const socket = createSocketClient({
    url: socketUrl(window.location),
    connectionParams: authorization ? { authorization } : {},
    // A dropped socket is opened again (up to 5 times in a row), and each subscription sent again:
    // jobStatus with the last sequence seen (subscribeResuming), so the timeline has no gap.
    retryAttempts: 5,
    // A refused token stays refused: report it at once instead of retrying.
    shouldRetry: (error) => !(isCloseEvent(error) && error.code === SOCKET_REFUSED),
  });
  const client = new Client({
    url: GRAPHQL_PATH,
    // No document cache: a job changes under the same query; every read goes to the server.
    requestPolicy: 'network-only',
    preferGetMethod: false,
    fetchOptions: () => (authorization ? { headers: { authorization } } : {}),
    exchanges: [
      refusals,
      documentHashes,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              // urql's sink takes graphql-ws's results; the types differ only in absent vs undefined fields.
              return { unsubscribe: subscribeResuming(socket, input, sink as SocketSink) };
            },
          };
        },
      }),
      fetchExchange,
    ],
  });
  return { client, dispose: () => void socket.dispose() };
}
