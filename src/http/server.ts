import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { RequestErrorCode } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { type DownloadDeps, isDownloadRoute, serveDownload } from './download-route.ts';
import { isHealthRoute, serveHealth } from './health.ts';
import { sendRequestError } from './json-error.ts';
import { type MetricsScraper, serveMetrics } from './metrics-route.ts';
import { bodyWithinLimit, wellFormed } from './request-guards.ts';

export interface HttpRoutes {
  /** Whether /readyz answers 200: recovered and listening, not stopping. */
  ready(): boolean;
  /** GET /metrics; null when metrics are off (404). */
  metrics: MetricsScraper | null;
  downloads: DownloadDeps;
  /** Everything else, once the request guards let it through: GraphQL over HTTP (yoga). */
  graphql(req: IncomingMessage, res: ServerResponse): void;
  maxRequestBytes: number;
  log: Logger;
}

/** The one node:http server: health, metrics, downloads, and GraphQL (the WebSocket path attaches to it). */
export function createHttpServer(routes: HttpRoutes): Server {
  const { log } = routes;
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const route = req.url?.split('?')[0];
    if (route && isHealthRoute(route)) return serveHealth(route, res, routes.ready());
    // Unauthenticated, for scrapers: counts only, no job ids, SQL or principals.
    if (route === '/metrics') {
      void serveMetrics(req, res, routes.metrics, log);
      return;
    }
    if (route && isDownloadRoute(route)) {
      serveDownload(req, res, routes.downloads).catch((error: unknown) => {
        log.error({ err: error, url: req.url }, 'download failed');
        if (!res.headersSent) {
          sendRequestError(res, 500, RequestErrorCode.INTERNAL_SERVER_ERROR, 'Unexpected error.');
        } else {
          res.destroy();
        }
      });
      return;
    }
    if (!bodyWithinLimit(req, res, routes.maxRequestBytes) || !wellFormed(req, res)) return;
    routes.graphql(req, res);
  });
}
