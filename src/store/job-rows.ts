/**
 * The jobs table as both stores lay it out (sqlite-job-store.ts, postgres-job-store.ts): a row to
 * a Job, a patch to column assignments, a new job to the insert's values, and the terminal
 * statuses as SQL. Each store only says how its driver holds a time (SQLite: epoch milliseconds;
 * PostgreSQL: timestamptz, a Date) and how it numbers parameters.
 */
import type { Job, JobNotification, JobStatusEvent, JsonValue } from '../core/job.ts';
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
  cancel_if_unwatched_seconds: number | null;
  /** JSON of a JobNotification, times as ISO 8601 text. */
  notification: string | null;
  /** The warehouse identity the job runs as (Job.runAs); absent in rows of earlier versions. */
  run_as?: string | null;
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
    cancelIfUnwatchedSeconds: r.cancel_if_unwatched_seconds ?? null,
    notification: notificationFromColumn(r.notification ?? null),
    runAs: r.run_as ?? null,
  };
}

function notificationFromColumn(text: string | null): JobNotification | null {
  const stored = json<Omit<JobNotification, 'firstAttemptAt' | 'deliveredAt'> & { firstAttemptAt: string | null; deliveredAt: string | null }>(text);
  if (!stored) return null;
  return {
    ...stored,
    firstAttemptAt: stored.firstAttemptAt === null ? null : new Date(stored.firstAttemptAt),
    deliveredAt: stored.deliveredAt === null ? null : new Date(stored.deliveredAt),
  };
}

/** A notification as its column holds it (JSON turns its Dates into ISO 8601 text). */
export function notificationColumn(notification: JobNotification | null): string | null {
  return notification && JSON.stringify(notification);
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
  if (patch.notification !== undefined) sets.push(['notification', notificationColumn(patch.notification)]);
  return sets;
}

/**
 * The insert of a new job, QUEUED at sequence 1, or nothing when the owner already has a job with
 * its idempotency key. `$n` are the values of `newJobValues`, numbered from 1; SQLite's numbered
 * `?NNN` parameters take the same text once `$` is replaced.
 */
export const INSERT_JOB = `INSERT INTO jobs (id, owner, idempotency_key, query_text, bindings, tag, timeout_seconds, statement_count,
                         status, previous_status, sequence, status_changed_at, submitted_at, cancel_if_unwatched_seconds, notification, run_as)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'QUEUED', NULL, 1, $9, $9, $10, $11, $12)
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
    job.cancelIfUnwatchedSeconds ?? null,
    notificationColumn(
      job.notifyUrl == null
        ? null
        : { url: job.notifyUrl, attempts: 0, firstAttemptAt: null, deliveredAt: null, lastError: null, gaveUp: false },
    ),
    job.runAs ?? null,
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

/**
 * How many transitions of one job `job_transitions` keeps: the latest ones. A job has a handful
 * (QUEUED, RUNNING, an end; ABORTING on a cancel), but the waiting states may alternate for as
 * long as a warehouse reports them (RUNNING, BLOCKED, RUNNING, ...), so the history is bounded
 * rather than trusted to stay small. A subscriber resuming further back than this gets the oldest
 * kept transition next (its `sequence` shows the gap).
 */
export const TRANSITIONS_KEPT_PER_JOB = 100;

/** The columns a transition's snapshot leaves out: they never change (and the SQL may be long), so they are read from the job's row. */
type Unchanging = 'query_text' | 'bindings';

/** Every other column of a Job: the type makes this list complete when JobRow gains a column. */
const SNAPSHOT_FIELDS: Record<Exclude<keyof JobRow<unknown>, Unchanging>, true> = {
  seq: true,
  id: true,
  query_id: true,
  tag: true,
  timeout_seconds: true,
  statement_count: true,
  status: true,
  previous_status: true,
  sequence: true,
  status_changed_at: true,
  submitted_at: true,
  dispatched_at: true,
  started_at: true,
  ended_at: true,
  error: true,
  progress: true,
  dml: true,
  result_expires_at: true,
  owner: true,
  idempotency_key: true,
  cancel_if_unwatched_seconds: true,
  notification: true,
  run_as: true,
};

/**
 * The columns of a transition's snapshot (`job_transitions.snapshot`): the job's row right after
 * the transition, as a JSON object of these columns, times as the store writes them. SQLite builds
 * it from the row its UPDATE returned, PostgreSQL with `json_build_object` in the same statement.
 */
export const SNAPSHOT_COLUMNS = Object.keys(SNAPSHOT_FIELDS) as readonly Exclude<keyof JobRow<unknown>, Unchanging>[];

/** A job_transitions row joined with its job's unchanging columns, as the driver returns it. */
export interface TransitionRow<T> {
  sequence: number;
  status: string;
  previous_status: string | null;
  at: T;
  snapshot: string;
  query_text: string;
  bindings: string;
}

/**
 * The event of one stored transition: what `eventOf` made of the job when it was published.
 * `snapshotTime` reads the times inside the snapshot's JSON (SQLite: epoch milliseconds, as its
 * columns; PostgreSQL: json_build_object's ISO 8601 text).
 */
export function eventFromTransitionRow<T, S>(r: TransitionRow<T>, time: TimeColumns<T>, snapshotTime: TimeColumns<S>): JobStatusEvent {
  const snapshot = JSON.parse(r.snapshot) as Omit<JobRow<S>, Unchanging>;
  return {
    kind: 'TRANSITION',
    job: jobFromRow({ ...snapshot, query_text: r.query_text, bindings: r.bindings }, snapshotTime),
    status: r.status as JobStatus,
    previousStatus: r.previous_status as JobStatus | null,
    sequence: r.sequence,
    at: time.read(r.at),
  };
}

/** The history of one job after a sequence, oldest first; `$1` is the job id, `$2` the sequence. */
export const TRANSITIONS_AFTER = `SELECT t.sequence, t.status, t.previous_status, t.at, t.snapshot, j.query_text, j.bindings
       FROM job_transitions t JOIN jobs j ON j.id = t.job_id
       WHERE t.job_id = $1 AND t.sequence > $2
       ORDER BY t.sequence`;
