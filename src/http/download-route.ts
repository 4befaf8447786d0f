import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Authenticator } from '../auth/authenticator.ts';
import type { Clock } from '../core/clock.ts';
import { RequestErrorCode, requestErrorCode } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import type { Logger } from '../core/logger.ts';
import type { DownloadObserver } from '../core/observers.ts';
import type { Principal } from '../core/principal.ts';
import { DOWNLOAD_FORMATS, type DownloadFormat, isDownloadFormat, resultAvailability } from '../core/results.ts';
import type { JobService } from '../jobs/job-service.ts';
import type { Warehouse } from '../warehouses/warehouse.ts';
import { sendRequestError } from './json-error.ts';

/** What a download needs: the job (as its principal may see it), the warehouse that holds the result. */
export interface DownloadDeps {
  jobs: Pick<JobService, 'get'>;
  warehouse: Pick<Warehouse, 'downloadResult'>;
  authenticator: Authenticator;
  clock: Clock;
  log: Logger;
  observer?: DownloadObserver | null;
}

const ROUTE = /^\/jobs\/([^/]+)\/result\.([a-z]+)$/;

/** The path of a job's result in one format; `Job.downloads` gives these. */
export function downloadPath(job: Job, format: DownloadFormat): string {
  return `/jobs/${encodeURIComponent(job.id)}/result.${format}`;
}

export function isDownloadRoute(pathname: string): boolean {
  return ROUTE.test(pathname);
}

/**
 * GET /jobs/<id>/result.<csv|ndjson|arrow|parquet>: a finished job's whole result, streamed.
 * The same rules as `Job.result`: an unknown job is NOT_FOUND, an unfinished one RESULT_NOT_READY,
 * an expired one RESULT_EXPIRED. Errors are JSON in the GraphQL error shape. The same
 * `Authorization` header as GraphQL; another principal's job is NOT_FOUND.
 */
export async function serveDownload(
  req: IncomingMessage,
  res: ServerResponse,
  deps: DownloadDeps,
): Promise<void> {
  const { jobs, warehouse, log } = deps;
  const fail = (status: number, code: RequestErrorCode, message: string): void => sendRequestError(res, status, code, message);
  if (req.method !== 'GET') return fail(405, RequestErrorCode.BAD_REQUEST, 'Downloads answer GET only');
  const [, rawId = '', format = ''] = ROUTE.exec(new URL(req.url ?? '/', 'http://x').pathname) ?? [];
  if (!isDownloadFormat(format)) {
    return fail(404, RequestErrorCode.BAD_USER_INPUT, `Unknown format ${JSON.stringify(format)}; use csv, ndjson, arrow or parquet`);
  }
  let id: string;
  try {
    id = decodeURIComponent(rawId);
  } catch {
    return fail(400, RequestErrorCode.BAD_REQUEST, 'The job id in the path is not valid percent-encoding');
  }
  let principal: Principal;
  try {
    principal = await deps.authenticator.authenticate(req.headers.authorization);
  } catch (error) {
    res.setHeader('www-authenticate', 'Bearer');
    return fail(401, RequestErrorCode.UNAUTHENTICATED, (error as Error).message);
  }
  const job = await jobs.get(id, principal);
  if (!job) return fail(404, RequestErrorCode.NOT_FOUND, `No job with id ${JSON.stringify(id)}`);
  const availability = resultAvailability(job, deps.clock.now());
  if (availability === 'not-ready' || !job.queryId) {
    return fail(409, RequestErrorCode.RESULT_NOT_READY, `Job ${job.id} has no result: it is ${job.status}`);
  }
  const expired = `The result of job ${job.id} expired`;
  if (availability === 'expired') return fail(410, RequestErrorCode.RESULT_EXPIRED, expired);
  let download;
  try {
    download = await warehouse.downloadResult(job.queryId, format);
  } catch (error) {
    // A warehouse that refuses with a request error (Snowflake: result expired, format not offered).
    const code = requestErrorCode(error);
    if (code === RequestErrorCode.RESULT_EXPIRED) return fail(410, code, expired);
    if (code === RequestErrorCode.BAD_REQUEST) return fail(400, code, (error as Error).message);
    throw error;
  }
  if (!download) return fail(410, RequestErrorCode.RESULT_EXPIRED, expired);
  const { contentType, extension } = DOWNLOAD_FORMATS[format];
  res.writeHead(200, {
    'content-type': contentType,
    'content-disposition': `attachment; filename="${job.id}.${extension}"`,
    'cache-control': 'no-store',
  });
  const observer = deps.observer;
  try {
    if (observer) {
      observer.downloadStarted(format);
      await pipeline(download.body, countBytes((bytes) => observer.bytesServed(format, bytes)), res);
    } else {
      await pipeline(download.body, res);
    }
  } catch (error) {
    // A client that goes away mid-download is not an error of ours.
    if (!res.destroyed) log.error({ err: error, jobId: job.id, format }, 'download failed');
    res.destroy();
  }
}

/** Passes a download's body through unchanged, telling `onBytes` the size of each chunk (for metrics). */
function countBytes(onBytes: (bytes: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onBytes(chunk.length);
      callback(null, chunk);
    },
  });
}
