import type { JsonValue } from '../core/job.ts';
import type { Download, DownloadFormat, QueryState, ResultPage } from '../core/results.ts';

/**
 * The port every warehouse adapter implements. A query is reached as the identity it runs as: an
 * adapter that has several (Snowflake's, by principal) finds a query's from its job, through the
 * `runAsOf` lookup it is opened with (warehouses/open-warehouse.ts). Only plain data crosses it
 * (ids, SQL text, JSON values, column metadata), so an adapter can live in another process and no
 * driver type leaks.
 */
export interface SubmitRequest {
  jobId: string;
  /** The principal the job runs for: the embedded warehouse runs its SQL in that principal's database. */
  owner: string;
  /** The identity it runs as (Job.runAs; Snowflake: a named connection); null for the warehouse's own. */
  runAs: string | null;
  /** The job's statements, already split (see jobs/sql-statements.ts). */
  statements: string[];
  bindings: JsonValue[];
  timeoutSeconds: number;
  tag: string | null;
}

export interface Warehouse {
  readonly name: string;
  /** Hands the query to the engine and returns the engine's query id (Snowflake's UUID format). */
  submit(request: SubmitRequest): Promise<string>;
  /**
   * The state of each query id asked for; an id the warehouse does not know is left out (Snowflake,
   * whose monitoring can lag a fresh query, reports one it has missed 24 times in a row as ended).
   */
  status(queryIds: readonly string[]): Promise<Map<string, QueryState>>;
  /**
   * How many queries one call to the warehouse answers, for the status-check budget: 1 where each
   * is asked on its own (Snowflake's monitoring endpoint, the default), more where one statement
   * answers many (Snowflake's status from query history).
   */
  readonly statusBatchSize?: number;
  /**
   * A query started elsewhere, for attachQuery: null when the warehouse does not know the id;
   * `queryText` null when its text is not visible to jobql's role.
   */
  describe(queryId: string, runAs?: string | null): Promise<{ queryText: string | null } | null>;
  /**
   * Asks the engine to stop a job's query; the outcome is reported through `status`. Without a
   * query id (its submit has not returned yet) the adapter stops what it can find by job id.
   */
  cancel(jobId: string, queryId: string | null): Promise<void>;
  /** A page of a finished query's result, or null when the warehouse holds no result for it. */
  readResult(queryId: string, offset: number, limit: number): Promise<ResultPage | null>;
  /** A finished query's whole result in one format, streamed; null when there is none. */
  downloadResult(queryId: string, format: DownloadFormat): Promise<Download | null>;
  /** Frees an expired result's storage (a no-op where the warehouse expires results itself). */
  deleteResult(queryId: string): Promise<void>;
  /**
   * Calls `listener` when the adapter learns that a query changed state, so that the poller asks at
   * once instead of at its next tick. Returns the function that removes the listener.
   */
  onChange(listener: (queryId: string) => void): () => void;
  /** Whether a query the warehouse has forgotten (after a restart) is lost for good. */
  readonly forgetsOnRestart: boolean;
  /**
   * Whether submitting the same job again cannot run it twice (Snowflake deduplicates by request
   * id), so a job whose submit was cut off by a restart may be submitted again.
   */
  readonly idempotentSubmit: boolean;
  close(): Promise<void>;
}
