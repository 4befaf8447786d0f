import {
  type DuckDBConnection,
  type DuckDBInstance,
  type DuckDBPreparedStatement,
  type DuckDBResult,
  type DuckDBType,
  type DuckDBValue,
  StatementType,
} from '@duckdb/node-api';
import { JobErrorCode } from '../../core/errors.ts';
import type { DmlCounts, JobError, JobProgress, JsonValue } from '../../core/job.ts';
import { columnChunks, convertRows } from './json-values.ts';
import { quoteLiteral, type ResultCaps } from './parquet-result-store.ts';
import type { ParquetResultWriter } from './parquet-result-writer.ts';
import { addDmlCounts } from '../dml-counts.ts';
import type { SubmitRequest } from '../warehouse.ts';
import type { Column, QueryState } from '../../core/results.ts';
import { jobErrorFromDuckDB } from './duckdb-errors.ts';
import { type StopReason, stoppedState } from './engine-protocol.ts';
import { JOB_CONNECTION_SETUP } from './hardened-instance.ts';
import { completedProgress, progressOf, sameProgress } from './query-progress.ts';

/**
 * Statement kinds user SQL may run. The rest reach the host's files or the engine's setup (COPY,
 * EXPORT, ATTACH, INSTALL/LOAD, ...); the locked configuration blocks most of them already, but
 * not all: DuckDB lets SQL write into the database's own WAL file and into the allowed directories.
 * PREPARE and EXECUTE are out too: the check sees only the outer statement, so `PREPARE p AS COPY`
 * would smuggle a COPY past it (jobql's own bindings cover what PREPARE is for).
 */
const ALLOWED_STATEMENTS: ReadonlySet<StatementType> = new Set([
  StatementType.SELECT,
  StatementType.INSERT,
  StatementType.UPDATE,
  StatementType.DELETE,
  StatementType.MERGE_INTO,
  StatementType.EXPLAIN,
  StatementType.CREATE,
  StatementType.ALTER,
  StatementType.DROP,
  StatementType.TRANSACTION,
  StatementType.ANALYZE,
  StatementType.VARIABLE_SET,
  StatementType.CREATE_FUNC,
  StatementType.PRAGMA,
  StatementType.CALL,
  StatementType.SET,
  StatementType.VACUUM,
]);

interface Query {
  state: QueryState;
  connection: DuckDBConnection | null;
  /** Why the engine was interrupted, once it was. */
  stopReason: StopReason | null;
  /** Re-sends the interrupt until the run ends (see #stop). */
  stopTimer: NodeJS.Timeout | null;
}

class StatementError extends Error {
  readonly jobError: JobError;
  constructor(jobError: JobError) {
    super(jobError.message);
    this.jobError = jobError;
  }
}

/** How often an interrupt is sent again until the engine gives up the query. */
const INTERRUPT_RETRY_MS = 100;

/**
 * How often the progress of each executing statement is read. A reading is a copy of a few atomics
 * (no lock, no round trip); a changed one is sent as the query's state, so each query's progress
 * reaches the API process at most 4 times a second.
 */
export const PROGRESS_SAMPLE_MS = 250;

const MERGE_COUNT_COLUMNS: Column[] = [
  { name: 'number of rows inserted', type: 'BIGINT', nullable: false },
  { name: 'number of rows updated', type: 'BIGINT', nullable: false },
  { name: 'number of rows deleted', type: 'BIGINT', nullable: false },
];

/**
 * The embedded engine: a hardened DuckDB file in the process that runs it (the engine process,
 * engine-process.ts). It runs queries and reports each change of their state; the `Warehouse`
 * port (status for the poller, results, describe) is EngineWarehouse's, in the API process. Queries run on DuckDB's own
 * threads (off the event loop), each job on a fresh connection so no session state (temporary
 * tables, variables, an open transaction) leaks from one job to the next. A query's result goes
 * from the engine straight into a Parquet file (ParquetResultWriter); the job service bounds how
 * many jobs run at once. While a statement executes, its progress is read every PROGRESS_SAMPLE_MS
 * and a change is reported like any other change of the query's state.
 */
export class DuckDBEngine {
  readonly #instance: DuckDBInstance;
  readonly #results: ParquetResultWriter;
  readonly #caps: ResultCaps;
  readonly #queries = new Map<string, Query>();
  readonly #listeners = new Set<(queryId: string, state: QueryState) => void>();
  /** The queries with a statement executing right now: the ones whose progress is read. */
  readonly #executing = new Map<string, Query>();
  /** Armed only while a statement executes. */
  #sampler: NodeJS.Timeout | null = null;

