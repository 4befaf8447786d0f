import snowflake from 'snowflake-sdk';
import type { Logger } from '../../core/logger.ts';
import { driverFailure, SnowflakeCode } from './snowflake-errors.ts';
import { FETCH_AS_STRING } from './snowflake-values.ts';

/**
 * One authenticated snowflake-sdk connection, kept alive and replaced when it dies. The driver
 * renews an expired session token by itself on query, result and abort requests, but not on the
 * monitoring request behind `getQueryStatus`, and a session it cannot renew leaves the connection
 * unusable for good; both are handled here, so the adapter sees calls that work or fail cleanly.
 */
export interface SubmitOptions {
  sqlText: string;
  requestId: string;
  binds: snowflake.Binds;
  parameters: Record<string, string | number>;
}

/** Errors that mean the connection is gone and a new one must log in. */
const DEAD_SESSION = new Set<string>([
  SnowflakeCode.SESSION_INVALID,
  SnowflakeCode.SESSION_GONE,
  SnowflakeCode.MASTER_TOKEN_EXPIRED,
  '407002', // the driver's "terminated connection"
  '405503', // the driver's "connection already terminated"
]);

/** More statements than a job may hold (JOBQL_MAX_STATEMENTS is at most 10,000). */
const MANY_STATEMENTS = ';'.repeat(10_000);

const CLOSE_TIMEOUT_MS = 2000;

/**
 * INFORMATION_SCHEMA.QUERY_HISTORY shows the queries the role may see (its own, and those on
 * warehouses it may monitor) of the last 7 days, up to RESULT_LIMIT of them.
 */
const QUERY_TEXT_SQL =
  'select query_text from table(information_schema.query_history(result_limit => 10000)) where query_id = ?';

/**
 * Snowflake's own times of ended queries, in epoch ms: the start (submission), the time queued
 * (provisioning, repair and overload) and the end. Queries that ended within the last hour.
 */
const QUERY_TIMES_SQL = (count: number): string =>
  'select query_id, date_part(epoch_millisecond, start_time) as started_ms,' +
  ' queued_provisioning_time + queued_repair_time + queued_overload_time as queued_ms,' +
  ' date_part(epoch_millisecond, end_time) as ended_ms' +
  " from table(information_schema.query_history(end_time_range_start => dateadd('hour', -1, current_timestamp()), result_limit => 10000))" +
  ` where query_id in (${Array.from({ length: count }, () => '?').join(', ')})`;

/**
 * The status of many queries in one statement (JOBQL_SNOWFLAKE_STATUS_FROM_HISTORY): without an
 * end of the time range the table function lists running queries too. Its execution status is
 * lower case (`running`, `success`, `failed_with_error`, ...); a cancelled query is
 * `failed_with_error` with error code 604, as on the monitoring endpoint.
 */
const QUERY_STATUS_SQL = (count: number): string =>
  'select query_id, execution_status, error_code, error_message,' +
  ' date_part(epoch_millisecond, start_time) as started_ms,' +
  ' queued_provisioning_time + queued_repair_time + queued_overload_time as queued_ms,' +
  ' date_part(epoch_millisecond, end_time) as ended_ms' +
  " from table(information_schema.query_history(end_time_range_start => dateadd('hour', -24, current_timestamp()), result_limit => 10000))" +
  ` where query_id in (${Array.from({ length: count }, () => '?').join(', ')})`;

/** A query's status as `status` reports it, and from history its times once it ended. */
export interface QueryStatusAnswer {
  status: string;
  errorCode: string | null;
  errorMessage: string | null;
  times?: QueryTimes;
}

/** When a query ran by Snowflake's clock: it left the queue at `startedAt`. */
export interface QueryTimes {
  startedAt: Date;
  endedAt: Date;
}

/** Session settings jobql relies on: TIME values with all nine fraction digits. */
const SESSION_SETUP = "ALTER SESSION SET TIME_OUTPUT_FORMAT = 'HH24:MI:SS.FF9'";

export class SnowflakeClient {
  readonly #options: snowflake.ConnectionOptions;
  readonly #log: Logger;
  #connection: snowflake.Connection | null = null;
  #connecting: Promise<snowflake.Connection> | null = null;
  #closed = false;
  /** Logins made, for tests and logs. */
  logins = 0;

