/**
 * A wire-level Snowflake test double: a plain-HTTP server that speaks the endpoints the real
 * `snowflake-sdk` uses, backed by an in-memory
 * DuckDB so that queries really run. It counts what it receives and can be told to misbehave.
 *
 * Endpoints: login, token renewal, query request (async and sync), monitoring, result by query id
 * (inline rows and chunks), abort (by query id and by request id), SYSTEM$CANCEL_QUERY, heartbeat,
 * logout, telemetry.
 *
 * Users and roles, as far as jobql's isolation needs them: each login is a user (password, or a
 * key-pair JWT checked against the user's public key) and a role it was granted (the `roleName`
 * of the login URL, or its first role). Each role has a database of its own (a DuckDB instance),
 * so one role's tables are not there for another, as without a grant; a query belongs to the user
 * that ran it, and monitoring, results, aborts, query history, SYSTEM$CANCEL_QUERY and
 * `RESULT_SCAN('<query id>')` of another user's query answer as for an unknown id, as
 * Snowflake scopes them by user. Every query records its user and role.
 *
 * A SELECT marked with the comment `lazy result` (LAZY_RESULT) keeps its result in a DuckDB table
 * and converts each chunk to wire strings only when it is fetched, so a result of millions of rows
 * costs the process that runs the double (often jobql's own, in tests) no JavaScript memory.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBPreparedStatement,
  type DuckDBType,
  StatementType,
} from '@duckdb/node-api';
import { importSPKI, jwtVerify } from 'jose';
import { splitStatements } from '../../src/jobs/sql-statements.ts';
import { type RowType, rowTypeOf, wireValue } from './rowtype.ts';

export interface Faults {
  /** Answer this many of the next requests (any endpoint but login) with HTTP 429. */
  tooManyRequests: number;
  /** Answer this many of the next query or result requests with HTTP 503. */
  unavailable: number;
  /** Delay before each query starts running, in ms (a cold warehouse). */
  queueMs: number;
  /** Extra running time added to every query, in ms. */
  slowMs: number;
  /** Queries whose SQL contains this text never finish until cancelled. */
  neverFinishMarker: string;
  /** Session tokens issued from now on expire after this many ms (0: never). */
  sessionTtlMs: number;
  /** Query ids whose result has expired (000710). */
  expiredResults: Set<string>;
  /** Delay before answering a query request (the query is registered and runs meanwhile). */
  submitDelayMs: number;
  /** Query ids that query history does not show (another role's queries). */
  hiddenFromHistory: Set<string>;
}

export interface QueryRecord {
  id: string;
  /** The user and role of the session that ran it. */
  user: string;
  role: string;
  /** The role's database, where it runs. */
  instance: DuckDBInstance;
  requestId: string | null;
  sqlText: string;
  queryTag: string;
  /** The session's parameters when the query was submitted. */
  sessionParameters: Map<string, string>;
  status: string;
  /** When it was submitted, and how long it waited in the queue before it ran (ms). */
  startTime: number;
  queuedMs: number;
  endTime: number;
  rowType: RowType[];
  rows: (string | null)[][];
  /** A lazy result's table (`rows` is then empty): its name, row count and column types. */
  lazy?: { table: string; count: number; types: DuckDBType[] };
  /** DML counts and statement type id of the last statement, Snowflake style. */
  statementTypeId: number;
  /** A multi-statement query's child query ids, comma separated (Snowflake's `resultIds`). */
  resultIds: string | null;
  /** The child statement running now, so that a cancel or timeout of the parent ends it too. */
  child?: QueryRecord;
  error: { code: string; sqlState: string; message: string } | null;
  connection: DuckDBConnection | null;
  cancelled: boolean;
  /** Ends a scripted sleep at once (a cancel or timeout). */
  wake?: () => void;
  /** Why it was stopped: a cancel (000604) or the statement timeout (000630). */
  cancelError: { code: string; sqlState: string; message: string } | null;
  done: Promise<void>;
}

interface Session {
  user: string;
  role: string;
  /** Set by ALTER SESSION SET; echoed in every result's `parameters`, as Snowflake does. */
  parameters: Map<string, string>;
  token: string;
  masterToken: string;
  expiresAt: number;
  id: number;
}

export interface SnowflakeDouble {
  url: string;
  /** Requests received, by endpoint name (`login`, `query`, `monitoring`, `result`, `abort`, ...). */
  counts: Map<string, number>;
  faults: Faults;
  queries: Map<string, QueryRecord>;
  /** Every query request's requestId, in order (retries included). */
  requestIds: string[];
  /** Monitoring requests received, by query id. */
  monitoringCalls: Map<string, number>;
  /** Statements that read INFORMATION_SCHEMA.QUERY_HISTORY (times, texts, batched status). */
  readonly historyStatements: number;
  /** Every monitoring request: which query, from which login session (one per client), when. */
  monitoringLog: { queryId: string; sessionId: number; at: number }[];
  /** Expire every session token: the next request gets 390112, and renewal works. */
  expireSessions(): void;
  /** Forget every session and master token: requests get 390104 and renewal fails (a lost session). */
  dropSessions(): void;
  /** The SESSION_PARAMETERS of each login, in order. */
  logins: Record<string, unknown>[];
  stop(): Promise<void>;
}

