import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Authenticator } from '../auth/authenticator.ts';
import type { Clock } from '../core/clock.ts';
import { RequestErrorCode, requestErrorCode } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { DownloadObserver } from '../core/observers.ts';
import type { Principal } from '../core/principal.ts';
import { DOWNLOAD_FORMATS, type Download, isDownloadFormat, resultAvailability } from '../core/results.ts';
import type { JobService } from '../jobs/job-service.ts';
import type { Warehouse } from '../warehouses/warehouse.ts';
import { sendRequestError } from './json-error.ts';
import { type DownloadLinks, presentsLink, redactedUrl } from './signed-links.ts';

/** What a download needs: the job (as its principal may see it), the warehouse that holds the result. */
export interface DownloadDeps {
  jobs: Pick<JobService, 'get'>;
  warehouse: Pick<Warehouse, 'downloadResult'>;
  authenticator: Authenticator;
  /** Verifies signed links (the same instance signs them in `Job.downloads`). */
  links: DownloadLinks;
  clock: Clock;
  log: Logger;
  observer?: DownloadObserver | null;
}

const ROUTE = /^\/jobs\/([^/]+)\/result\.([a-z]+)$/;

export function isDownloadRoute(pathname: string): boolean {
  return ROUTE.test(pathname);
}

/**
 * GET and HEAD /jobs/<id>/result.<csv|ndjson|arrow|parquet>: a finished job's whole result,
 * streamed. The same rules as `Job.result`: an unknown job is NOT_FOUND, an unfinished one
 * RESULT_NOT_READY, an expired one RESULT_EXPIRED. Errors are JSON in the GraphQL error shape.
 *
 * Who asks: a signed link (`sig` in the query, see signed-links.ts) decides alone, and a link that
 * does not verify or has expired is 403 FORBIDDEN, whatever else the request carries; without one,
 * the same `Authorization` header as GraphQL. Either way the job is read as that principal, and
 * another principal's job is NOT_FOUND.
 *
 * Parquet (a stored file of known size) answers one byte range (`Range: bytes=a-b`, `a-`, `-n`)
 * with 206, or 416 when it starts past the end; several ranges get the whole file. The formats
 * made as they stream say `Accept-Ranges: none` and ignore `Range`.
 *
 * Never rejects: anything unexpected is logged (with the signature redacted from the URL) and
 * answered 500, or the connection dropped when the body had begun.
 */
export async function serveDownload(req: IncomingMessage, res: ServerResponse, deps: DownloadDeps): Promise<void> {
  try {
    await answer(req, res, deps);
  } catch (error) {
    deps.log.error({ err: error, url: redactedUrl(req.url) }, 'download failed');
    if (!res.headersSent) sendRequestError(res, 500, RequestErrorCode.INTERNAL_SERVER_ERROR, 'Unexpected error.');
    else res.destroy();
  }
}

