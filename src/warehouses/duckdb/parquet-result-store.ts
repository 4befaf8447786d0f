import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Readable } from 'node:stream';
import type { DuckDBConnection, DuckDBInstance, DuckDBType } from '@duckdb/node-api';
import type { Column, Download, DownloadFormat, ResultPage } from '../../core/results.ts';
import { arrowStream, csvStream, fileStream, ndjsonStream } from './downloads.ts';
import { convertRows } from './json-values.ts';
import { resultsDirOf, type TenantLayout } from './tenants.ts';

/**
 * The embedded warehouse's results: one Parquet file per query, written by DuckDB itself with
 * `COPY (...) TO`, so rows stream from the engine to disk in the engine's own memory budget and
 * never pass through JavaScript. A page is read back with `read_parquet(..., file_row_number)`
 * and a range filter on the row number, which DuckDB answers from row-group statistics: the cost
 * of a page does not grow with its offset. Each file is also linked under its job id, so SQL can
 * read it by either id (`result_scan`). Metadata (original column types, row count, truncation)
 * lives in `results.sqlite` beside the files. This file is the reading side (both processes) and
 * the storage SQL; parquet-result-writer.ts is the engine process's writing side.
 */
export interface StoredResult {
  columns: Column[];
  totalRows: number;
  truncated: boolean;
}

/** A result's metadata row: what it holds, and whose directory its file is in. */
interface ResultMeta extends StoredResult {
  jobId: string;
  /** The tenant key (tenants.ts): '' for open mode's results in the results directory itself. */
  tenant: string;
}

/**
 * DuckDB types Parquet cannot hold exactly, stored as DuckDB's own text and cast back when read:
 * HUGEINT, UHUGEINT and BIGNUM would become DOUBLE, TIME WITH TIME ZONE would lose its offset,
 * and a negative INTERVAL cannot be written at all.
 */
const LOSSY_IN_PARQUET = /\b(TIME WITH TIME ZONE|UHUGEINT|HUGEINT|BIGNUM|INTERVAL)\b/g;
/** Types Parquet keeps exactly but reads back as a finer one (seconds and milliseconds as micros). */
const COARSENED_IN_PARQUET = /\bTIMESTAMP_(S|MS)\b/;

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;
export const quoteLiteral = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** The type to store a column as: the same, with lossy parts (also nested ones) made VARCHAR. */
export function storageType(type: DuckDBType | string): string {
  // Replace outside quoted struct field names and ENUM labels only.
  return type
    .toString()
    .split(/("(?:[^"]|"")*"|'(?:[^']|'')*')/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(LOSSY_IN_PARQUET, 'VARCHAR')))
    .join('');
}

/**
 * Reads stored columns back as their original types. A column holding a UNION stays in Parquet's
 * STRUCT encoding (DuckDB cannot cast that back); json-values.ts decodes it.
 */
function restoringSelect(columns: Column[]): string {
  const restore = (type: string): boolean =>
    type !== '' && !type.includes('UNION(') && (storageType(type) !== type || COARSENED_IN_PARQUET.test(type));
  return columns
    .map((c, i) => (restore(c.type) ? `CAST(#${i + 1} AS ${c.type})` : `#${i + 1}`) + ` AS ${quoteIdent(c.name)}`)
    .join(', ');
}

/**
 * Rows [offset, end) of a stored result. The filter on `file_row_number` is answered from the row
 * groups' statistics, so only the row groups that hold the page are read, whatever the offset.
 */
export function pageQuery(file: string, columns: Column[], offset: number, end: number): string {
  return `SELECT ${restoringSelect(columns)} FROM read_parquet(${quoteLiteral(file)}, file_row_number = true)
          WHERE file_row_number >= ${offset} AND file_row_number < ${end} ORDER BY file_row_number`;
}

/** What an operator allows one result to keep. */
export interface ResultCaps {
  maxRows: number;
  maxBytes: number;
}

/** How long a metadata write waits for the other process's (engine or API) lock. */
const BUSY_TIMEOUT_MS = 5000;
/**
 * Where earlier versions of the API process wrote temporary CSV downloads (CSV is streamed now);
 * the engine's stray cleanup skips it, and the API process empties it at start.
 */
const DOWNLOADS_DIR = '.downloads';

/**
 * The API process's side of the results: reads pages, streams downloads and deletes expired
 * results, with a DuckDB instance of its own that runs only jobql's SQL over the stored files.
 * It never removes files it did not make: the engine process writes into the same directories.
 * One results.sqlite holds every tenant's metadata; each row names the tenant whose directory
 * holds the file.
 */
export class ParquetResultStore {
  protected readonly layout: TenantLayout;
  protected readonly db: DatabaseSync;
  protected readonly instance: DuckDBInstance;

