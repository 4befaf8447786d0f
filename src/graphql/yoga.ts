import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSchema, createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { GraphQLError } from 'graphql';
import type { Authenticator } from '../auth/authenticator.ts';
import type { Config } from '../config.ts';
import { RequestErrorCode, requestErrorCode } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { GRAPHIQL_CSP, type GraphiQLPageOptions, graphiqlPage } from '../web/graphiql.ts';
import type { GraphQLContext, GraphQLServices, ServerContext } from './context.ts';
import { documentLimits } from './document-limits.ts';
import { useErrorCodes } from './error-codes.ts';
import { maskError } from './errors.ts';
import { GRAPHIQL_TABS } from './graphiql-examples.ts';
import { resolvers } from './resolvers.ts';
import { useNotAcceptableBody, useRequireQuery } from './http-answers.ts';
import { type TrustedDocuments, useTrustedDocuments } from './trusted-documents.ts';

export const SCHEMA_FILE = fileURLToPath(new URL('../../schema.graphql', import.meta.url));
export const GRAPHQL_PATH = '/graphql';

export type GraphQLServer = YogaServerInstance<ServerContext, GraphQLContext>;

/**
 * Yoga for the schema in schema.graphql: the resolvers, who asks (the principal authenticated at
 * WebSocket `connection_init`, or the HTTP request's Authorization header), the document limits,
 * error codes, and masking (maskError: the one place application errors become GraphQL errors).
 */
export function createGraphQLServer(deps: {
  services: GraphQLServices;
  authenticator: Authenticator;
  transport: Config['transport'];
  introspection: boolean;
  /** GraphiQL at GET /graphql (text/html), or null; `authHint` pre-fills an Authorization header. */
  graphiql: { authHint: boolean } | null;
  /** When set, only these documents run (see trusted-documents.ts). */
  trusted: TrustedDocuments | null;
  log: Logger;
}): GraphQLServer {
  const { services, authenticator, log } = deps;
  return createYoga<ServerContext, GraphQLContext>({
    schema: createSchema<GraphQLContext>({
      typeDefs: fs.readFileSync(SCHEMA_FILE, 'utf8'),
      resolvers,
    }),
    // WebSocket operations bring the principal authenticated at connection_init; HTTP ones the header.
    context: async (initial): Promise<GraphQLContext> => ({
      ...services,
      principal: initial.principal ?? (await authenticator.authenticate(initial.request.headers.get('authorization'))),
    }),
    graphqlEndpoint: GRAPHQL_PATH,
    graphiql: deps.graphiql ? graphiqlOptions(deps.graphiql.authHint) : false,
    renderGraphiQL: (options) => graphiqlPage(options as GraphiQLPageOptions),
    landingPage: false,
    // CORS is decided for every route at once by http/origin-policy.ts.
    cors: false,
    maskedErrors: { isDev: false, maskError },
    multipart: false,
    plugins: [
      ...documentLimits(deps.transport, deps.introspection),
      // Before useRequireQuery: a trusted document comes by hash, with no text of its own.
      ...(deps.trusted ? [useTrustedDocuments(deps.trusted)] : []),
      useRequireQuery(),
      useNotAcceptableBody(),
      useErrorCodes(),
      useGraphiQLPolicy(),
    ],
    logging: {
      debug: (...args) => log.debug({ args }, 'graphql'),
      info: (...args) => log.info({ args }, 'graphql'),
      warn: (...args) => log.warn({ args }, 'graphql'),
      error: (...args) => {
        // A refusal because the job store is away is the client's to retry, and the outage is
        // logged once where it is noticed: not an error line (with a stack) per request.
        const cause = args[0] instanceof GraphQLError ? args[0].originalError : args[0];
        if (requestErrorCode(cause) === RequestErrorCode.SERVICE_UNAVAILABLE) {
          log.debug({ err: args[0] }, 'graphql request refused: a dependency is away');
        } else log.error({ err: args[0], args: args.slice(1) }, 'graphql error');
      },
    },
  });
}

function graphiqlOptions(authHint: boolean): GraphiQLPageOptions {
  return {
    endpoint: GRAPHQL_PATH,
    title: 'jobql GraphiQL',
    // A browser cannot set headers on a WebSocket, and GraphiQL does not put its header editor's
    // Authorization into graphql-ws's connection_init; over SSE the header goes with the request.
    subscriptionsProtocol: authHint ? 'SSE' : 'WS',
    defaultTabs: GRAPHIQL_TABS,
    // With auth on, every new tab starts with the header to fill in (HTTP and connection_init).
    ...(authHint ? { defaultHeaders: JSON.stringify({ Authorization: 'Bearer <your token>' }, null, 2) } : {}),
  };
}

/** The GraphiQL page's Content-Security-Policy: it loads only this server's assets and scripts. */
function useGraphiQLPolicy(): Plugin {
  return {
    onResponse({ response }) {
      if (response.headers.get('content-type')?.startsWith('text/html')) {
        response.headers.set('content-security-policy', GRAPHIQL_CSP);
        response.headers.set('x-content-type-options', 'nosniff');
      }
    },
  };
}
