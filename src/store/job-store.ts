import type { DmlCounts, Job, JobError, JobNotification, JobProgress, JobStatusEvent, JsonValue } from '../core/job.ts';
import type { JobStatus } from '../core/status.ts';

export interface NewJob {
  id: string;
  /** The principal that submitted the job (see auth/principal.ts). */
  owner: string;
  idempotencyKey: string | null;
  queryText: string;
  bindings: JsonValue[];
  tag: string | null;
  timeoutSeconds: number | null;
  statementCount: number;
  submittedAt: Date;
  /** Null (or left out) for none. */
  cancelIfUnwatchedSeconds?: number | null;
  /** The webhook's URL (null or left out for none); the job starts with a notification of no attempts. */
  notifyUrl?: string | null;
  /** The warehouse identity it runs as (Principal.runAs); null or left out for the warehouse's own. */
  runAs?: string | null;
}

/** Fields that change without being a transition, or together with one. */
export interface JobPatch {
  queryId?: string;
  dispatchedAt?: Date;
  startedAt?: Date;
  endedAt?: Date;
  error?: JobError | null;
  progress?: JobProgress | null;
  dml?: DmlCounts | null;
  resultExpiresAt?: Date;
  notification?: JobNotification;
}

export interface JobFilter {
  /** Only this principal's jobs; unset for an admin, who sees all. */
  owner?: string;
  status?: readonly JobStatus[];
  tag?: string;
  submittedAfter?: Date;
  submittedBefore?: Date;
}

/**
 * The right to poll a job: held by one server instance (`holder`) until `until`, renewed while the
 * instance lives. Another instance takes a job over once its lease has run out.
 */
export interface Lease {
  holder: string;
  until: Date;
}

export interface JobPage {
  jobs: Job[];
  hasNextPage: boolean;
}

/**
 * Where jobs live. Every method is async so that a networked store (PostgreSQL) fits the same port.
 * `transition` is a compare-and-set on the job's `sequence`: a poll racing a cancel cannot both win.
 */
export interface JobStore {
  /**
   * Records a new job, or, when the owner already has a job with the same idempotency key, returns
   * that one (atomically: two racing submissions with one key make one job).
   */
  insert(job: NewJob): Promise<Job>;
  findByIdempotencyKey(owner: string, key: string): Promise<Job | null>;
  /** Frees the keys of jobs submitted before the idempotency window. */
  forgetIdempotencyKeys(submittedBefore: Date): Promise<void>;
  /** The owner's jobs not yet terminal (queued and running). */
  countActive(owner: string): Promise<number>;
  get(id: string): Promise<Job | null>;
  /** The (first) job of a warehouse query id. */
  findByQueryId(queryId: string): Promise<Job | null>;
  /** Newest first; `beforeSeq` is the cursor of the last job of the previous page. */
  list(filter: JobFilter, first: number, beforeSeq: number | null): Promise<JobPage>;
  /**
   * Moves the job to `to` if its sequence is still `expectedSequence`; null when it moved on.
   * The winner's transition is recorded in the job's history (see `transitionsAfter`) atomically
   * with the change; a loser records nothing.
   */
  transition(id: string, expectedSequence: number, to: JobStatus, at: Date, patch: JobPatch): Promise<Job | null>;
  /**
   * The job's recorded transitions with a sequence above `sequence`, oldest first, each as the
   * event it was published as (its job as it was right after the transition). `insert` records
   * the first (QUEUED, sequence 1) and every winning `transition` one more, each atomically with
   * the change, so the history never lags the job; `update`, `claim` and the lease methods change
   * no status and record nothing. The latest TRANSITIONS_KEPT_PER_JOB (job-rows.ts) of a job are
   * kept. A job from before the history was kept (SQLite migration 6, PostgreSQL 2) lacks the
   * transitions it made until then. Empty for an unknown job.
   */
  transitionsAfter(jobId: string, sequence: number): Promise<JobStatusEvent[]>;
  /**
   * Records that someone watched these jobs at `at` (a subscriber, a read, a download): the clock
   * of the unwatched-job cancel. Terminal jobs are left alone.
   */
  touch(ids: readonly string[], at: Date): Promise<void>;
  /**
   * Jobs not yet terminal whose `cancelIfUnwatchedSeconds` have passed at `now` since they were
   * last watched (or submitted, when never), oldest first.
   */
  listUnwatched(now: Date, limit: number): Promise<Job[]>;
  /** Ended jobs, ended after `endedAfter`, whose webhook is neither delivered nor given up. */
  listUndelivered(endedAfter: Date, limit: number): Promise<Job[]>;
  /**
   * How many waiting jobs (QUEUED, not dispatched) come before the one with `seq` in the
   * dispatcher's order: older ones of `owner`, and older ones of every owner not in `skippedOwners`
   * (those the dispatcher passes over while they hold their share).
   */
  countWaitingBefore(seq: number, owner: string, skippedOwners: readonly string[]): Promise<number>;
  /** Changes fields without a transition (no history, no new sequence). */
  update(id: string, patch: JobPatch): Promise<Job | null>;
  /**
   * Marks a QUEUED job as handed to the warehouse, if no one did yet and it was not cancelled.
   * Null when the claim lost. Recorded before the warehouse sees the query: a job without
   * `dispatchedAt` has certainly not run, so it can be run after a restart.
   */
  claim(id: string, at: Date, lease: Lease): Promise<Job | null>;
  /**
   * Takes the polling lease of up to `limit` dispatched, unfinished jobs whose lease is free, has
   * run out by `now`, or is already `lease.holder`'s; oldest first. Atomic across instances: two
   * callers never both get one job.
   */
  acquireLeases(lease: Lease, now: Date, limit: number): Promise<Job[]>;
  /** Extends the holder's leases on these jobs; returns the ids it still holds (others were taken over). */
  renewLeases(ids: readonly string[], lease: Lease): Promise<string[]>;
  /** Gives up the holder's leases on these jobs, so that another instance takes them at once. */
  releaseLeases(holder: string, ids: readonly string[]): Promise<void>;
  /** How many jobs are in each status (statuses with none are left out); for metrics. */
  countByStatus(): Promise<Partial<Record<JobStatus, number>>>;
  /** Up to `limit` jobs whose result expired by `now` and is not yet marked deleted. */
  listExpiredResults(now: Date, limit: number): Promise<Job[]>;
  /** Records that these jobs' results are deleted (after the deletion, so a crash repeats it). */
  markResultsDeleted(ids: readonly string[]): Promise<void>;
  /** Jobs not yet in a terminal state, oldest first. */
  listUnfinished(): Promise<Job[]>;
  /** QUEUED jobs never handed to the warehouse, oldest first, skipping the owners given. */
  listWaiting(limit: number, excludeOwners?: readonly string[]): Promise<Job[]>;
  countWaiting(): Promise<number>;
  close(): Promise<void>;
}
