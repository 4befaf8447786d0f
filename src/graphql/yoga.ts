import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSchema, createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Authenticator } from '../auth/authenticator.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../core/logger.ts';
import type { GraphQLContext, GraphQLServices, ServerContext } from './context.ts';
import { documentLimits } from './document-limits.ts';
import { useErrorCodes } from './error-codes.ts';
import { maskError } from './errors.ts';
import { resolvers } from './resolvers.ts';

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
  graphiql: boolean;
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
    graphiql: deps.graphiql ? { subscriptionsProtocol: 'WS', title: 'jobql' } : false,
    landingPage: false,
    maskedErrors: { isDev: false, maskError },
    multipart: false,
    plugins: [...documentLimits(deps.transport, deps.introspection), useErrorCodes()],
    logging: {
      debug: (...args) => log.debug({ args }, 'graphql'),
      info: (...args) => log.info({ args }, 'graphql'),
      warn: (...args) => log.warn({ args }, 'graphql'),
      error: (...args) => log.error({ err: args[0], args: args.slice(1) }, 'graphql error'),
    },
  });
}
