import fs from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createSchema, createYoga } from 'graphql-yoga';
import { createAuthenticator } from './auth/authenticator.ts';
import { openSharedState } from './cluster/shared-state.ts';
import type { Config } from './config.ts';
import { RequestErrorCode } from './core/errors.ts';
import { sendRequestError } from './http/json-error.ts';
import type { EventBus } from './events/event-bus.ts';
import type { GraphQLContext, ServerContext } from './graphql/context.ts';
import { documentLimits } from './graphql/document-limits.ts';
import { useErrorCodes } from './graphql/error-codes.ts';
import { maskError } from './graphql/errors.ts';
import { resolvers } from './graphql/resolvers.ts';
import { serveWebSocket } from './graphql/websocket.ts';
import { JobService } from './jobs/job-service.ts';
import type { Logger } from './logger.ts';
import { instrumentBus, Metrics, serveMetrics } from './observability/metrics.ts';
import { isDownloadRoute, serveDownload } from './results/download-route.ts';
import { type OpenedWarehouse, openWarehouse } from './warehouses/open-warehouse.ts';
import type { Warehouse } from './warehouses/warehouse.ts';

export const SCHEMA_FILE = fileURLToPath(new URL('../schema.graphql', import.meta.url));
const GRAPHQL_PATH = '/graphql';

export interface App {
  /** `http://host:port`, once started. */
  readonly url: string;
  readonly jobs: JobService;
  readonly bus: EventBus;
  readonly warehouse: Warehouse;
  /** WebSocket connections open now (for leak checks). */
  sockets(): number;
  start(): Promise<void>;
  /** Graceful: no new jobs, running ones get the grace period, sockets close with 1001. */
  stop(): Promise<void>;
}

/** Parts given instead of the ones the configuration names (benchmarks drive a scripted warehouse). */
export interface AppParts {
  warehouse?: OpenedWarehouse;
}

/** Wires the parts together: stores, warehouse, job service, and one HTTP server for everything. */
export async function buildApp(config: Config, logger: Logger, parts: AppParts = {}): Promise<App> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const shared = await openSharedState(config, logger);
  const { store } = shared;
  const opened = parts.warehouse ?? (await openWarehouse(config, logger));
  const { warehouse } = opened;
  const metrics = config.metrics ? new Metrics() : null;
  const bus = instrumentBus(shared.bus, metrics);
  const jobs = new JobService({
    store,
    warehouse,
    bus,
    limits: config.limits,
    resultTtlSeconds: config.resultTtlSeconds,
    pollBackoffMs: config.pollBackoffMs,
    // The budget protects Snowflake's monitoring endpoint; the embedded engine pushes its states.
    ...(config.warehouse === 'snowflake' ? { maxStatusChecksPerSecond: config.maxStatusChecksPerSecond } : {}),
    submissionLimiter: shared.submissionLimiter,
    instance: shared.instance,
    logger: logger.child({ component: 'jobs' }),
  });
  const authenticator = createAuthenticator(config.auth);
  if (authenticator.mode === 'open') {
    logger.warn(
      { host: config.host },
      'OPEN MODE: no authentication is configured (JOBQL_JWT_* or JOBQL_API_KEYS). Every request acts as one ' +
        'local principal that may do everything. For local use only.',
    );
  }
  const services = { jobs, warehouse, bus, limits: config.limits, metrics };

  const yoga = createYoga<ServerContext, GraphQLContext>({
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
    graphiql: config.graphiql ? { subscriptionsProtocol: 'WS', title: 'jobql' } : false,
    landingPage: false,
    maskedErrors: { isDev: false, maskError },
    multipart: false,
    plugins: [...documentLimits(config.transport, config.introspection), useErrorCodes()],
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
    // Unauthenticated, for scrapers: counts only, no job ids, SQL or principals.
    if (route === '/metrics') {
      void serveMetrics(req, res, metrics, logger);
      return;
    }
    if (route && isDownloadRoute(route)) {
      serveDownload(req, res, { jobs, warehouse, authenticator, log: logger, observer: metrics }).catch((error: unknown) => {
        logger.error({ err: error, url: req.url }, 'download failed');
        if (!res.headersSent) {
          sendRequestError(res, 500, RequestErrorCode.INTERNAL_SERVER_ERROR, 'Unexpected error.');
        } else {
          res.destroy();
        }
      });
      return;
    }
    if (!bodyWithinLimit(req, res, config.transport.maxRequestBytes) || !wellFormed(req, res)) return;
    void yoga.handle(req, res);
  });

  const wss = serveWebSocket({
    server,
    path: GRAPHQL_PATH,
    yoga,
    authenticator,
    transport: config.transport,
    log: logger.child({ component: 'websocket' }),
  });
  metrics?.watch({ store, bus, poller: jobs.poller, sockets: () => wss.clients.size });

  let url = '';
  return {
    get url() {
      return url;
    },
    jobs,
    bus,
    warehouse,
    sockets: () => wss.clients.size,
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
      await shared.close();
      logger.info('jobql stopped');
    },
  };
}

/** Media types of a GraphQL POST body (GraphQL over HTTP); form bodies and uploads are not served. */
const POST_TYPES = /^(application\/json|application\/graphql-response\+json)\s*(;|$)/i;

/**
 * Refuses, with a JSON error, what yoga would answer with an empty body or a 500: a POST whose
 * content type is not JSON, and a GET whose `variables` or `extensions` are not JSON.
 */
function wellFormed(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'POST' && !POST_TYPES.test(req.headers['content-type'] ?? '')) {
    sendRequestError(res, 415, RequestErrorCode.BAD_REQUEST, 'Send the request as application/json');
    req.resume();
    return false;
  }
  if (req.method === 'GET') {
    const params = new URL(req.url ?? '/', 'http://x').searchParams;
    for (const name of ['variables', 'extensions']) {
      const value = params.get(name);
      if (value === null) continue;
      try {
        JSON.parse(value);
      } catch {
        sendRequestError(res, 400, RequestErrorCode.BAD_REQUEST, `The ${name} parameter is not JSON`);
        return false;
      }
    }
  }
  return true;
}

/**
 * Refuses a request body larger than the limit before anyone reads it: by its Content-Length
 * (413), and a body without one (chunked) is refused (411) because its size is unknown up front.
 */
function bodyWithinLimit(req: IncomingMessage, res: ServerResponse, maxBytes: number): boolean {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return true;
  const length = req.headers['content-length'];
  if (length === undefined) {
    if (req.headers['transfer-encoding'] === undefined) return true; // no body at all
    sendRequestError(res, 411, RequestErrorCode.BAD_REQUEST, 'Send the request body with a Content-Length');
    return false;
  }
  if (Number(length) > maxBytes) {
    sendRequestError(res, 413, RequestErrorCode.LIMIT_EXCEEDED, `The request body is larger than ${maxBytes} bytes`);
    req.resume();
    res.once('finish', () => req.socket.destroy());
    return false;
  }
  return true;
}
