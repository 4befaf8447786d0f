import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { RequestErrorCode } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Pages } from '../web/pages.ts';
import { type DownloadDeps, isDownloadRoute, serveDownload } from './download-route.ts';
import { isHealthRoute, type Readiness, serveHealth } from './health.ts';
import { sendRequestError } from './json-error.ts';
import { type MetricsScraper, serveMetrics } from './metrics-route.ts';
import type { OriginPolicy } from './origin-policy.ts';
import { redactedUrl } from './signed-links.ts';
import { bodyWithinLimit, wellFormed } from './request-guards.ts';

export interface HttpRoutes {
  /** What /readyz says: recovered and listening, not stopping, and the dependencies missing. */
  readiness(): Promise<Readiness>;
  /** GET /metrics; null when metrics are off (404). */
  metrics: MetricsScraper | null;
  downloads: DownloadDeps;
  /** GraphiQL's assets and the job console. */
  pages: Pages;
  /** Which web origins may call (CORS on every route but health). */
  origins: OriginPolicy;
  /** Everything else, once the request guards let it through: GraphQL over HTTP (yoga). */
  graphql(req: IncomingMessage, res: ServerResponse): void;
  maxRequestBytes: number;
  log: Logger;
}

/** The one node:http server: health, metrics, downloads, pages, and GraphQL (the WebSocket path attaches to it). */
export function createHttpServer(routes: HttpRoutes): Server {
  const { log } = routes;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const route = req.url?.split('?')[0];
    if (route && isHealthRoute(route)) {
      void serveHealth(route, res, routes.readiness);
      return;
    }
    const refuse = (message: string): void => {
      log.warn({ origin: req.headers.origin, host: req.headers.host, url: route }, 'request from a refused origin');
      sendRequestError(res, 403, RequestErrorCode.FORBIDDEN, message);
    };
    if (!routes.origins.apply(req, res, refuse)) return;
    // Unauthenticated, for scrapers: counts only, no job ids, SQL or principals.
    if (route === '/metrics') {
      void serveMetrics(req, res, routes.metrics, log);
      return;
    }
    if (route && isDownloadRoute(route)) {
      serveDownload(req, res, routes.downloads).catch((error: unknown) => {
        log.error({ err: error, url: redactedUrl(req.url) }, 'download failed');
        if (!res.headersSent) {
          sendRequestError(res, 500, RequestErrorCode.INTERNAL_SERVER_ERROR, 'Unexpected error.');
        } else {
          res.destroy();
        }
      });
      return;
    }
    if (route && routes.pages.handle(req, res, route)) return;
    if (!bodyWithinLimit(req, res, routes.maxRequestBytes) || !wellFormed(req, res)) return;
    routes.graphql(req, res);
  });
  server.on('clientError', answerUnparsable);
  return server;
}

/**
 * A request Node's parser refused before any handler saw it (headers over 16 KiB, a malformed
 * request line) gets a JSON error like every other refusal, instead of Node's empty answer.
 */
function answerUnparsable(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || (error.code === 'ECONNRESET' && socket.destroyed)) {
    socket.destroy();
    return;
  }
  const [status, reason, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'The request line and headers are larger than 16 KiB; send the query in a POST body']
      : [400, 'Bad Request', 'The HTTP request could not be parsed'];
  const body = JSON.stringify({ errors: [{ message, extensions: { code: RequestErrorCode.BAD_REQUEST } }] });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
