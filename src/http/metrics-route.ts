import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestErrorCode } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { sendRequestError } from './json-error.ts';

/** What GET /metrics needs: the text exposition of every metric (observability/metrics.ts has one). */
export interface MetricsScraper {
  scrape(): Promise<{ contentType: string; body: string }>;
}

/**
 * GET /metrics: Prometheus text format. No authentication (scrapers do not log in), which is why it
 * shows only counts; with metrics off (JOBQL_METRICS=false) it is 404.
 */
export async function serveMetrics(
  req: IncomingMessage,
  res: ServerResponse,
  metrics: MetricsScraper | null,
  log: Logger,
): Promise<void> {
  if (!metrics) return sendRequestError(res, 404, RequestErrorCode.NOT_FOUND, 'Metrics are turned off (JOBQL_METRICS)');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    req.resume(); // a body, if any, is not read
    res.setHeader('allow', 'GET, HEAD');
    return sendRequestError(res, 405, RequestErrorCode.BAD_REQUEST, 'The metrics answer GET only');
  }
  let scraped: { contentType: string; body: string };
  try {
    scraped = await metrics.scrape();
  } catch (error) {
    log.error({ err: error }, 'metrics scrape failed');
    return sendRequestError(res, 500, RequestErrorCode.INTERNAL_SERVER_ERROR, 'Unexpected error.');
  }
  res.writeHead(200, { 'content-type': scraped.contentType, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : scraped.body);
}
