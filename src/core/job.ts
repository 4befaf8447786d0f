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
}

/** One transition of one job, as published to subscribers. */
export interface JobStatusEvent {
  job: Job;
  status: JobStatus;
  previousStatus: JobStatus | null;
  sequence: number;
  at: Date;
}

export function eventOf(job: Job): JobStatusEvent {
  return {
    job,
    status: job.status,
    previousStatus: job.previousStatus,
    sequence: job.sequence,
    at: job.statusChangedAt,
  };
}
