import type { DmlCounts, Job, JobError, JobProgress, JsonValue } from './job.ts';
import type { JobStatus } from './status.ts';

/** What the warehouse knows of one query right now. */
export interface QueryState {
  status: JobStatus;
  startedAt: Date | null;
  endedAt: Date | null;
  error: JobError | null;
  progress: JobProgress | null;
  dml: DmlCounts | null;
}

export interface Column {
  name: string;
  type: string;
  nullable: boolean;
}

export interface ResultPage {
  columns: Column[];
  rows: JsonValue[][];
  totalRows: number;
  /** Index of the first row of this page in the whole result. */
  offset: number;
  /** The result was cut at the server's row cap; `totalRows` counts the rows kept. */
  truncated: boolean;
}

export const DOWNLOAD_FORMATS = {
  csv: { contentType: 'text/csv; charset=utf-8', extension: 'csv' },
  ndjson: { contentType: 'application/x-ndjson; charset=utf-8', extension: 'ndjson' },
  arrow: { contentType: 'application/vnd.apache.arrow.stream', extension: 'arrows' },
  parquet: { contentType: 'application/vnd.apache.parquet', extension: 'parquet' },
} as const;

export type DownloadFormat = keyof typeof DOWNLOAD_FORMATS;

export function isDownloadFormat(value: string): value is DownloadFormat {
  return Object.hasOwn(DOWNLOAD_FORMATS, value);
}

/** A whole result in one format, as a byte stream (a Node Readable in every adapter). */
export interface Download {
  format: DownloadFormat;
  body: NodeJS.ReadableStream;
  /**
   * The body's length in bytes, where it is known before streaming (a stored file); absent for
   * what is made as it streams (CSV, NDJSON, Arrow).
   */
  size?: number;
  /**
   * Bytes `start` to `end` (inclusive, within `size`) instead of `body`. Offered with `size`, by
   * stored files only. A download that offers it opens nothing until `body` or a range is read.
   */
  range?(start: number, end: number): NodeJS.ReadableStream;
}

/**
 * Whether a job's result can be read now: only a SUCCESS job with a query id has one, until its
 * `resultExpiresAt`. GraphQL pages and downloads both ask here.
 */
export type ResultAvailability = 'ready' | 'not-ready' | 'expired';

export function resultAvailability(job: Job, now: Date = new Date()): ResultAvailability {
  if (job.status !== 'SUCCESS' || !job.queryId) return 'not-ready';
  if (job.resultExpiresAt && job.resultExpiresAt.getTime() <= now.getTime()) return 'expired';
  return 'ready';
}
