import type { Server } from 'node:http';
import { type ExecutionArgs, type ExecutionResult, GraphQLError } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Authenticator } from '../auth/authenticator.ts';
import type { Config } from '../config.ts';
import { RequestError, RequestErrorCode } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Principal } from '../core/principal.ts';
import type { OriginPolicy } from '../http/origin-policy.ts';
import type { GraphQLContext, ServerContext } from './context.ts';
import { graphQLError, toGraphQLError } from './errors.ts';
import { payloadSender, type SendPayload, type SharedExecution } from './shared-execution.ts';
import type { TrustedDocuments } from './trusted-documents.ts';

/** Close codes of our own (4000–4999 are the application's); graphql-ws's are in its CloseCode. */
export const APP_CLOSE_CODES = {
  /** The principal already has JOBQL_MAX_SOCKETS_PER_PRINCIPAL sockets open. */
  TOO_MANY_SOCKETS: 4029,
  /**
   * The client stopped reading: more than JOBQL_WS_MAX_BUFFERED_BYTES waited to be sent. Sent, but
   * the connection is cut at once, so the client usually sees 1006: the frame sits behind the data.
   */
  SLOW_CONSUMER: 4031,
} as const;
const SLOW_CONSUMER_CHECK_MS = 1000;
/** setTimeout's longest delay; a token valid longer than ~24 days is re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type OperationResult =
  | ExecutionResult
  | AsyncIterable<ExecutionResult>
  | Promise<ExecutionResult | AsyncIterable<ExecutionResult>>;

/** Yoga's enveloped execute and subscribe, who asks, and where to, carried to graphql-ws through `rootValue`. */
interface Envelope {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
  principal: Principal;
  send: SendPayload;
}

type SocketState = {
  principal?: Principal;
};

/**
 * graphql-ws on the GraphQL path of `server`, through yoga's envelop so that every plugin (error
 * masking and codes, the document limits) applies as over HTTP. Authentication happens once, in
 * `connection_init` (`{ authorization: "Bearer <token>" }`): a bad token closes with 4403, and a
 * socket is closed with 4403 when its token expires. Nothing here throws from `onSubscribe`:
 * graphql-ws would close the whole socket (4500) and end its other subscriptions.
 */
