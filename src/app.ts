import fs from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ExecutionArgs, type ExecutionResult, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createSchema, createYoga } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Config } from './config.ts';
import { RequestErrorCode } from './errors.ts';
import { type EventBus, InProcessEventBus } from './events/event-bus.ts';
import type { GraphQLContext } from './graphql/context.ts';
import { useErrorCodes } from './graphql/error-codes.ts';
import { resolvers } from './graphql/resolvers.ts';
import { JobService } from './jobs/job-service.ts';
import type { JobStore } from './jobs/job-store.ts';
import type { Logger } from './logger.ts';
import { isDownloadRoute, serveDownload } from './results/download-route.ts';
import { SqliteJobStore } from './store/sqlite-job-store.ts';
import { openWarehouse } from './warehouses/open-warehouse.ts';
import type { Warehouse } from './warehouses/warehouse.ts';

export const SCHEMA_FILE = fileURLToPath(new URL('../schema.graphql', import.meta.url));
const GRAPHQL_PATH = '/graphql';
/** Larger frames close the socket (1009); no legitimate operation comes near it. */
const MAX_WS_PAYLOAD_BYTES = 64 * 1024;

export interface App {
  /** `http://host:port`, once started. */
  readonly url: string;
  readonly jobs: JobService;
  readonly bus: EventBus;
  readonly warehouse: Warehouse;
  start(): Promise<void>;
  /** Graceful: no new jobs, running ones get the grace period, sockets close with 1001. */
  stop(): Promise<void>;
}

/** Wires the parts together: stores, warehouse, job service, and one HTTP server for everything. */
export async function buildApp(config: Config, logger: Logger): Promise<App> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const store: JobStore = new SqliteJobStore(path.join(config.dataDir, 'jobs.sqlite'));
  const opened = await openWarehouse(config, logger);
  const { warehouse } = opened;
  const bus = new InProcessEventBus();
  const jobs = new JobService({
    store,
    warehouse,
    bus,
    limits: config.limits,
    resultTtlSeconds: config.resultTtlSeconds,
    pollBackoffMs: config.pollBackoffMs,
    maxStatusChecksPerSecond: config.maxStatusChecksPerSecond,
    logger: logger.child({ component: 'jobs' }),
  });
  const context: GraphQLContext = { jobs, warehouse, bus, limits: config.limits };

  const yoga = createYoga<{ req?: IncomingMessage }, GraphQLContext>({
    schema: createSchema<GraphQLContext>({
      typeDefs: fs.readFileSync(SCHEMA_FILE, 'utf8'),
      resolvers,
    }),
    context: () => context,
    graphqlEndpoint: GRAPHQL_PATH,
    graphiql: config.graphiql ? { subscriptionsProtocol: 'WS', title: 'jobql' } : false,
    landingPage: false,
    maskedErrors: { isDev: false },
    multipart: false,
    plugins: [useErrorCodes()],
    logging: {
      debug: (...args) => logger.debug({ args }, 'graphql'),
      info: (...args) => logger.info({ args }, 'graphql'),
      warn: (...args) => logger.warn({ args }, 'graphql'),
      error: (...args) => logger.error({ err: args[0], args: args.slice(1) }, 'graphql error'),
    },
  });

  let ready = false;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const route = req.url?.split('?')[0];
    if (route === '/healthz' || route === '/readyz') {
      const ok = route === '/healthz' || ready;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: ok ? 'ok' : 'unavailable' }));
      return;
    }
    if (route && isDownloadRoute(route)) {
      serveDownload(req, res, jobs, warehouse, logger).catch((error: unknown) => {
        logger.error({ err: error, url: req.url }, 'download failed');
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ message: 'Unexpected error.', extensions: { code: RequestErrorCode.INTERNAL_SERVER_ERROR } }] }));
        } else {
          res.destroy();
        }
      });
      return;
    }
    void yoga.handle(req, res);
  });

  const wss = new WebSocketServer({ server, path: GRAPHQL_PATH, maxPayload: MAX_WS_PAYLOAD_BYTES });
  useServer<Record<string, unknown>>(
    {
      execute: (args) => (args.rootValue as Envelope).execute(args),
      subscribe: (args) => (args.rootValue as Envelope).subscribe(args),
      // One plugin pipeline for HTTP and WebSocket (yoga's recipe). Parse and validation errors are
      // returned, not thrown: a throw here would close the whole socket and its other subscriptions.
      onSubscribe: async (ctx, _id, params) => {
        const enveloped = yoga.getEnveloped({ ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params });
        let document;
        try {
          document = enveloped.parse(params.query);
        } catch (error) {
          return [codedError(error, RequestErrorCode.GRAPHQL_PARSE_FAILED)];
        }
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length > 0) return errors.map((e: GraphQLError) => codedError(e, RequestErrorCode.GRAPHQL_VALIDATION_FAILED));
        const args: ExecutionArgs = {
          schema: enveloped.schema,
          operationName: params.operationName ?? null,
          document,
          variableValues: params.variables ?? null,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe } satisfies Envelope,
        };
        return args;
      },
    },
    wss,
  );

  let url = '';
  return {
    get url() {
      return url;
    },
    jobs,
    bus,
    warehouse,
    async start() {
      await jobs.recover();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      url = `http://${host}:${address.port}`;
      ready = true;
      logger.info({ url: `${url}${GRAPHQL_PATH}`, warehouse: warehouse.name, dataDir: config.dataDir }, 'jobql listening');
    },
    async stop() {
      ready = false;
      await jobs.drain(config.shutdownGraceMs);
      for (const client of wss.clients) client.close(1001, 'server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await opened.close();
      await store.close();
      logger.info('jobql stopped');
    },
  };
}

type OperationResult =
  | ExecutionResult
  | AsyncIterable<ExecutionResult>
  | Promise<ExecutionResult | AsyncIterable<ExecutionResult>>;

/** Yoga's enveloped execute and subscribe, carried to graphql-ws through `rootValue`. */
interface Envelope {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
}

function codedError(error: unknown, code: RequestErrorCode): GraphQLError {
  const message = error instanceof Error ? error.message : String(error);
  const existing = error instanceof GraphQLError ? error : null;
  return new GraphQLError(message, {
    ...(existing?.nodes ? { nodes: existing.nodes } : {}),
    extensions: { ...existing?.extensions, code },
  });
}