  constructor(layout: TenantLayout, instance: DuckDBInstance) {
    this.layout = layout;
    this.instance = instance;
    fs.mkdirSync(layout.resultsDir, { recursive: true });
    // Two processes open this file (the engine writes, the API reads and deletes): wait for a
    // lock rather than fail with SQLITE_BUSY. The timeout comes first: the rest may need a lock.
    this.db = new DatabaseSync(path.join(layout.resultsDir, 'results.sqlite'));
    this.db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS results (
        query_id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        columns TEXT NOT NULL,
        total_rows INTEGER NOT NULL,
        truncated INTEGER NOT NULL
      );`);
    // Results written before tenants existed are open mode's, in the results directory itself.
    const columns = this.db.prepare('PRAGMA table_info(results)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'tenant')) {
      try {
        this.db.exec("ALTER TABLE results ADD COLUMN tenant TEXT NOT NULL DEFAULT ''");
      } catch (error) {
        // The other process added it first.
        if (!/duplicate column/i.test(String(error))) throw error;
      }
    }
  }

  /**
   * Removes the temporary download files a previous API process left behind. Only one API process
   * uses a data directory, so whatever is there is its own.
   */
  removeOwnStrays(): void {
    fs.rmSync(path.join(this.layout.resultsDir, DOWNLOADS_DIR), { recursive: true, force: true });
  }

  /** The file of a result (by query id or job id) in a tenant's results directory. */
  protected fileIn(tenant: string, id: string): string {
    return path.join(resultsDirOf(this.layout, tenant), `${id}.parquet`);
  }

  protected meta(queryId: string): ResultMeta | null {
    const row = this.db.prepare('SELECT * FROM results WHERE query_id = ?').get(queryId) as
      | { job_id: string; columns: string; total_rows: number; truncated: number; tenant: string }
      | undefined;
    if (!row) return null;
    return {
      jobId: row.job_id,
      tenant: row.tenant,
      columns: JSON.parse(row.columns) as Column[],
      totalRows: row.total_rows,
      truncated: row.truncated === 1,
    };
  }

  /** A result's file, when it is there (a result without columns has none). */
  #existing(queryId: string, meta: ResultMeta): string | null {
    const file = this.fileIn(meta.tenant, queryId);
    return fs.existsSync(file) ? file : null;
  }

  async read(queryId: string, offset: number, limit: number): Promise<ResultPage | null> {
    const meta = this.meta(queryId);
    if (!meta) return null;
    const end = Math.min(offset + limit, meta.totalRows);
    const base = { columns: meta.columns, totalRows: meta.totalRows, offset, truncated: meta.truncated };
    if (meta.columns.length === 0 || offset >= end) return { ...base, rows: [] };
    const file = this.#existing(queryId, meta);
    if (!file) return null;
    return this.withConnection(async (connection) => {
      const reader = await connection.runAndReadAll(pageQuery(file, meta.columns, offset, end));
      return { ...base, rows: convertRows(reader.columnTypes(), reader.getColumns()) };
    });
  }

  /**
   * The whole result as a download, streamed with constant memory: Parquet is the stored file
   * itself (with its size, so it answers byte ranges); CSV and NDJSON are converted chunk by chunk
   * to the same JSON forms as pages; Arrow IPC is decoded from the Parquet file batch by batch.
   */
  async download(queryId: string, format: DownloadFormat): Promise<Download | null> {
    const meta = this.meta(queryId);
    if (!meta) return null;
    const file = meta.columns.length > 0 ? this.#existing(queryId, meta) : null;
    if (meta.columns.length > 0 && !file) return null;
    const select = `SELECT ${restoringSelect(meta.columns)} FROM read_parquet(${quoteLiteral(file ?? '')})`;
    switch (format) {
      case 'parquet':
        return file ? fileStream(file, format) : null;
      case 'arrow':
        return file ? arrowStream(file) : null;
      case 'ndjson': {
        if (!file) return { format, body: emptyStream() };
        return ndjsonStream(() => this.instance.connect(), select);
      }
      case 'csv': {
        if (!file) return { format, body: emptyStream() };
        return csvStream(() => this.instance.connect(), select);
      }
    }
  }

  delete(queryId: string): void {
    const meta = this.meta(queryId);
    if (!meta) return;
    fs.rmSync(this.fileIn(meta.tenant, meta.jobId), { force: true });
    fs.rmSync(this.fileIn(meta.tenant, queryId), { force: true });
    this.db.prepare('DELETE FROM results WHERE query_id = ?').run(queryId);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  protected async withConnection<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.instance.connect();
    try {
      return await work(connection);
    } finally {
      connection.closeSync();
    }
  }
}

function emptyStream(): Readable {
  return Readable.from([]);
}
