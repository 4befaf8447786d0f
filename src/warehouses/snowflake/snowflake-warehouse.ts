import type snowflake from 'snowflake-sdk';
import { jobIdAsUuid } from '../../core/ids.ts';
import { JobErrorCode, JobErrors, RequestErrorCode, requestError } from '../../core/errors.ts';
import type { DmlCounts, JobError, JsonValue } from '../../core/job.ts';
import { JOB_STATUSES, isTerminal, type JobStatus } from '../../core/status.ts';
import type { Logger } from '../../core/logger.ts';
import type { Download, DownloadFormat } from '../../core/results.ts';
import { addDmlCounts } from '../dml-counts.ts';
import type { SubmitRequest, Warehouse } from '../warehouse.ts';
import type { QueryState, ResultPage } from '../../core/results.ts';
import { cancelStatement, type QueryStatusAnswer, type SnowflakeClient } from './snowflake-client.ts';
import type { SnowflakeIdentities } from './snowflake-identities.ts';
import { driverFailure, jobErrorFromSnowflake, SnowflakeCode } from './snowflake-errors.ts';
import { statementDownload } from './snowflake-downloads.ts';
import { columnOf, converterOf, convertRow, type DriverColumn } from './snowflake-values.ts';

/** Status checks in flight at once within one poller tick. */
const STATUS_CONCURRENCY = 8;
/** Query ids one query-history status statement asks about (JOBQL_SNOWFLAKE_STATUS_FROM_HISTORY). */
export const HISTORY_STATUS_BATCH = 500;
/**
 * Consecutive NO_QUERY_DATA answers before a job is given up: Snowflake's monitoring may not know a
 * query for a moment after it was accepted (the connectors allow NO_DATA 24 times).
 */
const NO_DATA_LIMIT = 24;
/** Finished queries whose end details (DML counts, result query id) are kept in memory. */
const END_CACHE_SIZE = 10_000;

const KNOWN_STATUSES: ReadonlySet<string> = new Set(JOB_STATUSES);

/** What jobql learns of a query once it ended, with one result read. */
interface EndDetails {
  /** The query whose result is the job's result: the last statement's, for a multi-statement job. */
  resultQueryId: string;
  dml: DmlCounts | null;
}

const DML_COLUMNS: Record<string, keyof DmlCounts> = {
  'number of rows inserted': 'rowsInserted',
  'number of rows updated': 'rowsUpdated',
  'number of rows deleted': 'rowsDeleted',
};

/**
 * Snowflake through snowflake-sdk. Queries run asynchronously (`asyncExec`) under a request id
 * derived from the job id, so a repeated submit finds the query Snowflake already has instead of
 * running it twice; the poller asks for their status through the monitoring endpoint; results stay
 * in Snowflake (its 24-hour result cache) and are read a page at a time by query id.
 */
export class SnowflakeWarehouse implements Warehouse {
  readonly name = 'snowflake';
  readonly forgetsOnRestart = false;
  readonly idempotentSubmit = true;
  readonly #identities: SnowflakeIdentities;
  readonly #runAsOf: (queryId: string) => Promise<string | null>;
  /** The identity of each query seen, so that a lookup is made once per query. */
  readonly #runAs = new Map<string, string | null>();
  readonly #log: Logger;
  /** Statements of submits still waiting for their query id, by job id: cancel uses them. */
  readonly #pending = new Map<string, snowflake.RowStatement>();
  readonly #noData = new Map<string, number>();
  readonly #firstSeenRunning = new Map<string, Date>();
  readonly #ends = new Map<string, EndDetails>();
  readonly #statusFromHistory: boolean;
  /** Queries one status call answers, for the poller's budget: one monitoring call each, or a batch. */
  readonly statusBatchSize: number;

  /**
   * `runAsOf` finds the identity a query runs as (its job's `runAs`), for a query this process did
   * not submit: after a restart, or submitted by another instance. `statusFromHistory`: statuses
   * from query history, one statement per identity for up to HISTORY_STATUS_BATCH queries, instead
   * of one monitoring call per query (a statement Snowflake runs, so it is a setting).
   */
  constructor(
    identities: SnowflakeIdentities,
    log: Logger,
    runAsOf: (queryId: string) => Promise<string | null> = async () => null,
    options: { statusFromHistory?: boolean } = {},
  ) {
    this.#identities = identities;
    this.#log = log;
    this.#runAsOf = runAsOf;
    this.#statusFromHistory = options.statusFromHistory ?? false;
    this.statusBatchSize = this.#statusFromHistory ? HISTORY_STATUS_BATCH : 1;
  }