async function answer(req: IncomingMessage, res: ServerResponse, deps: DownloadDeps): Promise<void> {
  const { jobs, warehouse, log } = deps;
  const fail = (status: number, code: RequestErrorCode, message: string): void => sendRequestError(res, status, code, message);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return fail(405, RequestErrorCode.BAD_REQUEST, 'Downloads answer GET and HEAD only');
  }
  // Parsed by hand, not with `new URL`: its errors would carry the whole URL, signature and all.
  const url = req.url ?? '/';
  const mark = url.indexOf('?');
  const pathname = mark === -1 ? url : url.slice(0, mark);
  const query = new URLSearchParams(mark === -1 ? '' : url.slice(mark + 1));
  const [, rawId = '', format = ''] = ROUTE.exec(pathname) ?? [];
  if (!isDownloadFormat(format)) {
    return fail(404, RequestErrorCode.BAD_USER_INPUT, `Unknown format ${JSON.stringify(format)}; use csv, ndjson, arrow or parquet`);
  }
  let id: string;
  try {
    id = decodeURIComponent(rawId);
  } catch {
    return fail(400, RequestErrorCode.BAD_REQUEST, 'The job id in the path is not valid percent-encoding');
  }
  const via = presentsLink(query) ? 'link' : 'header';
  let principal: Principal;
  if (via === 'link') {
    const check = deps.links.verify(id, format, query);
    if (!check.ok) {
      log.info({ jobId: id, format, reason: check.reason }, 'download link refused');
      return fail(403, RequestErrorCode.FORBIDDEN, check.message);
    }
    principal = check.principal;
  } else {
    try {
      principal = await deps.authenticator.authenticate(req.headers.authorization);
    } catch (error) {
      res.setHeader('www-authenticate', 'Bearer');
      return fail(401, RequestErrorCode.UNAUTHENTICATED, (error as Error).message);
    }
  }
  const job = await jobs.get(id, principal);
  if (!job) return fail(404, RequestErrorCode.NOT_FOUND, `No job with id ${JSON.stringify(id)}`);
  const availability = resultAvailability(job, deps.clock.now());
  if (availability === 'not-ready' || !job.queryId) {
    return fail(409, RequestErrorCode.RESULT_NOT_READY, `Job ${job.id} has no result: it is ${job.status}`);
  }
  const expired = `The result of job ${job.id} expired`;
  if (availability === 'expired') return fail(410, RequestErrorCode.RESULT_EXPIRED, expired);
  let found: Download | null;
  try {
    found = await warehouse.downloadResult(job.queryId, format);
  } catch (error) {
    // A warehouse that refuses with a request error (Snowflake: result expired, format not offered).
    const code = requestErrorCode(error);
    if (code === RequestErrorCode.RESULT_EXPIRED) return fail(410, code, expired);
    if (code === RequestErrorCode.BAD_REQUEST) return fail(400, code, (error as Error).message);
    throw error;
  }
  if (!found) return fail(410, RequestErrorCode.RESULT_EXPIRED, expired);
  const download = found;

  const { contentType, extension } = DOWNLOAD_FORMATS[format];
  const ranged = download.size !== undefined && download.range !== undefined;
  res.setHeader('content-type', contentType);
  res.setHeader('content-disposition', `attachment; filename="${fileName(job.id)}.${extension}"`);
  res.setHeader('cache-control', 'private, no-store');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('accept-ranges', ranged ? 'bytes' : 'none');
  let status = 200;
  let body: () => NodeJS.ReadableStream = () => download.body;
  let range: { start: number; end: number } | null = null;
  if (ranged) {
    const size = download.size!;
    const etag = `"${job.id}-${format}-${size}"`;
    res.setHeader('etag', etag);
    const asked = ifRangeHolds(req.headers['if-range'] as string | undefined, etag) ? byteRange(req.headers.range, size) : null;
    if (asked === 'unsatisfiable') {
      res.removeHeader('content-disposition');
      res.setHeader('content-range', `bytes */${size}`);
      log.debug({ jobId: job.id, format, via, principal: principal.id, status: 416 }, 'download');
      return fail(416, RequestErrorCode.BAD_REQUEST, `The requested range is outside the ${size} bytes of this file`);
    }
    if (asked) {
      range = asked;
      status = 206;
      res.setHeader('content-range', `bytes ${asked.start}-${asked.end}/${size}`);
      res.setHeader('content-length', String(asked.end - asked.start + 1));
      body = () => download.range!(asked.start, asked.end);
    } else {
      res.setHeader('content-length', String(size));
    }
  }
  log.debug({ jobId: job.id, format, via, principal: principal.id, status, method: req.method, range }, 'download');
  if (req.method === 'HEAD') {
    // A download that offers ranges has opened nothing; the others are streams not yet started.
    if (!ranged) destroy(download.body);
    res.writeHead(status);
    res.end();
    return;
  }
  res.writeHead(status);
  const observer = deps.observer;
  try {
    if (observer) {
      observer.downloadStarted(format);
      await pipeline(body(), countBytes((bytes) => observer.bytesServed(format, bytes)), res);
    } else {
      await pipeline(body(), res);
    }
  } catch (error) {
    // A client that goes away mid-download is not an error of ours.
    if (!res.destroyed) log.error({ err: error, jobId: job.id, format }, 'download failed');
    res.destroy();
  }
}

/** A job id as a file name: jobql's ids are ASCII already (`job_` and hex); anything else is replaced. */
function fileName(jobId: string): string {
  return jobId.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * The one byte range of a `Range` header within `size` bytes (RFC 9110 §14.1.2): `{start, end}`
 * (inclusive), `unsatisfiable` (416), or null to send the whole body: no header, another unit, a
 * malformed or invalid spec, or several ranges (which a server may answer whole).
 */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (header === undefined) return null;
  const match = /^bytes=(.*)$/i.exec(header.trim());
  if (!match) return null;
  const specs = match[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length !== 1) return null;
  const spec = /^(\d*)-(\d*)$/.exec(specs[0]!);
  if (!spec) return null;
  const [, first = '', last = ''] = spec;
  if (first === '' && last === '') return null;
  if (first === '') {
    // The last n bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Infinity : Number(last);
  if (end < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** `If-Range` (RFC 9110 §13.1.5): a range is served only for the same strong ETag; a date never matches (no Last-Modified is sent). */
function ifRangeHolds(ifRange: string | undefined, etag: string): boolean {
  return ifRange === undefined || ifRange.trim() === etag;
}

function destroy(stream: NodeJS.ReadableStream): void {
  (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
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