  constructor(options: snowflake.ConnectionOptions, log: Logger) {
    this.#options = {
      ...options,
      // Heartbeats keep a session alive while long jobs run; closing the client must not log the
      // session out, because Snowflake may then cancel the async queries it started.
      clientSessionKeepAlive: true,
      serverSessionKeepAlive: true,
      representNullAsStringNull: false,
    };
    this.#log = log;
  }

  /** Logs in (once); fails with the driver's error when the credentials are refused. */
  connect(): Promise<snowflake.Connection> {
    if (this.#closed) return Promise.reject(new Error('The Snowflake client is closed'));
    if (this.#connection?.isUp()) return Promise.resolve(this.#connection);
    this.#connecting ??= this.#login().finally(() => (this.#connecting = null));
    return this.#connecting;
  }

  async #login(): Promise<snowflake.Connection> {
    const connection = snowflake.createConnection(this.#options);
    // connectAsync() resolves even when the login is refused; the callback form reports it.
    await new Promise<void>((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
    this.logins += 1;
    await execute(connection, { sqlText: SESSION_SETUP });
    this.#connection = connection;
    this.#log.info({ logins: this.logins }, 'snowflake session opened');
    return connection;
  }

  /**
   * Runs `call` on a live connection. A dead session is replaced and the call made once more; an
   * expired session token is renewed first (a heartbeat goes through the driver's renewal).
   */
  async #withConnection<T>(call: (connection: snowflake.Connection) => Promise<T>): Promise<T> {
    let connection = await this.connect();
    try {
      return await call(connection);
    } catch (error) {
      const failure = driverFailure(error);
      if (failure.code === SnowflakeCode.SESSION_EXPIRED) {
        await heartbeat(connection).catch(() => {});
      } else if (isDeadSession(error, connection)) {
        this.#log.warn({ code: failure.code }, 'snowflake session lost; logging in again');
        if (this.#connection === connection) this.#connection = null;
        void destroy(connection); // stops its keep-alive timer
      } else {
        throw error;
      }
      connection = await this.connect();
      return await call(connection);
    }
  }

  /** Submits asynchronously: resolves with the query id once Snowflake accepted the query. */
  submit(options: SubmitOptions, onStatement: (statement: snowflake.RowStatement) => void): Promise<string> {
    return this.#withConnection(
      (connection) =>
        new Promise<string>((resolve, reject) => {
          const statement = connection.execute({
            sqlText: options.sqlText,
            requestId: options.requestId,
            binds: options.binds,
            parameters: options.parameters,
            asyncExec: true,
            // Without streamResult the driver drops the errors of an asyncExec request.
            streamResult: true,
            complete: (error, stmt) => {
              const queryId = stmt?.getQueryId();
              if (error) reject(error);
              else if (!queryId) reject(new Error('Snowflake accepted the query without a query id'));
              else resolve(queryId);
            },
          } as snowflake.StatementOption);
          onStatement(statement);
        }),
    );
  }

  /**
   * The status of one query: Snowflake's status name, and for an error status the monitoring
   * record's error code and message. `NO_QUERY_DATA` when Snowflake has no record of it.
   */
  status(queryId: string): Promise<QueryStatusAnswer> {
    return this.#withConnection(async (connection) => {
      try {
        const status = await connection.getQueryStatusThrowIfError(queryId);
        return { status: String(status), errorCode: null, errorMessage: null };
      } catch (error) {
        // The driver attaches the monitoring response to the error it throws for an error status.
        const body = (error as { data?: MonitoringBody & { data?: MonitoringBody } }).data;
        const record = (body?.queries ?? body?.data?.queries)?.[0];
        if (!record?.status) throw error;
        return {
          status: record.status,
          errorCode: record.errorCode ? String(record.errorCode).padStart(6, '0') : null,
          errorMessage: record.errorMessage ?? null,
        };
      }
    });
  }

  /**
   * A finished query's results, ready to stream (rows are fetched only when streamed): one, or for
   * a multi-statement query one per statement. The driver walks a parent's `resultIds` only as far
   * as `sqlText` split on `;` reaches, and hangs without it, so it is given more than enough.
   */
  results(queryId: string): Promise<snowflake.RowStatement[]> {
    return this.#withConnection(
      (connection) =>
        new Promise<snowflake.RowStatement[]>((resolve, reject) => {
          const found = new Map<string, snowflake.RowStatement>();
          connection.fetchResult({
            queryId,
            sqlText: MANY_STATEMENTS,
            rowMode: 'array',
            fetchAsString: FETCH_AS_STRING as snowflake.DataType[],
            streamResult: true,
            complete: (error: unknown, statement: snowflake.RowStatement) => {
              if (error) return reject(error);
              // A multi-statement parent reports itself first, without columns; then each child.
              if (!statement.getColumns()) return;
              found.set(statement.getQueryId(), statement);
              const multi = statement as unknown as { hasNext?(): boolean; NextResult(): void };
              if (multi.hasNext?.()) multi.NextResult();
              else resolve([...found.values()]);
            },
          } as snowflake.StatementOption & { queryId: string });
        }),
    );
  }

  /** A query's text from query history, or null where the role may not see it. */
  queryText(queryId: string): Promise<string | null> {
    return this.#withConnection(
      (connection) =>
        new Promise<string | null>((resolve, reject) => {
          connection.execute({
            sqlText: QUERY_TEXT_SQL,
            binds: [queryId],
            rowMode: 'array',
            complete: (error, _statement, rows) => {
              if (error) reject(error);
              else resolve(((rows as unknown[][] | undefined)?.[0]?.[0] as string | undefined) ?? null);
            },
          } as snowflake.StatementOption);
        }),
    );
  }

  /** Snowflake's own times of ended queries, from query history (one statement for all of them). */
  times(queryIds: readonly string[]): Promise<Map<string, QueryTimes>> {
    return this.#withConnection(
      (connection) =>
        new Promise<Map<string, QueryTimes>>((resolve, reject) => {
          connection.execute({
            sqlText: QUERY_TIMES_SQL(queryIds.length),
            binds: [...queryIds],
            rowMode: 'array',
            complete: (error, _statement, rows) => {
              if (error) return reject(error);
              const times = new Map<string, QueryTimes>();
              for (const [queryId, started, queued, ended] of (rows as unknown[][] | undefined) ?? []) {
                if (ended === null || ended === undefined) continue;
                times.set(String(queryId), {
                  startedAt: new Date(Number(started) + Number(queued ?? 0)),
                  endedAt: new Date(Number(ended)),
                });
              }
              resolve(times);
            },
          } as snowflake.StatementOption);
        }),
    );
  }

  /**
   * The status of many queries in one statement, from query history; a query history does not
   * list (not yet, or not visible to this identity) is left out.
   */
  statuses(queryIds: readonly string[]): Promise<Map<string, QueryStatusAnswer>> {
    return this.#withConnection(
      (connection) =>
        new Promise<Map<string, QueryStatusAnswer>>((resolve, reject) => {
          connection.execute({
            sqlText: QUERY_STATUS_SQL(queryIds.length),
            binds: [...queryIds],
            rowMode: 'array',
            complete: (error, _statement, rows) => {
              if (error) return reject(error);
              const answers = new Map<string, QueryStatusAnswer>();
              for (const [queryId, status, code, message, started, queued, ended] of (rows as unknown[][] | undefined) ?? []) {
                const answer: QueryStatusAnswer = {
                  status: String(status).toUpperCase(),
                  errorCode: code === null || code === undefined ? null : String(code).padStart(6, '0'),
                  errorMessage: message === null || message === undefined ? null : String(message),
                };
                if (ended !== null && ended !== undefined) {
                  answer.times = { startedAt: new Date(Number(started) + Number(queued ?? 0)), endedAt: new Date(Number(ended)) };
                }
                answers.set(String(queryId), answer);
              }
              resolve(answers);
            },
          } as snowflake.StatementOption);
        }),
    );
  }

  /** Asks Snowflake to stop a query (its abort request); a query already ended is not an error. */
  cancel(queryId: string): Promise<void> {
    return this.#withConnection(async (connection) => {
      const statement = connection.fetchResult({ queryId, streamResult: true } as snowflake.StatementOption & {
        queryId: string;
      });
      await cancelStatement(statement);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const connection = this.#connection;
    this.#connection = null;
    if (connection) await destroy(connection);
  }
}