  constructor(instance: DuckDBInstance, results: ParquetResultWriter, caps: ResultCaps) {
    this.#instance = instance;
    this.#results = results;
    this.#caps = caps;
  }

  /** Queries submitted and not yet ended: an engine with none may be closed. */
  get activeQueries(): number {
    return this.#queries.size;
  }

  /** `queryId` is given by the API process, which must know it before the engine reports on it. */
  submit(request: SubmitRequest, queryId: string): void {
    const query: Query = {
      state: { status: 'QUEUED', startedAt: null, endedAt: null, error: null, progress: null, dml: null },
      connection: null,
      stopReason: null,
      stopTimer: null,
    };
    this.#queries.set(queryId, query);
    void this.#run(queryId, query, request);
  }

  cancel(queryId: string): void {
    const query = this.#queries.get(queryId);
    if (query) this.#stop(query, 'cancel');
  }

  /**
   * Interrupts the query, and keeps interrupting every INTERRUPT_RETRY_MS until its run ends:
   * DuckDB drops an interrupt that arrives between two calls (say, while a statement is being
   * prepared), and the next call would then run to its end.
   */
  #stop(query: Query, reason: 'cancel' | 'timeout'): void {
    if (query.stopReason || query.state.endedAt) return;
    query.stopReason = reason;
    query.connection?.interrupt();
    query.stopTimer = setInterval(() => query.connection?.interrupt(), INTERRUPT_RETRY_MS);
  }

  /** Called with every change of a query's state, in order; the final one ends its reports. */
  onChange(listener: (queryId: string, state: QueryState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    for (const query of this.#queries.values()) this.#stop(query, 'cancel');
    this.#stopSampler();
    this.#instance.closeSync();
  }

  /**
   * Runs one statement's execution with its progress sampled. Only then: between statements, and
   * while one is being prepared, DuckDB has no query to report on (-1), and reading it would turn
   * the last real reading into "unknown" for a moment.
   */
  async #sampled<T>(queryId: string, query: Query, execute: () => Promise<T>): Promise<T> {
    this.#executing.set(queryId, query);
    this.#sampler ??= setInterval(() => this.#sample(), PROGRESS_SAMPLE_MS);
    try {
      return await execute();
    } finally {
      this.#executing.delete(queryId);
      if (this.#executing.size === 0) this.#stopSampler();
    }
  }

  #stopSampler(): void {
    if (this.#sampler) clearInterval(this.#sampler);
    this.#sampler = null;
  }

  /** Reads every executing statement's progress; a change is reported as the query's new state. */
  #sample(): void {
    for (const [queryId, query] of this.#executing) {
      const connection = query.connection;
      if (!connection || query.stopReason || query.state.endedAt) continue;
      let progress: JobProgress;
      try {
        progress = progressOf(connection.progress);
      } catch {
        continue; // the connection is closing under us: its end is reported by #run
      }
      if (!sameProgress(progress, query.state.progress)) this.#changed(queryId, query, { progress });
    }
  }

  #changed(queryId: string, query: Query, patch: Partial<QueryState>): void {
    query.state = { ...query.state, ...patch };
    for (const listener of this.#listeners) listener(queryId, { ...query.state });
  }

  async #run(queryId: string, query: Query, request: SubmitRequest): Promise<void> {
    let connection: DuckDBConnection | null = null;
    let timer: NodeJS.Timeout | undefined;
    try {
      connection = await this.#instance.connect();
      query.connection = connection;
      for (const setting of JOB_CONNECTION_SETUP) await connection.run(setting);
      // Snowflake's RESULT_SCAN: any earlier job's stored result of this tenant, by job id or query
      // id. Its directory is the only results directory the instance may read, so another
      // principal's id finds no file, exactly as an unknown id does.
      await connection.run(
        `CREATE TEMP MACRO result_scan(id) AS TABLE SELECT * FROM read_parquet(${quoteLiteral(this.#results.directory + '/')} || id || '.parquet')`,
      );
      if (query.stopReason) throw new Error('stopped before start');
      this.#changed(queryId, query, { status: 'RUNNING', startedAt: new Date() });
      timer = setTimeout(() => this.#stop(query, 'timeout'), request.timeoutSeconds * 1000);
      const dml = await this.#runStatements(queryId, query, connection, request);
      // DuckDB forgets a statement's progress once it ends; a job that succeeded did all its work.
      this.#changed(queryId, query, { status: 'SUCCESS', endedAt: new Date(), dml, progress: completedProgress(query.state.progress) });
    } catch (error) {
      const state = this.#failure(query, error);
      this.#changed(queryId, query, { ...state, endedAt: new Date() });
    } finally {
      clearTimeout(timer);
      if (query.stopTimer) clearInterval(query.stopTimer);
      query.connection = null;
      connection?.closeSync();
      // The final state has been reported; the API process keeps it for the poller.
      this.#queries.delete(queryId);
    }
  }

  #failure(query: Query, error: unknown): Pick<QueryState, 'status' | 'error'> {
    if (query.stopReason) return stoppedState(query.stopReason);
    return {
      status: 'FAILED_WITH_ERROR',
      error: error instanceof StatementError ? error.jobError : jobErrorFromDuckDB(error),
    };
  }

  /**
   * Runs the statements in order. Bindings are consumed left to right by each statement's
   * parameters. The last statement's rows become the result; DML counts add up over all.
   */
  async #runStatements(
    queryId: string,
    query: Query,
    connection: DuckDBConnection,
    request: SubmitRequest,
  ): Promise<DmlCounts | null> {
    let dml: DmlCounts | null = null;
    let nextBinding = 0;
    const count = request.statements.length;
    for (const [index, text] of request.statements.entries()) {
      if (query.stopReason) throw new Error('interrupted');
      let prepared = await connection.prepare(text);
      if (query.stopReason) throw new Error('interrupted');
      const type = prepared.statementType;
      if (!ALLOWED_STATEMENTS.has(type)) {
        throw new StatementError({
          code: JobErrorCode.SQL_PERMISSION_DENIED,
          sqlState: '42501',
          message: `Permission Error: ${StatementType[type]} statements are not allowed (statement ${index + 1})`,
        });
      }
      const parameters = prepared.parameterCount;
      const values = request.bindings.slice(nextBinding, nextBinding + parameters);
      if (values.length < parameters) throw bindingMismatch(request.bindings.length, nextBinding + parameters);
      nextBinding += parameters;

      const isLast = index === count - 1;
      if (isLast && nextBinding < request.bindings.length) {
        throw bindingMismatch(request.bindings.length, nextBinding);
      }
      // DuckDB's MERGE reports one total; RETURNING merge_action tells inserts, updates and deletes apart.
      if (type === StatementType.MERGE_INTO && isPlainCount(prepared)) {
        prepared.destroySync();
        prepared = await connection.prepare(`${text}\nRETURNING merge_action`);
        bind(prepared, values);
        const merge = prepared;
        const counts = await this.#sampled(queryId, query, () => countMerge(merge));
        dml = addDmlCounts(dml, counts);
        if (isLast) {
          const row = [counts.rowsInserted, counts.rowsUpdated, counts.rowsDeleted];
          const writer = this.#results.rowWriter(queryId, request.jobId, MERGE_COUNT_COLUMNS);
          writer.append([row]);
          await writer.commit(false);
        }
        continue;
      }
      if (isLast && type === StatementType.SELECT) {
        const copy = await this.#prepareCopy(connection, queryId, text, prepared, values);
        if (copy) {
          prepared.destroySync();
          if (query.stopReason) throw new Error('interrupted');
          await this.#sampled(queryId, query, () => this.#storeQuery(queryId, request.jobId, copy));
          continue;
        }
      }
      bind(prepared, values);
      if (query.stopReason) throw new Error('interrupted');
      const statement = prepared;
      await this.#sampled(queryId, query, async () => {
        const result = await statement.stream();
        dml = addDmlCounts(dml, dmlOf(type, result.rowsChanged));
        if (isLast) await this.#storeInline(queryId, request.jobId, result);
      });
    }
    return dml;
  }

  /**
   * `COPY (<the statement>) TO '<file>.partial'`, prepared and bound, or null when the statement
   * cannot be a subquery (some SELECT-like forms, such as PRAGMA); those are stored inline.
   */
  async #prepareCopy(
    connection: DuckDBConnection,
    queryId: string,
    text: string,
    prepared: DuckDBPreparedStatement,
    values: JsonValue[],
  ): Promise<{ statement: DuckDBPreparedStatement; columns: Column[] } | null> {
    const typed = Array.from({ length: prepared.columnCount }, (_, i) => ({
      name: prepared.columnName(i),
      type: columnTypeOf(prepared, i),
    }));
    const select = this.#results.storageQuery(text, typed, this.#caps.maxRows);
    const file = quoteLiteral(this.#results.partialFile(queryId));
    let statement: DuckDBPreparedStatement;
    try {
      statement = await connection.prepare(`COPY (${select}) TO ${file} (FORMAT parquet)`);
    } catch {
      return null;
    }
    bind(statement, values);
    return { statement, columns: typed.map((c) => ({ name: c.name, type: c.type ? typeName(c.type) : '', nullable: true })) };
  }

  /** Runs the COPY: the engine writes every row to disk; nothing passes through JavaScript. */
  async #storeQuery(
    queryId: string,
    jobId: string,
    copy: { statement: DuckDBPreparedStatement; columns: Column[] },
  ): Promise<void> {
    try {
      const result = await copy.statement.run();
      // A column typed only by its binding (`select ? as x`) has no type until it runs.
      const columns = copy.columns.some((c) => c.type === '') ? await this.#results.fileColumns(queryId) : copy.columns;
      await this.#results.commitFile(queryId, jobId, columns, result.rowsChanged, this.#caps);
    } catch (error) {
      this.#results.abort(queryId);
      throw error;
    }
  }

  /**
   * A result that is not a query's (a DML count, `... RETURNING`, PRAGMA or CALL output): converted
   * a DuckDB chunk at a time and written to disk as it comes, so its size does not matter either.
   */
  async #storeInline(queryId: string, jobId: string, result: DuckDBResult): Promise<void> {
    const columns: Column[] = result.columnNames().map((name, i) => ({
      name,
      type: typeName(result.columnType(i)),
      nullable: true,
    }));
    const writer = this.#results.rowWriter(queryId, jobId, columns);
    try {
      let kept = 0;
      let truncated = false;
      for await (const chunk of columnChunks(result)) {
        const rows = convertRows(result.columnTypes(), chunk);
        const room = this.#caps.maxRows - kept;
        writer.append(rows.length > room ? rows.slice(0, room) : rows);
        kept += Math.min(rows.length, room);
        if (rows.length > room) {
          truncated = true;
          break;
        }
      }
      await writer.commit(truncated);
    } catch (error) {
      writer.abort();
      throw error;
    }
  }
}

