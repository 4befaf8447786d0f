/**
 * The job state machine: Snowflake's QueryStatus names, Snowpark's isDone/isFailed, and the one
 * table of legal transitions. `applyTransition` in job-service.ts is the only writer of a status.
 *
 *   QUEUED ──► RUNNING ──► SUCCESS | FAILED_WITH_ERROR | FAILED_WITH_INCIDENT
 *     │  ▲        │
 *     │  └────────┤  (a warehouse may report QUEUED, BLOCKED, RESUMING_WAREHOUSE, ... in between)
 *     ▼           ▼
 *   ABORTING ──► ABORTED        (cancelJob always passes through ABORTING)
 *
 * Every non-terminal state may move to any terminal state, because a poll can miss the states a
 * fast query passed through. A terminal state never changes.
 */
export const JOB_STATUSES = [
  'RUNNING',
  'ABORTING',
  'SUCCESS',
  'FAILED_WITH_ERROR',
  'ABORTED',
  'QUEUED',
  'FAILED_WITH_INCIDENT',
  'DISCONNECTED',
  'RESUMING_WAREHOUSE',
  'QUEUED_REPARING_WAREHOUSE',
  'RESTARTED',
  'BLOCKED',
  'NO_DATA',
] as const;

export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set([
  'SUCCESS',
  'FAILED_WITH_ERROR',
  'FAILED_WITH_INCIDENT',
  'ABORTED',
  'DISCONNECTED',
]);

/**
 * The connector's `is_still_running` (snowflake-connector-python, which Snowpark's
 * `AsyncJob.is_done()` negates). It leaves out RESTARTED, so Snowpark calls a restarted query done;
 * jobql keeps that meaning in `isDone` and offers `isTerminal` for "will not change again".
 */
const STILL_RUNNING: ReadonlySet<JobStatus> = new Set([
  'RUNNING',
  'QUEUED',
  'RESUMING_WAREHOUSE',
  'QUEUED_REPARING_WAREHOUSE',
  'BLOCKED',
  'NO_DATA',
]);

/** The connector's `is_an_error`, behind Snowpark's `AsyncJob.is_failed()`. */
const ERROR_STATUSES: ReadonlySet<JobStatus> = new Set([
  'ABORTING',
  'FAILED_WITH_ERROR',
  'ABORTED',
  'FAILED_WITH_INCIDENT',
  'DISCONNECTED',
]);

const WAITING: readonly JobStatus[] = [
  'QUEUED',
  'RUNNING',
  'RESUMING_WAREHOUSE',
  'QUEUED_REPARING_WAREHOUSE',
  'RESTARTED',
  'BLOCKED',
  'NO_DATA',
];
const ENDINGS: readonly JobStatus[] = [...TERMINAL_STATUSES];

/** The legal transitions: from each status, the statuses it may move to. */
export const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  QUEUED: [...WAITING, 'ABORTING', ...ENDINGS],
  RUNNING: [...WAITING, 'ABORTING', ...ENDINGS],
  RESUMING_WAREHOUSE: [...WAITING, 'ABORTING', ...ENDINGS],
  QUEUED_REPARING_WAREHOUSE: [...WAITING, 'ABORTING', ...ENDINGS],
  RESTARTED: [...WAITING, 'ABORTING', ...ENDINGS],
  BLOCKED: [...WAITING, 'ABORTING', ...ENDINGS],
  NO_DATA: [...WAITING, 'ABORTING', ...ENDINGS],
  // A cancel can lose the race against the query's own end, so every ending stays possible.
  ABORTING: ENDINGS,
  SUCCESS: [],
  FAILED_WITH_ERROR: [],
  FAILED_WITH_INCIDENT: [],
  ABORTED: [],
  DISCONNECTED: [],
};

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export function isDone(status: JobStatus): boolean {
  return !STILL_RUNNING.has(status);
}

export function isFailed(status: JobStatus): boolean {
  return ERROR_STATUSES.has(status);
}

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return from !== to && TRANSITIONS[from].includes(to);
}
