import type { Clock } from '../core/clock.ts';
import type { Job, JobProgress } from '../core/job.ts';
import type { QueryState } from '../core/results.ts';
import { canTransition, isTerminal, type JobStatus } from '../core/status.ts';
import type { JobPatch, JobStore } from '../store/job-store.ts';
import type { TransitionWriter } from './transitions.ts';

/**
 * What to do with a job, given what the warehouse says of its query: one step at a time. A
 * `progress` step is a write of `Job.progress` and a PROGRESS event: no transition, `sequence` unchanged.
 */
export type StateStep =
  | { kind: 'transition'; to: JobStatus; patch: JobPatch; at?: Date }
  | { kind: 'progress'; progress: JobProgress | null };

/**
 * The next step that brings `job` in line with `state`, or null when it already is. Pure.
 *
 * - A query that ran and ended between two polls still shows RUNNING first, at its real start, so
 *   every job that ran reads `QUEUED → RUNNING → end` with true times.
 * - ABORTING holds until the warehouse reports an end.
 * - An end brings its time (the warehouse's, or `now`), error and DML counts, and a SUCCESS the
 *   time its result expires; a start time reported with the end replaces the one noticed.
 * - A change of progress alone is a `progress` step, not a transition. A terminal job takes none:
 *   its progress is the one its end wrote.
 */
export function nextStep(job: Job, state: QueryState, resultTtlMs: number, now: Date): StateStep | null {
  if (isTerminal(job.status)) return null;
  const firstSeenRunning = state.startedAt !== null && job.startedAt === null;
  const patch: JobPatch = { ...(firstSeenRunning && state.startedAt ? { startedAt: state.startedAt } : {}), progress: state.progress };
  if (firstSeenRunning && state.startedAt && isTerminal(state.status) && canTransition(job.status, 'RUNNING') && job.status !== 'ABORTING') {
    return { kind: 'transition', to: 'RUNNING', patch, at: state.startedAt };
  }
  const target: JobStatus = job.status === 'ABORTING' && !isTerminal(state.status) ? 'ABORTING' : state.status;
  if (target !== job.status) {
    if (!isTerminal(target)) return { kind: 'transition', to: target, patch };
    const end = endPatch(job, target, state, resultTtlMs, now);
    // A cancel that gave its reason (the unwatched-job cancel) keeps it over the warehouse's "cancelled".
    if (target === 'ABORTED' && job.status === 'ABORTING' && job.error) end.error = job.error;
    return { kind: 'transition', to: target, patch: { ...patch, ...end } };
  }
  if (!sameProgress(state.progress, job.progress)) return { kind: 'progress', progress: state.progress };
  return null;
}

function sameProgress(a: JobProgress | null, b: JobProgress | null): boolean {
  if (a === null || b === null) return a === b;
  return a.percentage === b.percentage && a.rowsProcessed === b.rowsProcessed && a.totalRowsToProcess === b.totalRowsToProcess;
}

/**
 * How often one job's progress may be written and published: PROGRESS_WRITES_PER_SECOND on
 * average, in bursts of at most PROGRESS_BURST (so a report that arrives a little early after the
 * last write is not dropped): a token bucket per job. Subscribers get about 4 PROGRESS events a
 * second per job at most, whatever the warehouse reports. A report over budget is not written; the job's next check
 * writes whatever the warehouse says then (the DuckDB engine reports at most 4 a second, so it is
 * never over).
 */
export const PROGRESS_WRITES_PER_SECOND = 4;
export const PROGRESS_BURST = 2;

export interface ProgressBudget {
  tokens: number;
  /** When `tokens` was computed, in ms since the epoch. */
  at: number;
}

/** Pure: whether a progress write may happen at `nowMs`, and the budget after it. */
export function takeProgressWrite(
  budget: ProgressBudget | undefined,
  nowMs: number,
  perSecond: number = PROGRESS_WRITES_PER_SECOND,
): { allowed: boolean; budget: ProgressBudget } {
  if (perSecond <= 0) return { allowed: false, budget: { tokens: 0, at: nowMs } };
  const refilled = budget
    ? Math.min(PROGRESS_BURST, budget.tokens + (Math.max(0, nowMs - budget.at) / 1000) * perSecond)
    : PROGRESS_BURST;
  if (refilled < 1) return { allowed: false, budget: { tokens: refilled, at: nowMs } };
  return { allowed: true, budget: { tokens: refilled - 1, at: nowMs } };
}

