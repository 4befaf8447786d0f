import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createAuthenticator } from './auth/authenticator.ts';
import { openSharedState } from './cluster/shared-state.ts';
import { type Config, ConfigError } from './config.ts';
import { type Clock, systemClock } from './core/clock.ts';
import type { EventBus } from './events/event-bus.ts';
import { type SharedExecutionStats, SharedExecution } from './graphql/shared-execution.ts';
import { TrustedDocuments } from './graphql/trusted-documents.ts';
import { serveWebSocket } from './graphql/websocket.ts';
import { createGraphQLServer, GRAPHQL_PATH } from './graphql/yoga.ts';
import { OriginPolicy } from './http/origin-policy.ts';
import { createHttpServer } from './http/server.ts';
import { WebhookNotifier } from './notifications/webhook-notifier.ts';
import { DownloadLinks } from './http/signed-links.ts';
import { JobService } from './jobs/job-service.ts';
import type { Logger } from './logger.ts';
import { instrumentBus, Metrics } from './observability/metrics.ts';
import type { JobStore } from './store/job-store.ts';
import { type OpenedWarehouse, openWarehouse } from './warehouses/open-warehouse.ts';
import type { Warehouse } from './warehouses/warehouse.ts';
import { createPages } from './web/pages.ts';

/** Where `npm run build:console` puts the console (console/dist, beside src/). */
const CONSOLE_DIR = fileURLToPath(new URL('../console/dist', import.meta.url));

/** The console's own operations, trusted with the operator's manifests so the console keeps working. */
const CONSOLE_DOCUMENTS = fileURLToPath(new URL('../console/src/gql/persisted-documents.json', import.meta.url));

function loadTrustedDocuments(files: string[], logger: Logger): TrustedDocuments {
  const all = fs.existsSync(CONSOLE_DOCUMENTS) ? [...files, CONSOLE_DOCUMENTS] : files;
  let trusted: TrustedDocuments;
  try {
    trusted = TrustedDocuments.load(all);
  } catch (error) {
    throw new ConfigError(`JOBQL_TRUSTED_DOCUMENTS: ${(error as Error).message}`);
  }
  logger.info({ documents: trusted.size, manifests: all.length }, 'trusted documents only');
  return trusted;
}

export interface App {
  /** `http://host:port`, once started. */
  readonly url: string;
  readonly jobs: JobService;
  readonly bus: EventBus;
  readonly warehouse: Warehouse;
  /** This app's shared execution of subscription events: its counts, live (tests, leak checks). */
  readonly executionStats: Readonly<SharedExecutionStats>;
  /** WebSocket connections open now (for leak checks). */
  sockets(): number;
  start(): Promise<void>;
  /** Graceful: no new jobs, running ones get the grace period, sockets close with 1001. */
  stop(): Promise<void>;
}

/**
 * Parts given instead of the ones the configuration names (benchmarks drive a scripted warehouse,
 * tests a clock). A given store or bus stays the caller's to close; a given warehouse comes with
 * its `close`, which `stop` calls as it does for its own.
 */
export interface AppDeps {
  store?: JobStore;
  bus?: EventBus;
  warehouse?: OpenedWarehouse;
  clock?: Clock;
}

/** Wires the parts together: stores, warehouse, job service, GraphQL, and one HTTP server for everything. */
export async function buildApp(config: Config, logger: Logger, deps: AppDeps = {}): Promise<App> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const clock = deps.clock ?? systemClock;
  const shared = await openSharedState(config, logger, deps);
  const { store } = shared;
  const opened =
    deps.warehouse ?? (await openWarehouse(config, logger, { runAsOf: async (queryId) => (await store.findByQueryId(queryId))?.runAs ?? null }));
  const { warehouse } = opened;
  const metrics = config.metrics ? new Metrics() : null;
  const bus = instrumentBus(shared.bus, metrics);
  const downloadLinks = new DownloadLinks(config.downloads, clock);
  const notifier = config.webhooks.secret
    ? new WebhookNotifier({
        config: config.webhooks,
        logger: logger.child({ component: 'webhooks' }),
        // Signed for the job's owner, as `Job.downloads` is: paths, resolved against the API's URL.
        links: (job) => downloadLinks.mint(job, { id: job.owner, admin: false, expiresAt: null }),
      })
    : null;
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
    clock,
    notifier,
    notifyRetryMs: config.webhooks.retryForMs,
    progressEventsPerSecond: config.progressEventsPerSecond,
    identities: opened.identities ?? null,
  });
  const authenticator = createAuthenticator(config.auth);
  if (authenticator.mode === 'open') {
    logger.warn(
      { host: config.host },
      'OPEN MODE: no authentication is configured (JOBQL_JWT_* or JOBQL_API_KEYS). Every request acts as one ' +
        'local principal that may do everything. For local use only.',
    );
  }

  if (!config.downloads.signingKey) {
    logger.info('download links are signed with a random key of this process: they stop working when it restarts (set JOBQL_DOWNLOAD_SIGNING_KEY to keep them)');
  }
  const trusted = config.trustedDocuments ? loadTrustedDocuments(config.trustedDocuments, logger) : null;
  const yoga = createGraphQLServer({
    services: { jobs, warehouse, bus, limits: config.limits, clock, downloadLinks, observer: metrics },
    authenticator,
    transport: config.transport,
    introspection: config.introspection,
    graphiql: config.graphiql ? { authHint: authenticator.mode !== 'open' } : null,
    trusted,
    log: logger,
  });
  const origins = new OriginPolicy(config.origins.allowed, config.origins);
  let ready = false;
  const server = createHttpServer({
    readiness: async () => ({ started: ready, missing: await shared.dependencies.missing() }),
    metrics,
    downloads: { jobs, warehouse, authenticator, links: downloadLinks, clock, log: logger, observer: metrics },
    origins,
    pages: createPages({ consoleDir: CONSOLE_DIR, graphiql: config.graphiql }),
    graphql: (req, res) => void yoga.handle(req, res),
    maxRequestBytes: config.transport.maxRequestBytes,
    log: logger,
  });
  const sharing = new SharedExecution();
  const wss = serveWebSocket({
    server,
    path: GRAPHQL_PATH,
    yoga,
    authenticator,
    transport: config.transport,
    sharing,
    trusted,
    origins,
    log: logger.child({ component: 'websocket' }),
  });
  metrics?.watch({
    store,
    bus,
    poller: jobs.poller,
    sockets: () => wss.clients.size,
    dependencies: shared.dependencies,
  });

  let url = '';
  return {
    get url() {
      return url;
    },
    jobs,
    bus,
    warehouse,
    executionStats: sharing.stats,
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
