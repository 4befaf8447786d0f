import type { Clock } from '../core/clock.ts';
import type { Job } from '../core/job.ts';
import type { QueryState } from '../core/results.ts';
import { canTransition, isTerminal, type JobStatus } from '../core/status.ts';
import type { JobPatch, JobStore } from '../store/job-store.ts';
import type { TransitionWriter } from './transitions.ts';

/** What to do with a job, given what the warehouse says of its query: one step at a time. */
export type StateStep =
  | { kind: 'transition'; to: JobStatus; patch: JobPatch; at?: Date }
  | { kind: 'update'; patch: JobPatch };

/**
 * The next step that brings `job` in line with `state`, or null when it already is. Pure.
 *
 * - A query that ran and ended between two polls still shows RUNNING first, at its real start, so
 *   every job that ran reads `QUEUED → RUNNING → end` with true times.
 * - ABORTING holds until the warehouse reports an end.
 * - An end brings its time (the warehouse's, or `now`), error and DML counts, and a SUCCESS the
 *   time its result expires.
 * - A change of progress alone is an update, not a transition.
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
    return { kind: 'transition', to: target, patch: isTerminal(target) ? { ...patch, ...endPatch(target, state, resultTtlMs, now) } : patch };
  }
  if (JSON.stringify(state.progress) !== JSON.stringify(job.progress)) return { kind: 'update', patch };
  return null;
}

function endPatch(status: JobStatus, state: QueryState, resultTtlMs: number, now: Date): JobPatch {
  const endedAt = state.endedAt ?? now;
  return {
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

  constructor(deps: { store: JobStore; writer: TransitionWriter; clock: Clock; resultTtlMs: number; forgetsOnRestart: boolean }) {
    this.#store = deps.store;
    this.#writer = deps.writer;
    this.#clock = deps.clock;
    this.#resultTtlMs = deps.resultTtlMs;
    this.#forgetsOnRestart = deps.forgetsOnRestart;
  }

  async apply(jobId: string, state: QueryState | undefined): Promise<boolean> {
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
      if (step.kind === 'update') {
        job = (await this.#store.update(job.id, step.patch)) ?? job;
        break;
      }
      const before = job.sequence;
      job = await this.#writer.apply(job, step.to, step.patch, step.at);
      if (job.sequence === before) break; // not applied (the table said no): nothing more to do now
    }
    return isTerminal(job.status);
  }
}