  /** The client of the identity a query runs as. */
  async #clientOf(queryId: string): Promise<SnowflakeClient> {
    let runAs = this.#runAs.get(queryId);
    if (runAs === undefined) {
      runAs = await this.#runAsOf(queryId);
      this.#remember(queryId, runAs);
    }
    return this.#identities.client(runAs);
  }

  #remember(queryId: string, runAs: string | null): void {
    this.#runAs.set(queryId, runAs);
    if (this.#runAs.size > END_CACHE_SIZE) this.#runAs.delete(this.#runAs.keys().next().value!);
  }

  async submit(request: SubmitRequest): Promise<string> {
    const count = request.statements.length;
    const queryId = await this.#identities.client(request.runAs).submit(
      {
        sqlText: request.statements.join(';\n'),
        requestId: jobIdAsUuid(request.jobId),
        binds: request.bindings as snowflake.Binds,
        parameters: {
          // The exact count: Snowflake refuses the text if it holds another number of statements.
          MULTI_STATEMENT_COUNT: count,
          STATEMENT_TIMEOUT_IN_SECONDS: request.timeoutSeconds,
          ...(request.tag ? { QUERY_TAG: request.tag } : {}),
        },
      },
      (statement) => this.#pending.set(request.jobId, statement),
    ).finally(() => this.#pending.delete(request.jobId));
    this.#remember(queryId, request.runAs);
    return queryId;
  }

  async status(queryIds: readonly string[]): Promise<Map<string, QueryState>> {
    const states = new Map<string, QueryState>();
    const answers = this.#statusFromHistory ? await this.#fromHistory(queryIds) : new Map<string, QueryStatusAnswer>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < queryIds.length) {
        const queryId = queryIds[next++]!;
        try {
          // History does not list a query it has not seen yet: the monitoring endpoint answers for it.
          const answer = answers.get(queryId) ?? (await (await this.#clientOf(queryId)).status(queryId));
          const state = await this.#stateOf(queryId, answer);
          if (state) states.set(queryId, state);
        } catch (error) {
          // Left out: the poller asks again after its backoff (429s and 5xx included).
          this.#log.warn({ queryId, err: driverFailure(error) }, 'snowflake status check failed');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(STATUS_CONCURRENCY, queryIds.length) }, worker));
    const withoutTimes = new Map([...states].filter(([queryId]) => !answers.get(queryId)?.times));
    await this.#withSnowflakeTimes(withoutTimes);
    for (const [queryId, state] of withoutTimes) states.set(queryId, state);
    return states;
  }

  /** Statuses from query history: one statement per identity and batch. A batch that fails is left out. */
  async #fromHistory(queryIds: readonly string[]): Promise<Map<string, QueryStatusAnswer>> {
    const byClient = new Map<SnowflakeClient, string[]>();
    for (const queryId of queryIds) {
      const client = await this.#clientOf(queryId);
      byClient.set(client, [...(byClient.get(client) ?? []), queryId]);
    }
    const answers = new Map<string, QueryStatusAnswer>();
    const batches: [SnowflakeClient, string[]][] = [];
    for (const [client, ids] of byClient) {
      for (let i = 0; i < ids.length; i += HISTORY_STATUS_BATCH) batches.push([client, ids.slice(i, i + HISTORY_STATUS_BATCH)]);
    }
    await Promise.all(
      batches.map(async ([client, ids]) => {
        try {
          for (const [queryId, answer] of await client.statuses(ids)) answers.set(queryId, answer);
        } catch (error) {
          this.#log.warn({ queries: ids.length, err: driverFailure(error) }, 'snowflake status from query history failed');
          // Not asked again one by one (that is the load this mode avoids): the poller asks next tick.
          for (const queryId of ids) answers.set(queryId, { status: 'NOT_ASKED', errorCode: null, errorMessage: null });
        }
      }),
    );
    return answers;
  }

  /**
   * Gives the queries that ended Snowflake's own start and end times, read from query history in
   * one statement per identity for all of them (not one per job). Where history does not answer
   * (yet, or at all), the times jobql noticed stand.
   */
  async #withSnowflakeTimes(states: Map<string, QueryState>): Promise<void> {
    const byClient = new Map<SnowflakeClient, string[]>();
    for (const [queryId, state] of states) {
      if (!isTerminal(state.status)) continue;
      const client = await this.#clientOf(queryId);
      byClient.set(client, [...(byClient.get(client) ?? []), queryId]);
    }
    await Promise.all(
      [...byClient].map(async ([client, ended]) => {
        try {
          const times = await client.times(ended);
          for (const queryId of ended) {
            const own = times.get(queryId);
            const state = states.get(queryId)!;
            if (own) states.set(queryId, { ...state, startedAt: own.startedAt, endedAt: own.endedAt });
          }
        } catch (error) {
          this.#log.warn({ queries: ended.length, err: driverFailure(error) }, 'snowflake query times not read; the times noticed stand');
        }
      }),
    );
  }

  /** What a status answer means for the job; null while there is nothing to say yet. */
  async #stateOf(queryId: string, answer: QueryStatusAnswer): Promise<QueryState | null> {
    const { status, errorCode, errorMessage, times } = answer;
    if (status === 'NOT_ASKED') return null;
    if (status === 'NO_QUERY_DATA' || !KNOWN_STATUSES.has(status)) {
      const misses = (this.#noData.get(queryId) ?? 0) + 1;
      this.#noData.set(queryId, misses);
      if (misses < NO_DATA_LIMIT) return null;
      this.#forget(queryId);
      return ended('FAILED_WITH_INCIDENT', {
        code: JobErrorCode.WAREHOUSE_ERROR,
        sqlState: null,
        message: `Snowflake has no record of query ${queryId} (status ${status})`,
      });
    }
    this.#noData.delete(queryId);
    const jobStatus = status as JobStatus;
    if (!isTerminal(jobStatus)) {
      if (jobStatus !== 'QUEUED' && !this.#firstSeenRunning.has(queryId)) this.#firstSeenRunning.set(queryId, new Date());
      return {
        status: jobStatus,
        startedAt: this.#firstSeenRunning.get(queryId) ?? null,
        endedAt: null,
        error: null,
        progress: null,
        dml: null,
      };
    }
    // Until query history gives Snowflake's own times (#withSnowflakeTimes), a query that ran
    // entirely between two polls is taken to have started when its end was seen.
    const startedAt = times?.startedAt ?? this.#firstSeenRunning.get(queryId) ?? new Date();
    const endedAt = times?.endedAt;
    this.#forget(queryId);
    const state = await this.#endedState(queryId, jobStatus, errorCode, errorMessage, startedAt);
    return endedAt ? { ...state, endedAt } : state;
  }

  async #endedState(
    queryId: string,
    jobStatus: JobStatus,
    errorCode: string | null,
    errorMessage: string | null,
    startedAt: Date,
  ): Promise<QueryState> {
    if (jobStatus === 'SUCCESS') {
      const end = await this.#endDetails(queryId);
      return { ...ended('SUCCESS', null), startedAt, dml: end.dml };
    }
    if (errorCode === SnowflakeCode.CANCELLED) {
      return {
        ...ended('ABORTED', JobErrors.cancelled()),
        startedAt,
      };
    }
    return { ...ended(jobStatus, await this.#errorOf(queryId, errorCode, errorMessage)), startedAt };
  }

  #forget(queryId: string): void {
    this.#noData.delete(queryId);
    this.#firstSeenRunning.delete(queryId);
  }

  /** The failed query's error with its SQLSTATE, which only the result endpoint gives. */
  async #errorOf(queryId: string, errorCode: string | null, errorMessage: string | null): Promise<JobError> {
    try {
      await (await this.#clientOf(queryId)).results(queryId);
    } catch (error) {
      const failure = driverFailure(error);
      if (failure.code && /^\d{6}$/.test(failure.code)) return jobErrorFromSnowflake(failure);
    }
    return jobErrorFromSnowflake({ code: errorCode, sqlState: null, message: errorMessage ?? 'The query failed' });
  }

  /** DML counts (of every statement) and the query id of the result (the last statement's). */
  async #endDetails(queryId: string): Promise<EndDetails> {
    const cached = this.#ends.get(queryId);
    if (cached) return cached;
    const statements = await (await this.#clientOf(queryId)).results(queryId);
    let dml: DmlCounts | null = null;
    for (const statement of statements) dml = addDmlCounts(dml, await dmlOf(statement));
    const details = { resultQueryId: statements.at(-1)?.getQueryId() ?? queryId, dml };
    this.#ends.set(queryId, details);
    if (this.#ends.size > END_CACHE_SIZE) this.#ends.delete(this.#ends.keys().next().value!);
    return details;
  }

  async describe(queryId: string, runAs: string | null = null): Promise<{ queryText: string | null } | null> {
    const client = this.#identities.client(runAs);
    const { status } = await client.status(queryId);
    if (status === 'NO_QUERY_DATA') return null;
    return { queryText: await client.queryText(queryId) };
  }

  async cancel(jobId: string, queryId: string | null): Promise<void> {
    if (queryId) return (await this.#clientOf(queryId)).cancel(queryId);
    const pending = this.#pending.get(jobId);
    // The query id is not known yet: the driver aborts by the submit's request id.
    if (pending) await cancelStatement(pending);
  }

  async readResult(queryId: string, offset: number, limit: number): Promise<ResultPage | null> {
    const statement = await this.#resultStatement(queryId);
    const columns = (statement.getColumns() as unknown as DriverColumn[]) ?? [];
    const totalRows = statement.getNumRows();
    const rows: JsonValue[][] = [];
    if (limit > 0 && offset < totalRows) {
      const converters = columns.map(converterOf);
      for await (const row of statement.streamRows({ start: offset, end: Math.min(offset + limit, totalRows) - 1 })) {
        rows.push(convertRow(row as unknown[], converters));
      }
    }
    return { columns: columns.map(columnOf), rows, totalRows, offset, truncated: false };
  }

  async downloadResult(queryId: string, format: DownloadFormat): Promise<Download | null> {
    return statementDownload(await this.#resultStatement(queryId), format);
  }

  async #resultStatement(queryId: string): Promise<snowflake.RowStatement> {
    try {
      const { resultQueryId } = await this.#endDetails(queryId);
      // A statement's result, as the identity that ran the job.
      const [statement] = await (await this.#clientOf(queryId)).results(resultQueryId);
      if (!statement) throw new Error(`Snowflake returned no result for query ${resultQueryId}`);
      return statement;
    } catch (error) {
      if (driverFailure(error).code === SnowflakeCode.RESULT_EXPIRED) {
        throw requestError(RequestErrorCode.RESULT_EXPIRED, 'Snowflake no longer holds this result (it keeps results 24 hours)');
      }
      throw error;
    }
  }

  async deleteResult(): Promise<void> {
    // Snowflake expires results itself, after 24 hours.
  }

  onChange(): () => void {
    // Snowflake tells nothing unasked: every change is found by polling.
    return () => {};
  }

  async close(): Promise<void> {
    await this.#identities.close();
  }
}

function ended(status: JobStatus, error: JobError | null): QueryState {
  return { status, startedAt: null, endedAt: new Date(), error, progress: null, dml: null };
}

/** A DML statement's counts, read from its one result row; null for any other statement. */
async function dmlOf(statement: snowflake.RowStatement): Promise<DmlCounts | null> {
  if (statement.getNumUpdatedRows() === -1 || statement.getNumUpdatedRows() === undefined) return null;
  const columns = (statement.getColumns() as unknown as DriverColumn[]) ?? [];
  const counts: DmlCounts = { rowsInserted: 0, rowsUpdated: 0, rowsDeleted: 0 };
  for await (const row of statement.streamRows({ start: 0, end: 0 })) {
    columns.forEach((column, i) => {
      const key = DML_COLUMNS[column.getName().toLowerCase()];
      if (key) counts[key] += Number((row as unknown[])[i] ?? 0);
    });
  }
  return counts;
}