/** A user the double accepts: by password, or by a key-pair JWT (its public key, PEM). */
export interface DoubleUser {
  name: string;
  password?: string;
  publicKeyPem?: string;
  /** The roles granted to it; the first is its default. */
  roles: string[];
}

export interface DoubleOptions {
  /** The default user (role `R`); more users in `users`. */
  user?: string;
  password?: string;
  users?: DoubleUser[];
  /** Rows per result chunk; results longer than this are served as chunks. */
  chunkRows?: number;
  /** How long a sync query request waits before answering 333333 (real Snowflake: 45 s). */
  syncWaitMs?: number;
}

const DML_TYPE_IDS = { INSERT: 0x3100, UPDATE: 0x3200, DELETE: 0x3300, MERGE: 0x3400 } as const;
const SELECT_TYPE_ID = 0x1000;
const DDL_TYPE_ID = 0x6000;
/** The columns Snowflake answers a DML statement with; the first holds DuckDB's count. */
const DML_COLUMNS: Partial<Record<StatementType, { typeId: number; columns: string[] }>> = {
  [StatementType.INSERT]: { typeId: DML_TYPE_IDS.INSERT, columns: ['number of rows inserted'] },
  [StatementType.UPDATE]: {
    typeId: DML_TYPE_IDS.UPDATE,
    columns: ['number of rows updated', 'number of multi-joined rows updated'],
  },
  [StatementType.DELETE]: { typeId: DML_TYPE_IDS.DELETE, columns: ['number of rows deleted'] },
};
/** The marker of a SELECT whose result stays in DuckDB until its chunks are fetched. */
const LAZY_RESULT = /\/\*\s*lazy result\s*\*\//i;
const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;
/** A result column's type in a RESULT_SCAN table (wire strings cast into it). */
function scanType(column: RowType): string {
  if (column.type === 'fixed') return `DECIMAL(${Math.min(column.precision ?? 38, 38)}, ${column.scale})`;
  if (column.type === 'real') return 'DOUBLE';
  if (column.type === 'boolean') return 'BOOLEAN';
  return 'VARCHAR';
}
const countColumn = (name: string): RowType => ({ name, type: 'fixed', precision: 19, scale: 0, nullable: false });
const CANCELLED = { code: '000604', sqlState: '57014', message: 'SQL execution canceled' };
const timeoutError = (seconds: number) => ({
  code: '000630',
  sqlState: '57014',
  message: `Statement reached its statement or warehouse timeout of ${seconds} second(s) and was canceled.`,
});

const ok = (data: unknown = null) => ({ data, code: null, message: null, success: true });
const failure = (code: string, message: string, data: Record<string, unknown> = {}) => ({
  data: { errorCode: code, ...data },
  code,
  message,
  success: false,
});