export function serveWebSocket(deps: {
  server: Server;
  path: string;
  yoga: YogaServerInstance<ServerContext, GraphQLContext>;
  authenticator: Authenticator;
  transport: Config['transport'];
  /** This server's shared execution of subscription events (its counts are this server's own). */
  sharing: SharedExecution;
  /** When set, only these documents run, as over HTTP. */
  trusted: TrustedDocuments | null;
  /** Which web origins may open a socket: refused before the upgrade. */
  origins: OriginPolicy;
  log: Logger;
}): WebSocketServer {
  const { yoga, authenticator, transport, sharing, trusted, log } = deps;
  const wss = new WebSocketServer({
    server: deps.server,
    path: deps.path,
    maxPayload: transport.maxRequestBytes,
    perMessageDeflate: false,
    // A page of a foreign origin is refused before the upgrade (browsers always send Origin).
    verifyClient: ({ origin, req }, done) => {
      const refusal = deps.origins.refusal(origin || undefined, req.headers.host);
      if (!refusal) return done(true);
      log.warn({ origin, host: req.headers.host, reason: refusal }, 'WebSocket upgrade from a refused origin');
      done(false, 403, 'Forbidden origin');
    },
  });
  const socketsPerPrincipal = new Map<string, number>();

  useServer<Record<string, unknown> | undefined, SocketState>(
    {
      execute: (args) => (args.rootValue as Envelope).execute(args),
      // Each event is executed and serialized once per selection and principal, not once per
      // subscriber (shared-execution.ts).
      subscribe: (args) => sharing.subscribe(args, args.rootValue as Envelope),
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const header = params['authorization'] ?? params['Authorization'];
        let principal: Principal;
        try {
          principal = await authenticator.authenticate(typeof header === 'string' ? header : null);
        } catch {
          return false; // 4403 Forbidden
        }
        const socket = ctx.extra.socket;
        const open = socketsPerPrincipal.get(principal.id) ?? 0;
        if (open >= transport.maxSocketsPerPrincipal) {
          socket.close(APP_CLOSE_CODES.TOO_MANY_SOCKETS, 'Too many sockets for this principal');
          return false;
        }
        socketsPerPrincipal.set(principal.id, open + 1);
        ctx.extra.principal = principal;
        let expiry: NodeJS.Timeout | undefined;
        const armExpiry = (): void => {
          if (!principal.expiresAt) return;
          const left = principal.expiresAt.getTime() - Date.now();
          expiry = setTimeout(
            () => (left > MAX_TIMER_MS ? armExpiry() : socket.close(CloseCode.Forbidden, 'Token expired')),
            Math.max(0, Math.min(left, MAX_TIMER_MS)),
          );
        };
        armExpiry();
        socket.once('close', () => {
          clearTimeout(expiry);
          const left = (socketsPerPrincipal.get(principal.id) ?? 1) - 1;
          if (left > 0) socketsPerPrincipal.set(principal.id, left);
          else socketsPerPrincipal.delete(principal.id);
        });
        return true;
      },
      onSubscribe: async (ctx, id, params) => {
        const principal = ctx.extra.principal;
        if (!principal) return [graphQLError(RequestErrorCode.UNAUTHENTICATED, 'Not authenticated')];
        if (principal.expiresAt && principal.expiresAt.getTime() <= Date.now()) {
          return [graphQLError(RequestErrorCode.UNAUTHENTICATED, 'The token has expired')];
        }
        // graphql-ws has already reserved this id in ctx.subscriptions, so it counts itself.
        if (Object.keys(ctx.subscriptions).length > transport.maxSubscriptionsPerSocket) {
          return [
            graphQLError(
              RequestErrorCode.LIMIT_EXCEEDED,
              `Too many operations on this socket (limit ${transport.maxSubscriptionsPerSocket}); complete some or open another socket`,
            ),
          ];
        }
        if (trusted) {
          try {
            params = { ...params, query: trusted.resolve(params) };
          } catch (error) {
            if (error instanceof RequestError) return [toGraphQLError(error)];
            throw error;
          }
        }
        try {
          const enveloped = yoga.getEnveloped({
            ...ctx,
            req: ctx.extra.request,
            socket: ctx.extra.socket,
            params,
            principal,
          });
          let document;
          try {
            document = enveloped.parse(params.query);
          } catch (error) {
            return [codedError(error, RequestErrorCode.GRAPHQL_PARSE_FAILED)];
          }
          const errors = enveloped.validate(enveloped.schema, document);
          if (errors.length > 0) {
            return errors.map((e: GraphQLError) => codedError(e, RequestErrorCode.GRAPHQL_VALIDATION_FAILED));
          }
          const args: ExecutionArgs = {
            schema: enveloped.schema,
            operationName: params.operationName ?? null,
            document,
            variableValues: params.variables ?? null,
            contextValue: await enveloped.contextFactory(),
            rootValue: {
              execute: enveloped.execute,
              subscribe: enveloped.subscribe,
              principal,
              send: payloadSender(ctx.extra.socket, id),
            } satisfies Envelope,
          };
          return args;
        } catch (error) {
          log.error({ err: error }, 'websocket subscribe failed');
          return [graphQLError(RequestErrorCode.INTERNAL_SERVER_ERROR, 'Unexpected error.')];
        }
      },
    },
    wss,
  );

  // A client that stops reading leaves its messages in our send buffer; past the cap it is dropped.
  const sweep = setInterval(() => {
    for (const socket of wss.clients) {
      if (socket.bufferedAmount > transport.wsMaxBufferedBytes) {
        log.warn({ buffered: socket.bufferedAmount }, 'websocket client is not reading; closing it');
        socket.close(APP_CLOSE_CODES.SLOW_CONSUMER, 'Not reading');
        socket.terminate();
      }
    }
  }, SLOW_CONSUMER_CHECK_MS);
  sweep.unref();
  wss.once('close', () => clearInterval(sweep));
  return wss;
}

/** The error with `code`, unless it already carries one (a LIMIT_EXCEEDED from the limits). */
function codedError(error: unknown, code: RequestErrorCode): GraphQLError {
  const message = error instanceof Error ? error.message : String(error);
  const existing = error instanceof GraphQLError ? error : null;
  return new GraphQLError(message, {
    ...(existing?.nodes ? { nodes: existing.nodes } : {}),
    extensions: { code, ...existing?.extensions },
  });
}
