import type { JobError } from './errors.ts';
import type { JobStatus } from './status.ts';

export type { JobError };

/** A JSON value as it crosses the API: a binding or a result cell. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface DmlCounts {
  rowsInserted: number;
  rowsUpdated: number;
  rowsDeleted: number;
}

export interface JobProgress {
  percentage: number | null;
  rowsProcessed: number | null;
  totalRowsToProcess: number | null;
}

/** A job as the JobStore keeps it; the GraphQL `Job` type maps onto this. */
export interface Job {
  id: string;
  /** Monotonic insertion order; the `jobs` connection's cursor. */
  seq: number;
  queryId: string | null;
  queryText: string;
  bindings: JsonValue[];
  tag: string | null;
  timeoutSeconds: number | null;
  statementCount: number;
  status: JobStatus;
  previousStatus: JobStatus | null;
  /** Bumped by every transition; the first state (QUEUED) is 1. */
  sequence: number;
  statusChangedAt: Date;
  submittedAt: Date;
  /** When the job was handed to the warehouse; a job without it has certainly not run. */
  dispatchedAt: Date | null;
  startedAt: Date | null;
  endedAt: Date | null;
  error: JobError | null;
  progress: JobProgress | null;
  dml: DmlCounts | null;
  /** When a successful job's result stops being readable (RESULT_EXPIRED). */
  resultExpiresAt: Date | null;
  /** The principal that submitted (or attached) the job; never shown to other principals. */
  owner: string;
  idempotencyKey: string | null;
  /** Cancel the job once nobody has watched it for this long (jobs/unwatched-jobs.ts); null for never. */
  cancelIfUnwatchedSeconds: number | null;
  /** Where to POST the job's end (notifications/), and how that goes; null without a webhook. */
  notification: JobNotification | null;
  /**
   * The warehouse identity its SQL runs as (Principal.runAs, kept so that the poller, a restart and
   * other instances reach the query as the same identity); null for the warehouse's own.
   */
  runAs: string | null;
  /**
   * Where a waiting job stands in line, when whoever read the job worked it out (the dispatcher
   * does for the events it publishes); undefined when nobody did, null when the job is not waiting.
   * Never stored: a place in line changes with every other job.
   */
  queue?: QueuePlace | null;
}

/** A job's completion webhook and the record of its delivery. */
export interface JobNotification {
  url: string;
  attempts: number;
  /** When the first POST was made: retries stop a bounded time after it. */
  firstAttemptAt: Date | null;
  deliveredAt: Date | null;
  lastError: string | null;
  gaveUp: boolean;
}

/** Why a waiting job waits: every slot of the instance is busy, or its principal holds its share. */
export type QueueReason = 'INSTANCE_CONCURRENCY' | 'PRINCIPAL_LIMIT';

export interface QueuePlace {
  /** 1 for the job the dispatcher takes next. */
  position: number;
  reason: QueueReason;
}

/**
 * What an event tells: a TRANSITION (a new status, `sequence` one more than before), or a change
 * without one: PROGRESS (the running query's `progress`) or QUEUE_POSITION (a waiting job's place in
 * line). Those repeat the sequence of the transition they follow, are never stored in the job's
 * history, and are throttled at their source.
 */
export type JobEventKind = 'TRANSITION' | 'PROGRESS' | 'QUEUE_POSITION';

/** One transition of one job, or a change of its progress or place in line, as published to subscribers. */
export interface JobStatusEvent {
  kind: JobEventKind;
  job: Job;
  status: JobStatus;
  previousStatus: JobStatus | null;
  sequence: number;
  at: Date;
}

export function eventOf(job: Job): JobStatusEvent {
  return {
    kind: 'TRANSITION',
    job,
    status: job.status,
    previousStatus: job.previousStatus,
    sequence: job.sequence,
    at: job.statusChangedAt,
  };
}

/** A change of `job` that is not a transition, at `at`: its sequence stays the last transition's. */
export function updateEventOf(job: Job, kind: Exclude<JobEventKind, 'TRANSITION'>, at: Date): JobStatusEvent {
  return { kind, job, status: job.status, previousStatus: job.previousStatus, sequence: job.sequence, at };
}
