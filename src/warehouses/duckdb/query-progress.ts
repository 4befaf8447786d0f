/**
 * A running query's progress, as the engine reads it from DuckDB (`DuckDBConnection.progress`)
 * and reports it in the query's state. Pure; measured on DuckDB 1.5.6 (docs/ARCHITECTURE.md,
 * "Progress").
 */
import type { JobProgress } from '../../core/job.ts';

/** What `DuckDBConnection.progress` returns (duckdb_query_progress). */
export interface DuckDBQueryProgress {
  percentage: number;
  rows_processed: bigint;
  total_rows_to_process: bigint;
}

/** DuckDB cannot tell how far the query is: every field null, never 0. */
export const UNKNOWN_PROGRESS: JobProgress = Object.freeze({ percentage: null, rowsProcessed: null, totalRowsToProcess: null });

/**
 * DuckDB's reading as a job's progress.
 *
 * - `percentage < 0` (-1): no estimate. DuckDB says so for a source without a progress callback
 *   (`range()`, `unnest`, most table functions) and when no statement is running.
 * - `0%` with no row processed: nothing measured yet. DuckDB also freezes a query at exactly that
 *   when its first reading came before its source could report and a later one could not (seen with
 *   `select sum(range) from range(n)`), so it is "unknown" too, not 0.
 * - Otherwise the percentage (to one decimal, at most 100) and DuckDB's row counts. Those are
 *   DuckDB's own units: the sources' estimated cardinalities (a filtered scan counts its estimate,
 *   not the table's rows), which `rowsProcessed` advances through in proportion.
 */
export function progressOf(reading: DuckDBQueryProgress): JobProgress {
  const { percentage } = reading;
  if (!Number.isFinite(percentage) || percentage < 0) return UNKNOWN_PROGRESS;
  if (percentage === 0 && reading.rows_processed === 0n) return UNKNOWN_PROGRESS;
  const total = Number(reading.total_rows_to_process);
  return {
    percentage: Math.min(100, Math.round(percentage * 10) / 10),
    rowsProcessed: Number(reading.rows_processed),
    totalRowsToProcess: total > 0 ? total : null,
  };
}

/**
 * The progress a query that succeeded ends with: 100%, its row count the total where DuckDB gave
 * one. A query never sampled (it ended within one sampling interval) keeps none.
 */
export function completedProgress(last: JobProgress | null): JobProgress | null {
  if (!last) return null;
  const rows = last.totalRowsToProcess ?? last.rowsProcessed;
  return { percentage: 100, rowsProcessed: rows, totalRowsToProcess: last.totalRowsToProcess };
}

export function sameProgress(a: JobProgress | null, b: JobProgress | null): boolean {
  if (a === null || b === null) return a === b;
  return a.percentage === b.percentage && a.rowsProcessed === b.rowsProcessed && a.totalRowsToProcess === b.totalRowsToProcess;
}