/** DuckDB's name for a type, with its alias where it has one (JSON is a VARCHAR named JSON). */
function typeName(type: DuckDBType): string {
  return type.alias ?? type.toString();
}

/** A prepared statement's column type, or null while a parameter decides it. */
function columnTypeOf(prepared: DuckDBPreparedStatement, index: number): DuckDBType | null {
  try {
    return prepared.columnType(index);
  } catch {
    return null;
  }
}

function bindingMismatch(given: number, expected: number): StatementError {
  return new StatementError({
    code: JobErrorCode.SQL_BINDING_MISMATCH,
    sqlState: '07001',
    message: `The SQL has ${expected} parameter(s) but ${given} binding(s) were given`,
  });
}

function bind(prepared: DuckDBPreparedStatement, values: JsonValue[]): void {
  if (values.length > 0) prepared.bind(values as DuckDBValue[]);
}

function isPlainCount(prepared: DuckDBPreparedStatement): boolean {
  return prepared.columnCount === 1 && prepared.columnName(0) === 'Count';
}

async function countMerge(prepared: DuckDBPreparedStatement): Promise<DmlCounts> {
  const counts: DmlCounts = { rowsInserted: 0, rowsUpdated: 0, rowsDeleted: 0 };
  const result = await prepared.stream();
  for await (const rows of result.yieldRows()) {
    for (const [action] of rows) {
      if (action === 'INSERT') counts.rowsInserted += 1;
      else if (action === 'UPDATE') counts.rowsUpdated += 1;
      else if (action === 'DELETE') counts.rowsDeleted += 1;
    }
  }
  return counts;
}

function dmlOf(type: StatementType, rowsChanged: number): DmlCounts | null {
  switch (type) {
    case StatementType.INSERT:
      return { rowsInserted: rowsChanged, rowsUpdated: 0, rowsDeleted: 0 };
    case StatementType.UPDATE:
      return { rowsInserted: 0, rowsUpdated: rowsChanged, rowsDeleted: 0 };
    case StatementType.DELETE:
      return { rowsInserted: 0, rowsUpdated: 0, rowsDeleted: rowsChanged };
    default:
      return null;
  }
}