export async function startSnowflakeDouble(options: DoubleOptions = {}): Promise<SnowflakeDouble> {
  const user = options.user ?? 'jobql';
  const password = options.password ?? 'secret';
  const chunkRows = options.chunkRows ?? 1000;
  const syncWaitMs = options.syncWaitMs ?? 2000;
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const users: DoubleUser[] = [{ name: user, password, roles: ['R'] }, ...(options.users ?? [])];
  /** Each role's database: the default role's is `instance`. */
  const roleInstances = new Map<string, DuckDBInstance>([['R', instance]]);
  async function instanceOf(role: string): Promise<DuckDBInstance> {
    let found = roleInstances.get(role);
    if (!found) {
      found = await DuckDBInstance.create(':memory:', { threads: '2' });
      roleInstances.set(role, found);
    }
    return found;
  }
  const counts = new Map<string, number>();
  const sessions = new Map<string, Session>();
  const masters = new Map<string, Session>();
  const queries = new Map<string, QueryRecord>();
  const byRequestId = new Map<string, QueryRecord>();
  const requestIds: string[] = [];
  const monitoringCalls = new Map<string, number>();
  let historyStatements = 0;
  const monitoringLog: SnowflakeDouble['monitoringLog'] = [];
  const faults: Faults = {
    tooManyRequests: 0,
    unavailable: 0,
    queueMs: 0,
    slowMs: 0,
    neverFinishMarker: '',
    sessionTtlMs: 0,
    expiredResults: new Set(),
    submitDelayMs: 0,
    hiddenFromHistory: new Set(),
  };
  const logins: Record<string, unknown>[] = [];
  let url = '';
  let nextSessionId = 1000;

  const count = (name: string): void => {
    counts.set(name, (counts.get(name) ?? 0) + 1);
  };

  /** The user and role a login request authenticates, or the error Snowflake answers. */
  async function loginOf(
    data: Record<string, any>,
    roleName: string | null,
  ): Promise<{ user: string; role: string } | { code: string; message: string }> {
    const refused = { code: '390100', message: 'Incorrect username or password was specified.' };
    const found = users.find((u) => u.name.toUpperCase() === String(data['LOGIN_NAME'] ?? '').toUpperCase());
    if (!found) return refused;
    if (data['AUTHENTICATOR'] === 'SNOWFLAKE_JWT') {
      if (!found.publicKeyPem) return refused;
      try {
        const key = await importSPKI(found.publicKeyPem, 'RS256');
        const { payload } = await jwtVerify(String(data['TOKEN'] ?? ''), key);
        if (!String(payload.sub ?? '').toUpperCase().endsWith(`.${found.name.toUpperCase()}`)) return refused;
      } catch {
        return { code: '390144', message: 'JWT token is invalid.' };
      }
    } else if (found.password === undefined || data['PASSWORD'] !== found.password) {
      return refused;
    }
    const role = roleName ? roleName.toUpperCase() : found.roles[0]!;
    if (!found.roles.includes(role)) {
      return { code: '390189', message: `Role '${role}' specified in the connect string is not granted to this user.` };
    }
    return { user: found.name, role };
  }

  /** A query the session's user ran; another user's is not there for it. */
  function ownQuery(id: string, session: Session): QueryRecord | undefined {
    const query = queries.get(id.toLowerCase());
    return query && query.user === session.user ? query : undefined;
  }

  /**
   * `RESULT_SCAN('<query id>')` (also in `TABLE(...)`): the result of an earlier query of the same
   * user, as a temporary table on the query's connection; another user's or an unknown id is 000709.
   * Columns keep their Snowflake types roughly (NUMBER, FLOAT, BOOLEAN; the rest as text).
   */
  async function withResultScans(
    query: QueryRecord,
    connection: DuckDBConnection,
  ): Promise<{ sqlText: string } | { code: string; sqlState: string; message: string }> {
    const pattern = /(?:table\s*\(\s*)?result_scan\s*\(\s*'([^']*)'\s*\)(?:\s*\))?/gi;
    const ids = [...query.sqlText.matchAll(pattern)].map((m) => m[1] ?? '');
    if (ids.length === 0) return { sqlText: query.sqlText };
    const tables = new Map<string, string>();
    for (const id of ids) {
      if (tables.has(id)) continue;
      const source = queries.get(id.toLowerCase());
      if (!source || source.user !== query.user || source.endTime === 0 || source.error) {
        return { code: '000709', sqlState: '02000', message: `Statement ${id} not found` };
      }
      const table = `result_scan_${tables.size}`;
      const columns = source.rowType.map((c) => `${quoteIdent(c.name)} ${scanType(c)}`).join(', ');
      await connection.run(`CREATE OR REPLACE TEMP TABLE ${table} (${columns})`);
      const rows = await rowsOf(source, 0, resultLength(source));
      if (rows.length > 0) {
        const appender = await connection.prepare(`INSERT INTO ${table} VALUES (${source.rowType.map(() => '?').join(', ')})`);
        for (const row of rows) {
          appender.bind(row as never[]);
          await appender.run();
        }
      }
      tables.set(id, table);
    }
    return { sqlText: query.sqlText.replace(pattern, (_m, id: string) => tables.get(id)!) };
  }

  function newSession(who: { user: string; role: string }): Session {
    const session: Session = {
      ...who,
      parameters: new Map(),
      token: `session-${randomUUID()}`,
      masterToken: `master-${randomUUID()}`,
      expiresAt: faults.sessionTtlMs > 0 ? Date.now() + faults.sessionTtlMs : Infinity,
      id: nextSessionId++,
    };
    sessions.set(session.token, session);
    masters.set(session.masterToken, session);
    return session;
  }

  /** The session of a request, or the GS error to answer with. */
  function authenticate(req: IncomingMessage): Session | { code: string; message: string } {
    const header = req.headers.authorization ?? '';
    const token = /Snowflake Token="([^"]+)"/.exec(header)?.[1] ?? '';
    const session = sessions.get(token);
    if (!session) return { code: '390104', message: 'Authentication token is invalid' };
    if (session.expiresAt <= Date.now()) return { code: '390112', message: 'Session token expired' };
    return session;
  }

  /** Statement parameters the double honours, from the query request's `parameters`. */
  interface StatementParameters {
    multiStatementCount: number;
    timeoutSeconds: number;
    queryTag: string;
  }

  function newRecord(
    sqlText: string,
    requestId: string | null,
    queryTag: string,
    session: Session | null,
    owner: { user: string; role: string; instance: DuckDBInstance },
  ): QueryRecord {
    const query: QueryRecord = {
      id: randomUUID(),
      ...owner,
      requestId,
      sqlText,
      queryTag,
      sessionParameters: new Map(session?.parameters ?? []),
      status: 'QUEUED',
      startTime: Date.now(),
      queuedMs: 0,
      endTime: 0,
      rowType: [],
      rows: [],
      statementTypeId: SELECT_TYPE_ID,
      resultIds: null,
      error: null,
      connection: null,
      cancelled: false,
      cancelError: null,
      done: Promise.resolve(),
    };
    queries.set(query.id, query);
    return query;
  }

  async function runQuery(query: QueryRecord, values: unknown[], params: StatementParameters): Promise<void> {
    if (faults.queueMs > 0) {
      query.status = 'QUEUED';
      await sleep(faults.queueMs);
    }
    if (query.cancelled) return finish(query, query.cancelError ?? CANCELLED);
    query.status = 'RUNNING';
    query.queuedMs = Date.now() - query.startTime;
    const cancel = /^\s*select\s+system\$cancel_query\s*\(\s*'([^']+)'\s*\)\s*;?\s*$/i.exec(query.sqlText);
    if (cancel?.[1]) {
      const target = queries.get(cancel[1].toLowerCase());
      if (target && target.user === query.user) abort(target);
      query.rowType = [{ name: `SYSTEM$CANCEL_QUERY('${cancel[1].toUpperCase()}')`, type: 'text', scale: 0, nullable: true }];
      query.rows = [[`query [${cancel[1]}] terminated.`]];
      return finish(query, null);
    }
    if (/information_schema\.query_history/i.test(query.sqlText)) {
      answerHistory(query, values);
      return finish(query, null);
    }
    const timer =
      params.timeoutSeconds > 0
        ? setTimeout(() => abort(query, timeoutError(params.timeoutSeconds)), params.timeoutSeconds * 1000)
        : null;
    const connection = await query.instance.connect();
    query.connection = connection;
    try {
      const scanned = await withResultScans(query, connection);
      if ('code' in scanned) return finish(query, scanned);
      const extracted = await connection.extractStatements(scanned.sqlText);
      const count = extracted.count;
      if (params.multiStatementCount !== 0 && count !== params.multiStatementCount) {
        return finish(query, {
          code: '000008',
          sqlState: '0A000',
          message: `Actual statement count ${count} did not match the desired statement count ${params.multiStatementCount}.`,
        });
      }
      if (faults.slowMs > 0) await sleep(faults.slowMs);
      // A scripted duration: `/* sleep 1500 */` in the SQL runs it 1.5 s longer (cancel stops it).
      const scripted = Number(/\/\*\s*sleep\s+(\d+)\s*\*\//.exec(query.sqlText)?.[1] ?? 0);
      // One timer, which a cancel cuts short: a thousand sleeping queries cost no CPU.
      if (scripted > 0 && !query.cancelled) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, scripted);
          query.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      if (faults.neverFinishMarker && query.sqlText.includes(faults.neverFinishMarker)) {
        await new Promise<void>((resolve) => {
          const check = setInterval(() => query.cancelled && (clearInterval(check), resolve()), 20);
        });
      }
      if (query.cancelled) return finish(query, query.cancelError ?? CANCELLED);
      let remaining = values;
      if (count === 1) {
        const prepared = await extracted.prepare(0);
        await runStatement(query, connection, prepared, scanned.sqlText, remaining);
        return finish(query, null);
      }
      // A multi-statement query: each statement is a child query of its own, run in order; the
      // parent's result names them (`resultIds`), and the first failure fails the parent.
      const children: string[] = [];
      // Statement texts, for a MERGE's counting rewrite (jobql's splitter agrees with DuckDB's parser).
      const texts = splitStatements(scanned.sqlText);
      for (let i = 0; i < count; i++) {
        const prepared = await extracted.prepare(i);
        const child = newRecord(query.sqlText, null, params.queryTag, null, { user: query.user, role: query.role, instance: query.instance });
        child.sessionParameters = query.sessionParameters;
        child.status = 'RUNNING';
        children.push(child.id);
        query.child = child;
        const used = prepared.parameterCount;
        const error = await runStatement(child, connection, prepared, texts[i] ?? '', remaining.slice(0, used)).then(
          () => null,
          (e: unknown) => errorOf(e, child),
        );
        remaining = remaining.slice(used);
        finish(child, error);
        if (error) return finish(query, error);
      }
      query.rowType = [{ name: 'multiple statement execution', type: 'text', scale: 0, nullable: true }];
      query.rows = [['Multiple statements executed successfully.']];
      query.resultIds = children.join(',');
      return finish(query, null);
    } catch (error) {
      return finish(query, errorOf(error, query));
    } finally {
      if (timer) clearTimeout(timer);
      query.connection = null;
      connection.closeSync();
    }
  }

  /** Runs one statement into `query`'s result, Snowflake style: DML answers with its counts. */
  async function runStatement(
    query: QueryRecord,
    connection: DuckDBConnection,
    prepared: DuckDBPreparedStatement,
    text: string,
    values: unknown[],
  ): Promise<void> {
    const type = prepared.statementType;
    if (type === StatementType.MERGE_INTO) {
      // DuckDB counts a MERGE as one number; Snowflake reports each action, so ask per row.
      const counted = await connection.prepare(`${text.trim().replace(/;\s*$/, '')} RETURNING merge_action`);
      if (values.length > 0) counted.bind(values as never[]);
      const actions = (await counted.runAndReadAll()).getRows().map((row) => String(row[0]));
      const n = (action: string): string => String(actions.filter((a) => a === action).length);
      query.rowType = ['inserted', 'updated', 'deleted'].map((what) => countColumn(`number of rows ${what}`));
      query.rows = [[n('INSERT'), n('UPDATE'), n('DELETE')]];
      query.statementTypeId = DML_TYPE_IDS.MERGE;
      return;
    }
    if (type === StatementType.SELECT && LAZY_RESULT.test(text)) return runLazily(query, connection, text, values);
    if (values.length > 0) prepared.bind(values as never[]);
    const reader = await prepared.runAndReadAll();
    const dml = DML_COLUMNS[type];
    if (dml) {
      const changed = String(reader.getRows()[0]?.[0] ?? 0);
      query.rowType = dml.columns.map(countColumn);
      query.rows = [dml.columns.map((_, i) => (i === 0 ? changed : '0'))];
      query.statementTypeId = dml.typeId;
      return;
    }
    if (type !== StatementType.SELECT && type !== StatementType.EXPLAIN) {
      query.rowType = [{ name: 'status', type: 'text', scale: 0, nullable: true }];
      query.rows = [['Statement executed successfully.']];
      query.statementTypeId = DDL_TYPE_ID;
      return;
    }
    const types = reader.columnTypes();
    query.rowType = reader.columnNames().map((name, i) => rowTypeOf(name, types[i]!));
    const json = reader.getRowsJson();
    query.rows = reader.getRows().map((row, r) => row.map((v, c) => wireValue(v, json[r]?.[c], types[c]!)));
    query.statementTypeId = type === StatementType.SELECT ? SELECT_TYPE_ID : DDL_TYPE_ID;
  }

  /** Runs a SELECT into a table of its own; its rows are read from there a chunk at a time. */
  async function runLazily(query: QueryRecord, connection: DuckDBConnection, text: string, values: unknown[]): Promise<void> {
    const table = `lazy_result_${query.id.replaceAll('-', '_')}`;
    const create = await connection.prepare(`CREATE TABLE ${table} AS\n${text.trim().replace(/;\s*$/, '')}\n`);
    if (values.length > 0) create.bind(values as never[]);
    await create.run();
    const shape = await connection.runAndReadAll(`SELECT * FROM ${table} LIMIT 0`);
    const counted = await connection.runAndReadAll(`SELECT count(*) FROM ${table}`);
    const types = shape.columnTypes();
    query.rowType = shape.columnNames().map((name, i) => rowTypeOf(name, types[i]!));
    query.lazy = { table, count: Number(counted.getRows()[0]?.[0] ?? 0), types };
    query.statementTypeId = SELECT_TYPE_ID;
  }

  function resultLength(query: QueryRecord): number {
    return query.lazy?.count ?? query.rows.length;
  }

  /** Rows [first, first + count) as wire strings. */
  async function rowsOf(query: QueryRecord, first: number, count: number): Promise<(string | null)[][]> {
    const lazy = query.lazy;
    if (!lazy) return query.rows.slice(first, first + count);
    const connection = await query.instance.connect();
    try {
      const reader = await connection.runAndReadAll(
        `SELECT * FROM ${lazy.table} WHERE rowid >= ${first} AND rowid < ${first + count} ORDER BY rowid`,
      );
      const json = reader.getRowsJson();
      return reader.getRows().map((row, r) => row.map((v, c) => wireValue(v, json[r]?.[c], lazy.types[c]!)));
    } finally {
      connection.closeSync();
    }
  }

  /**
   * Query history, as the user sees it: the rows of the queries whose ids are bound (the user's
   * own, unless `hiddenFromHistory` hides them), bound or written as literals, with the columns the select list names, by name
   * or alias. The columns jobql asks for: the text, and the times in epoch milliseconds.
   */
  function answerHistory(query: QueryRecord, values: unknown[]): void {
    const list = /^\s*select\s+([\s\S]+?)\s+from\s/i.exec(query.sqlText)?.[1] ?? '';
    const names = list.split(/,(?![^(]*\))/).map((item) => (/(\w+)\s*$/.exec(item.trim())?.[1] ?? '').toUpperCase());
    const cell: Record<string, (target: QueryRecord) => string | null> = {
      QUERY_ID: (target) => target.id,
      QUERY_TEXT: (target) => target.sqlText,
      STARTED_MS: (target) => String(target.startTime),
      QUEUED_MS: (target) => String(target.queuedMs),
      ENDED_MS: (target) => (target.endTime ? String(target.endTime) : null),
      // As QUERY_HISTORY spells them: lower case; a cancelled query is failed_with_error, code 604.
      EXECUTION_STATUS: (target) => target.status.toLowerCase(),
      ERROR_CODE: (target) => (target.error ? String(Number(target.error.code)) : null),
      ERROR_MESSAGE: (target) => target.error?.message ?? null,
    };
    const TEXT = new Set(['QUERY_TEXT', 'QUERY_ID', 'EXECUTION_STATUS', 'ERROR_CODE', 'ERROR_MESSAGE']);
    historyStatements += 1;
    query.rowType = names.map((name) =>
      TEXT.has(name)
        ? { name, type: 'text', scale: 0, nullable: true }
        : { name, type: 'fixed', precision: 38, scale: 0, nullable: true },
    );
    // The ids asked for: bound, or written into the text as literals.
    const ids = [...values.map(String), ...[...query.sqlText.matchAll(/'([0-9a-f-]{36})'/gi)].map((match) => match[1]!)];
    query.rows = ids
      .map((id) => queries.get(id.toLowerCase()))
      .filter((target): target is QueryRecord => !!target && target.user === query.user && !faults.hiddenFromHistory.has(target.id))
      .map((target) => names.map((name) => cell[name]?.(target) ?? null));
  }

  function finish(query: QueryRecord, error: QueryRecord['error']): void {
    if (query.endTime !== 0) return;
    query.error = error;
    query.status = error ? 'FAILED_WITH_ERROR' : 'SUCCESS';
    query.endTime = Date.now();
    if (query.child && query.child.endTime === 0) finish(query.child, error);
  }

  function errorOf(error: unknown, query: QueryRecord): NonNullable<QueryRecord['error']> {
    if (query.cancelled) return query.cancelError ?? CANCELLED;
    const message = error instanceof Error ? error.message : String(error);
    if (/Catalog Error/.test(message)) return { code: '002003', sqlState: '42S02', message: `SQL compilation error:\n${message}` };
    if (/Parser Error/.test(message)) return { code: '001003', sqlState: '42000', message: `SQL compilation error:\n${message}` };
    return { code: '100038', sqlState: '22018', message };
  }

  /** ALTER SESSION SET name = 'value', ...: kept per session; true when the SQL was one. */
  function alterSession(query: QueryRecord, session: Session): boolean {
    const match = /^\s*alter\s+session\s+set\s+(.*?);?\s*$/is.exec(query.sqlText);
    if (!match?.[1]) return false;
    for (const [, name = '', value = ''] of match[1].matchAll(/(\w+)\s*=\s*'([^']*)'/g)) {
      session.parameters.set(name.toUpperCase(), value);
    }
    query.rowType = [{ name: 'status', type: 'text', scale: 0, nullable: true }];
    query.rows = [['Statement executed successfully.']];
    query.statementTypeId = DDL_TYPE_ID;
    query.status = 'SUCCESS';
    query.endTime = Date.now();
    return true;
  }

  function abort(query: QueryRecord, reason: NonNullable<QueryRecord['error']> = CANCELLED): void {
    if (query.endTime !== 0) return;
    query.cancelled = true;
    query.cancelError ??= reason;
    query.wake?.();
    query.connection?.interrupt();
  }

  async function resultBody(query: QueryRecord): Promise<unknown> {
    if (faults.expiredResults.has(query.id)) {
      return failure('000710', `Result for query ${query.id} has expired`, { sqlState: '02000', queryId: query.id });
    }
    if (query.error) return failure(query.error.code, query.error.message, { sqlState: query.error.sqlState, queryId: query.id });
    const total = resultLength(query);
    const inline = await rowsOf(query, 0, chunkRows);
    const chunks = [];
    for (let first = chunkRows; first < total; first += chunkRows) {
      const rowCount = Math.min(chunkRows, total - first);
      chunks.push({ url: `${url}/chunks/${query.id}/${first}`, rowCount, uncompressedSize: rowCount * 16, compressedSize: rowCount * 8 });
    }
    return ok({
      parameters: Object.entries({
        TIMEZONE: 'UTC',
        BINARY_OUTPUT_FORMAT: 'HEX',
        DATE_OUTPUT_FORMAT: 'YYYY-MM-DD',
        TIME_OUTPUT_FORMAT: 'HH24:MI:SS',
        ...Object.fromEntries(query.sessionParameters),
      }).map(([name, value]) => ({ name, value })),
      rowtype: query.rowType,
      rowset: inline,
      total,
      returned: total,
      queryId: query.id,
      queryResultFormat: 'json',
      statementTypeId: query.statementTypeId,
      version: 1,
      ...(chunks.length > 0 ? { chunks, chunkHeaders: {} } : {}),
      ...(query.resultIds ? { resultIds: query.resultIds } : {}),
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { pathname, searchParams } = new URL(req.url ?? '/', 'http://double');
    const send = (status: number, body: unknown, contentType = 'application/json'): void => {
      res.writeHead(status, { 'content-type': contentType });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const raw = await readBody(req);
    const body = raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Record<string, any>) : {};

    if (pathname === '/session/v1/login-request') {
      count('login');
      const data = body['data'] ?? {};
      const who = await loginOf(data, searchParams.get('roleName'));
      if ('code' in who) return send(200, failure(who.code, who.message));
      const session = newSession(who);
      logins.push({ ...(data.SESSION_PARAMETERS ?? {}) });
      const keepAlive = data.SESSION_PARAMETERS?.CLIENT_SESSION_KEEP_ALIVE === true;
      return send(
        200,
        ok({
          token: session.token,
          masterToken: session.masterToken,
          validityInSeconds: 3600,
          masterValidityInSeconds: 14400,
          sessionId: session.id,
          parameters: [
            { name: 'CLIENT_SESSION_KEEP_ALIVE', value: keepAlive },
            { name: 'CLIENT_SESSION_KEEP_ALIVE_HEARTBEAT_FREQUENCY', value: 3600 },
          ],
          sessionInfo: { databaseName: 'DB', schemaName: 'PUBLIC', warehouseName: 'WH', roleName: 'R' },
        }),
      );
    }
    if (pathname === '/telemetry/send') {
      count('telemetry');
      return send(200, ok());
    }
    if (pathname.startsWith('/chunks/')) {
      count('chunk');
      const [, , id = '', first = '0'] = pathname.split('/');
      const query = queries.get(id);
      if (!query) return send(404, 'no such chunk', 'text/plain');
      const rows = await rowsOf(query, Number(first), chunkRows);
      return send(200, rows.map((r) => JSON.stringify(r)).join(','), 'text/plain');
    }
    if (pathname === '/session/token-request') {
      count('renew');
      const master = /Snowflake Token="([^"]+)"/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const old = masters.get(master);
      if (!old) return send(200, failure('390114', 'Master token expired'));
      const session = newSession(old);
      return send(
        200,
        ok({
          sessionToken: session.token,
          validityInSecondsST: 3600,
          masterToken: session.masterToken,
          validityInSecondsMT: 14400,
          sessionId: session.id,
        }),
      );
    }

    if (faults.tooManyRequests > 0) {
      faults.tooManyRequests -= 1;
      count('429');
      return send(429, 'Too Many Requests', 'text/plain');
    }
    const session = authenticate(req);
    if (!('token' in session)) {
      count('unauthenticated');
      return send(200, failure(session.code, session.message));
    }

    if (pathname === '/queries/v1/query-request') {
      count('query');
      const requestId = searchParams.get('requestId');
      if (requestId) requestIds.push(requestId);
      if (faults.unavailable > 0) {
        faults.unavailable -= 1;
        count('503');
        return send(503, 'Service Unavailable', 'text/plain');
      }
      const known = requestId ? byRequestId.get(requestId) : undefined;
      let query = known;
      if (!query) {
        const parameters = (body['parameters'] ?? {}) as Record<string, unknown>;
        const params = {
          multiStatementCount: Number(parameters['MULTI_STATEMENT_COUNT'] ?? 1),
          timeoutSeconds: Number(parameters['STATEMENT_TIMEOUT_IN_SECONDS'] ?? 0),
          queryTag: String(parameters['QUERY_TAG'] ?? ''),
        };
        const bindings = (body['bindings'] ?? {}) as Record<string, { type: string; value: unknown }>;
        const values = Object.keys(bindings)
          .sort((a, b) => Number(a) - Number(b))
          .map((k) => bindingValue(bindings[k]));
        query = newRecord(String(body['sqlText'] ?? ''), requestId, params.queryTag, session, {
          user: session.user,
          role: session.role,
          instance: await instanceOf(session.role),
        });
        if (alterSession(query, session)) query.done = Promise.resolve();
        else {
        if (requestId) byRequestId.set(requestId, query);
        query.done = runQuery(query, values, params);
        }
      }
      if (faults.submitDelayMs > 0) await sleep(faults.submitDelayMs);
      if (body['asyncExec'] === true) {
        return send(200, {
          data: { queryId: query.id, getResultUrl: `/queries/${query.id}/result`, queryAbortsAfterSecs: 300, progressDesc: null },
          code: '333334',
          message: 'Asynchronous execution in progress. Use provided query id to perform query monitoring and management.',
          success: true,
        });
      }
      const finished = await Promise.race([query.done.then(() => true), sleep(syncWaitMs).then(() => false)]);
      if (!finished) return send(200, { data: { queryId: query.id, getResultUrl: `/queries/${query.id}/result` }, code: '333333', success: true });
      return send(200, await resultBody(query));
    }
    const monitoring = /^\/monitoring\/queries\/([0-9a-f-]+)$/.exec(pathname);
    if (monitoring?.[1]) {
      count('monitoring');
      monitoringCalls.set(monitoring[1], (monitoringCalls.get(monitoring[1]) ?? 0) + 1);
      monitoringLog.push({ queryId: monitoring[1], sessionId: session.id, at: Date.now() });
      const query = ownQuery(monitoring[1], session);
      if (!query) return send(200, ok({ queries: [] }));
      return send(
        200,
        ok({
          queries: [
            {
              id: query.id,
              status: query.status,
              errorCode: query.error ? Number(query.error.code) : 0,
              errorMessage: query.error?.message ?? null,
              sqlText: query.sqlText,
              startTime: query.startTime,
              endTime: query.endTime,
            },
          ],
        }),
      );
    }
    const result = /^\/queries\/([0-9a-f-]+)\/result$/.exec(pathname);
    if (result?.[1]) {
      count('result');
      if (faults.unavailable > 0) {
        faults.unavailable -= 1;
        count('503');
        return send(503, 'Service Unavailable', 'text/plain');
      }
      const query = ownQuery(result[1], session);
      if (!query) return send(200, failure('000709', `Statement ${result[1]} not found`, { sqlState: '02000' }));
      await Promise.race([query.done, sleep(syncWaitMs)]);
      if (query.endTime === 0) return send(200, { data: { queryId: query.id, getResultUrl: `/queries/${query.id}/result` }, code: '333333', success: true });
      return send(200, await resultBody(query));
    }
    const abortById = /^\/queries\/([0-9a-f-]+)\/abort-request$/.exec(pathname);
    if (abortById?.[1] || pathname === '/queries/v1/abort-request') {
      count('abort');
      const query = abortById?.[1] ? ownQuery(abortById[1], session) : ownQuery(byRequestId.get(String(body['requestId'] ?? ''))?.id ?? '', session);
      if (!query || query.endTime !== 0) {
        return send(200, { ...failure('000605', 'Identified SQL statement is not currently executing.', { sqlState: '01000' }), code: '' });
      }
      abort(query);
      return send(200, ok());
    }
    if (pathname === '/session/heartbeat') {
      count('heartbeat');
      return send(200, ok());
    }
    if (pathname === '/session' && searchParams.get('delete')) {
      count('logout');
      sessions.delete(session.token);
      return send(200, ok());
    }
    count('unknown');
    return send(404, failure('000404', `No endpoint ${req.method} ${pathname}`));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(failure('000001', error instanceof Error ? error.message : String(error))));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    counts,
    faults,
    queries,
    requestIds,
    monitoringCalls,
    get historyStatements() {
      return historyStatements;
    },
    monitoringLog,
    logins,
    expireSessions() {
      for (const session of sessions.values()) session.expiresAt = 0;
    },
    dropSessions() {
      sessions.clear();
      masters.clear();
    },
    async stop() {
      for (const query of queries.values()) abort(query);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([...queries.values()].map((q) => q.done));
      for (const each of roleInstances.values()) each.closeSync();
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A binding as DuckDB should see it: the driver sends every value as a string. */
function bindingValue(binding: { type: string; value: unknown } | undefined): unknown {
  if (!binding || binding.value === null || binding.value === undefined) return null;
  const value = String(binding.value);
  if (binding.type === 'FIXED') return /^-?\d+$/.test(value) ? BigInt(value) : Number(value);
  if (binding.type === 'REAL') return Number(value);
  if (binding.type === 'BOOLEAN') return value === 'true' || value === '1';
  return value;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  // The driver's bodies are plain JSON in practice, but gzip is allowed: sniff the magic bytes.
  return raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
}