/** Budgets of jobs not written for this long are full again: they are dropped when many are kept. */
const BUDGET_IDLE_MS = 10_000;
const BUDGETS_KEPT = 1_000;

function endPatch(job: Job, status: JobStatus, state: QueryState, resultTtlMs: number, now: Date): JobPatch {
  const endedAt = state.endedAt ?? now;
  // The warehouse's own start, known at the end (Snowflake's query history), corrects the one noticed.
  const start = state.startedAt;
  const correctsStart = job.startedAt !== null && start !== null && start.getTime() !== job.startedAt.getTime();
  return {
    ...(correctsStart ? { startedAt: start } : {}),
    endedAt,
    error: state.error,
    dml: state.dml,
    ...(status === 'SUCCESS' ? { resultExpiresAt: new Date(endedAt.getTime() + resultTtlMs) } : {}),
  };
}

/** At most this many steps per report: RUNNING first, then the end. */
const MAX_STEPS = 2;

/**
 * The poller's callback: turns what the warehouse said of one job into transitions (through the
 * one writer) and updates. Resolves true when the job needs no more checks.
 */
export class WarehouseStates {
  readonly #store: JobStore;
  readonly #writer: TransitionWriter;
  readonly #clock: Clock;
  readonly #resultTtlMs: number;
  readonly #forgetsOnRestart: boolean;
  /** Per job with progress written lately; gone once the job ends. */
  readonly #progressBudgets = new Map<string, ProgressBudget>();

  readonly #progressPerSecond: number;

  constructor(deps: {
    store: JobStore;
    writer: TransitionWriter;
    clock: Clock;
    resultTtlMs: number;
    forgetsOnRestart: boolean;
    /** PROGRESS writes and events per job and second (0: none while running; a job's end still has its progress). */
    progressPerSecond?: number;
  }) {
    this.#progressPerSecond = deps.progressPerSecond ?? PROGRESS_WRITES_PER_SECOND;
    this.#store = deps.store;
    this.#writer = deps.writer;
    this.#clock = deps.clock;
    this.#resultTtlMs = deps.resultTtlMs;
    this.#forgetsOnRestart = deps.forgetsOnRestart;
  }

  async apply(jobId: string, state: QueryState | undefined): Promise<boolean> {
    const finished = await this.#apply(jobId, state);
    if (finished) this.#progressBudgets.delete(jobId);
    return finished;
  }

  async #apply(jobId: string, state: QueryState | undefined): Promise<boolean> {
    let job = await this.#store.get(jobId);
    if (!job || isTerminal(job.status)) return true;
    if (!state) {
      // Not known to the warehouse: a query the embedded engine lost with its process; Snowflake
      // may just not list it yet.
      if (!this.#forgetsOnRestart) return false;
      await this.#writer.interrupt(
        job,
        'The server restarted while this job was running; the embedded warehouse does not keep running queries across restarts',
      );
      return true;
    }
    for (let steps = 0; steps < MAX_STEPS; steps++) {
      const step = nextStep(job, state, this.#resultTtlMs, this.#clock.now());
      if (!step) break;
      if (step.kind === 'progress') {
        if (this.#mayWriteProgress(job.id)) {
          const updated = await this.#store.update(job.id, { progress: step.progress });
          // Not when the job moved on meanwhile (its transition's event says where it is now).
          if (updated && updated.sequence === job.sequence) this.#writer.publishUpdate(updated, 'PROGRESS');
          job = updated ?? job;
        }
        break;
      }
      const before = job.sequence;
      job = await this.#writer.apply(job, step.to, step.patch, step.at);
      if (job.sequence === before) break; // not applied (the table said no): nothing more to do now
    }
    return isTerminal(job.status);
  }

  #mayWriteProgress(jobId: string): boolean {
    const now = this.#clock.now().getTime();
    const { allowed, budget } = takeProgressWrite(this.#progressBudgets.get(jobId), now, this.#progressPerSecond);
    this.#progressBudgets.set(jobId, budget);
    if (this.#progressBudgets.size > BUDGETS_KEPT) {
      // Jobs this instance stopped polling without seeing their end (another took them over).
      for (const [id, kept] of this.#progressBudgets) if (now - kept.at > BUDGET_IDLE_MS) this.#progressBudgets.delete(id);
    }
    return allowed;
  }
}
