/**
 * The framework reference for subscriptions: graphql-yoga + graphql-ws on one node:http server,
 * wired as jobql wires them (useServer through yoga.getEnveloped), with a `jobStatus(id)`
 * subscription whose payload has the same fields, sizes and order as jobql's, and no jobql code:
 * no job store, poller, event bus or limits. Each subscription sends a RUNNING event at once (as
 * jobql sends the current state), then waits; `burst` ends every waiting one with a SUCCESS event
 * stamped with one instant, then completes it. What this costs is what graphql-ws and yoga cost.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createSchema, createYoga } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { ready, serveRpc, processProbes } from '../lib/rpc.ts';

interface Event {
  status: string;
  previousStatus: string | null;
  sequence: number;
  at: string;
  job: { id: string; status: string; isDone: boolean; isFailed: boolean; endedAt: string | null };
}

const waiting = new Map<string, { id: string; resolve: (result: IteratorResult<Event>) => void }>();
let nextKey = 0;

function stream(id: string): AsyncIterableIterator<Event> {
  const key = String(nextKey++);
  let phase: 'start' | 'waiting' | 'done' = 'start';
  return {
    next(): Promise<IteratorResult<Event>> {
      if (phase === 'done') return Promise.resolve({ value: undefined, done: true });
      if (phase === 'start') {
        phase = 'waiting';
        const at = new Date().toISOString();
        return Promise.resolve({
          value: { status: 'RUNNING', previousStatus: 'QUEUED', sequence: 2, at, job: { id, status: 'RUNNING', isDone: false, isFailed: false, endedAt: null } },
          done: false,
        });
      }
      phase = 'done';
      return new Promise((resolve) => waiting.set(key, { id, resolve }));
    },
    return(): Promise<IteratorResult<Event>> {
      phase = 'done';
      waiting.get(key)?.resolve({ value: undefined, done: true });
      waiting.delete(key);
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

const yoga = createYoga({
  schema: createSchema({
    typeDefs: `
      type Query { hello: String! }
      type Subscription { jobStatus(id: ID!): JobStatusEvent! }
      type JobStatusEvent { status: String! previousStatus: String sequence: Int! at: String! job: Job! }
      type Job { id: ID! status: String! isDone: Boolean! isFailed: Boolean! endedAt: String }`,
    resolvers: {
      Query: { hello: () => 'world' },
      Subscription: {
        jobStatus: { subscribe: (_: unknown, args: { id: string }) => stream(args.id), resolve: (event: Event) => event },
      },
    },
  }),
  graphqlEndpoint: '/graphql',
  graphiql: false,
  landingPage: false,
  logging: false,
});

interface Envelope {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

const server = createServer(yoga);
const wss = new WebSocketServer({ server, path: '/graphql', perMessageDeflate: false });
useServer(
  {
    execute: (args) => (args.rootValue as Envelope).execute(args) as never,
    subscribe: (args) => (args.rootValue as Envelope).subscribe(args) as never,
    onSubscribe: async (ctx, _id, params) => {
      const enveloped = yoga.getEnveloped({ ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params });
      const document = enveloped.parse(params.query);
      const errors = enveloped.validate(enveloped.schema, document);
      if (errors.length > 0) return errors;
      return {
        schema: enveloped.schema,
        operationName: params.operationName ?? null,
        document,
        variableValues: params.variables ?? null,
        contextValue: await enveloped.contextFactory(),
        rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe } satisfies Envelope,
      };
    },
  },
  wss,
);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

serveRpc({
  ...processProbes,
  burst: () => {
    const at = new Date();
    const stamp = at.toISOString();
    const resolvers = [...waiting.values()];
    waiting.clear();
    for (const { id, resolve } of resolvers) {
      resolve({ value: { status: 'SUCCESS', previousStatus: 'RUNNING', sequence: 3, at: stamp, job: { id, status: 'SUCCESS', isDone: true, isFailed: false, endedAt: stamp } }, done: false });
    }
    return { at: at.getTime(), sent: resolvers.length };
  },
  stop: () => {
    for (const socket of wss.clients) socket.terminate();
    server.closeAllConnections();
    server.close(() => process.exit(0));
  },
});
ready({ url: `http://127.0.0.1:${port}/graphql`, wsUrl: `ws://127.0.0.1:${port}/graphql` });