interface MonitoringBody {
  queries?: MonitoringRecord[];
}

interface MonitoringRecord {
  status?: string;
  errorCode?: number | string;
  errorMessage?: string | null;
}

/** Cancels through the driver: by query id, or by request id while the query id is unknown. */
export function cancelStatement(statement: snowflake.RowStatement): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    statement.cancel((error) => {
      if (!error || driverFailure(error).code === SnowflakeCode.NOT_EXECUTING) resolve();
      else reject(error);
    }),
  );
}

function isDeadSession(error: unknown, connection: snowflake.Connection): boolean {
  // The driver throws a TypeError from getQueryStatus once its connection is disconnected.
  return DEAD_SESSION.has(driverFailure(error).code ?? '') || !connection.isUp() || error instanceof TypeError;
}

/**
 * Lets a connection go: stops its keep-alive timer and HTTP agents (the driver does both even when
 * the session is already dead). Bounded, so that a shutdown never waits on the driver.
 */
function destroy(connection: snowflake.Connection): Promise<void> {
  return Promise.race([
    new Promise<void>((resolve) => connection.destroy(() => resolve())),
    new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref()),
  ]);
}

function execute(connection: snowflake.Connection, options: { sqlText: string }): Promise<void> {
  return new Promise((resolve, reject) =>
    connection.execute({ ...options, complete: (error) => (error ? reject(error) : resolve()) }),
  );
}

function heartbeat(connection: snowflake.Connection): Promise<unknown> {
  // heartbeatAsync exists in snowflake-sdk 3.x but is missing from its type declarations.
  return (connection as unknown as { heartbeatAsync(): Promise<unknown> }).heartbeatAsync();
}
