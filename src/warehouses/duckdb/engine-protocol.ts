/**
 * The messages between the API process (engine-warehouse.ts) and the engine process
 * (engine-process.ts), over the IPC channel of `child_process.fork` with `serialization:
 * 'advanced'` (structured clone: the Dates of a QueryState arrive as Dates). Only plain data.
 */
import type { ResultCaps } from './parquet-result-store.ts';
import { JobErrors } from '../../core/errors.ts';
import type { SubmitRequest } from '../warehouse.ts';
import type { QueryState } from '../../core/results.ts';
import type { DuckDBHardening } from './hardened-instance.ts';
import type { TenantLayout } from './tenants.ts';

/** What the engine opens: each principal's database, hardened, and the writer side of its results. */
export interface EngineOptions {
  /**
   * The settings of every tenant's instance. `allowedDirs` are the operator's data directories
   * (readable by every principal); each tenant's own results directory is added to them.
   */
  hardening: Omit<DuckDBHardening, 'path'>;
  layout: TenantLayout;
  caps: ResultCaps;
  /** At most this many principals' databases open at once (tenant-engines.ts). */
  maxOpenDatabases: number;
  /** A database with no job for this long is closed. */
  idleCloseMs: number;
  /** Principals whose database is opened at start: open mode's, so a locked file stops the start. */
  openAtStart: string[];
}

/** API process → engine. Every request but `open` is answered by one `reply` with its `id`. */
export type EngineRequest =
  | { type: 'open'; options: EngineOptions }
  | { type: 'submit'; id: number; queryId: string; request: SubmitRequest }
  | { type: 'cancel'; id: number; queryId: string }
  | { type: 'close'; id: number };

/** Engine → API process. */
export type EngineMessage =
  /** The instance is open and the stray results of a previous engine are gone. */
  | { type: 'ready' }
  /** The instance could not be opened (a locked or corrupt file, a bad setting). */
  | { type: 'start-failed'; message: string }
  | { type: 'reply'; id: number; error: string | null }
  /**
   * A query changed state; sent in order, so the last one received is the query's state. A change
   * of its progress alone is one too (`state.progress`; at most every PROGRESS_SAMPLE_MS while a
   * statement executes, only when the reading changed).
   */
  | { type: 'state'; queryId: string; state: QueryState }
  /**
   * DuckDB invalidated the instance (`queryId` hit the error; its state was sent first). Nothing
   * more this engine says can be trusted; the API process replaces it.
   */
  | { type: 'poisoned'; queryId: string; message: string };

export function isEngineMessage(value: unknown): value is EngineMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

export function isEngineRequest(value: unknown): value is EngineRequest {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

/** Why a query was stopped on request. */
export type StopReason = 'cancel' | 'timeout';

/**
 * How a query stopped on request ends: the same whether the engine interrupted it or its process
 * had to be killed under it.
 */
export function stoppedState(reason: StopReason): Pick<QueryState, 'status' | 'error'> {
  return reason === 'cancel'
    ? { status: 'ABORTED', error: JobErrors.cancelled() }
    : { status: 'FAILED_WITH_ERROR', error: JobErrors.timedOut() };
}
