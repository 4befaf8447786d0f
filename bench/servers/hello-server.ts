/**
 * The HTTP baseline: a bare graphql-yoga server answering `{ hello }`, on node:http, with yoga's
 * defaults, in its own process. Same yoga version and Node as jobql, nothing else.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import { ready, serveRpc } from '../lib/rpc.ts';

const yoga = createYoga({
  schema: createSchema({
    typeDefs: 'type Query { hello: String! }',
    resolvers: { Query: { hello: () => 'world' } },
  }),
  graphqlEndpoint: '/graphql',
  graphiql: false,
  landingPage: false,
  logging: false,
});
const server = createServer(yoga);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

serveRpc({
  cpu: () => ({ usage: process.cpuUsage(), at: performance.now() }),
  stop: () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  },
});
ready({ url: `http://127.0.0.1:${port}/graphql` });
