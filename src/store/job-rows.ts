/**
 * The jobs table as both stores lay it out (sqlite-job-store.ts, postgres-job-store.ts): a row to
 * a Job, a patch to column assignments, a new job to the insert's values, and the terminal
 * statuses as SQL. Each store only says how its driver holds a time (SQLite: epoch milliseconds;
 * PostgreSQL: timestamptz, a Date) and how it numbers parameters.
 */
import type { Job, JsonValue } from '../core/job.ts';
import { type JobStatus, TERMINAL_STATUSES } from '../core/status.ts';
import type { JobPage, JobPatch, NewJob } from './job-store.ts';

/** A jobs row as the driver returns it; `T` is how it holds a time. */
export interface JobRow<T> {
  /** PostgreSQL's bigint comes back as a string. */
  seq: number | string;
  id: string;
  query_id: string | null;
  query_text: string;
  bindings: string;
  tag: string | null;
  timeout_seconds: number | null;
  statement_count: number;
  status: string;
  previous_status: string | null;
  sequence: number;
  status_changed_at: T;
  submitted_at: T;
  dispatched_at: T | null;
  started_at: T | null;
  ended_at: T | null;
  error: string | null;
  progress: string | null;
  dml: string | null;
  result_expires_at: T | null;
  owner: string;
  idempotency_key: string | null;
}

/** How a store's driver reads and writes a time. */
export interface TimeColumns<T> {
  read(value: T): Date;
  write(value: Date): T;
}

const json = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

export function jobFromRow<T>(r: JobRow<T>, time: TimeColumns<T>): Job {
  const date = (value: T | null): Date | null => (value === null ? null : time.read(value));
  return {
    id: r.id,
    seq: Number(r.seq),
    queryId: r.query_id,
    queryText: r.query_text,
    bindings: JSON.parse(r.bindings) as JsonValue[],
    tag: r.tag,
    timeoutSeconds: r.timeout_seconds,
    statementCount: r.statement_count,
    status: r.status as JobStatus,
    previousStatus: r.previous_status as JobStatus | null,
    sequence: r.sequence,
    statusChangedAt: time.read(r.status_changed_at),
    submittedAt: time.read(r.submitted_at),
    dispatchedAt: date(r.dispatched_at),
    startedAt: date(r.started_at),
    endedAt: date(r.ended_at),
    error: json(r.error),
    progress: json(r.progress),
    dml: json(r.dml),
    resultExpiresAt: date(r.result_expires_at),
    owner: r.owner,
    idempotencyKey: r.idempotency_key,
  };
}

/** The columns a patch sets, with their values, in a fixed order; undefined fields are left alone. */
export function patchAssignments<T>(patch: JobPatch, time: TimeColumns<T>): [column: string, value: string | T | null][] {
  const sets: [string, string | T | null][] = [];
  if (patch.queryId !== undefined) sets.push(['query_id', patch.queryId]);
  if (patch.dispatchedAt !== undefined) sets.push(['dispatched_at', time.write(patch.dispatchedAt)]);
  if (patch.startedAt !== undefined) sets.push(['started_at', time.write(patch.startedAt)]);
  if (patch.endedAt !== undefined) sets.push(['ended_at', time.write(patch.endedAt)]);
  if (patch.error !== undefined) sets.push(['error', patch.error && JSON.stringify(patch.error)]);
  if (patch.progress !== undefined) sets.push(['progress', patch.progress && JSON.stringify(patch.progress)]);
  if (patch.dml !== undefined) sets.push(['dml', patch.dml && JSON.stringify(patch.dml)]);
  if (patch.resultExpiresAt !== undefined) sets.push(['result_expires_at', time.write(patch.resultExpiresAt)]);
  return sets;
}

/**
 * The insert of a new job, QUEUED at sequence 1, or nothing when the owner already has a job with
 * its idempotency key. `$n` are the values of `newJobValues`, numbered from 1; SQLite's numbered
 * `?NNN` parameters take the same text once `$` is replaced.
 */
export const INSERT_JOB = `INSERT INTO jobs (id, owner, idempotency_key, query_text, bindings, tag, timeout_seconds, statement_count,
                         status, previous_status, sequence, status_changed_at, submitted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'QUEUED', NULL, 1, $9, $9)
       ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING *`;

export function newJobValues<T>(job: NewJob, time: TimeColumns<T>): (string | number | null | T)[] {
  return [
    job.id,
    job.owner,
    job.idempotencyKey,
    job.queryText,
    JSON.stringify(job.bindings),
    job.tag,
    job.timeoutSeconds,
    job.statementCount,
    time.write(job.submittedAt),
  ];
}

/**
 * The terminal statuses as an SQL list (`'SUCCESS', ...`), from core/status.ts. PostgreSQL's
 * jobs_leasable index is declared with this same text, so the lease scan's predicate matches it.
 */
export const TERMINAL_SQL_LIST = [...TERMINAL_STATUSES].map((s) => `'${s}'`).join(', ');

/** A page of `list`, from the `first + 1` rows the query fetched (the extra one says a next page exists). */
export function pageOf(rows: Job[], first: number): JobPage {
  return { jobs: rows.slice(0, first), hasNextPage: rows.length > first };
}
