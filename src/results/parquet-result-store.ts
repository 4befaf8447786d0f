import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { DuckDBInstance, DuckDBType } from '@duckdb/node-api';
import type { JsonValue } from '../jobs/job.ts';
import type { Column, ResultPage } from '../warehouses/warehouse.ts';
import { converterFor } from './json-values.ts';

/**
 * The embedded warehouse's results: one Parquet file per query, written by DuckDB itself with
 * `COPY (...) TO`, so rows stream from the engine to disk in the engine's own memory budget and
 * never pass through JavaScript. A page is read back with `read_parquet(..., file_row_number)`
 * and a range filter on the row number, which DuckDB answers from row-group statistics: the cost
 * of a page does not grow with its offset. Each file is also linked under its job id, so SQL can
 * read it by either id (`result_scan`).
 *
 * Small results of statements that are not queries (a DDL's status, a DML's count) are kept inline
 * as JSON in `results.sqlite`, with the metadata of every result.
 */
export interface StoredResult {
  columns: Column[];
  totalRows: number;
  truncated: boolean;
  /** The Parquet file, or null for an inline result. */
  file: string | null;
}

/**
 * DuckDB types Parquet cannot hold exactly, stored as DuckDB's own text and cast back when read:
 * HUGEINT, UHUGEINT and BIGNUM would become DOUBLE, TIME WITH TIME ZONE would lose its offset,
 * and a negative INTERVAL cannot be written at all.
 */
const LOSSY_IN_PARQUET = /\b(TIME WITH TIME ZONE|UHUGEINT|HUGEINT|BIGNUM|INTERVAL)\b/g;
/** Types Parquet keeps exactly but reads back as a finer one (seconds and milliseconds as micros). */
const COARSENED_IN_PARQUET = /\bTIMESTAMP_(S|MS)\b/;

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;
export const quoteLiteral = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** The type to store a column as: the same, with lossy parts (also nested ones) made VARCHAR. */
export function storageType(type: DuckDBType | string): string {
  // Replace outside double-quoted struct field names only.
  return type
    .toString()
    .split(/("(?:[^"]|"")*")/)
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
  return columns.map((c, i) => (restore(c.type) ? `CAST(#${i + 1} AS ${c.type})` : `#${i + 1}`)).join(', ');
}

export class ParquetResultStore {
  readonly directory: string;
  readonly #db: DatabaseSync;
  readonly #instance: DuckDBInstance;

  constructor(directory: string, instance: DuckDBInstance) {
    this.directory = directory;
    this.#instance = instance;
    fs.mkdirSync(directory, { recursive: true });
    this.#db = new DatabaseSync(path.join(directory, 'results.sqlite'));
    this.#db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS results (
        query_id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        columns TEXT NOT NULL,
        total_rows INTEGER NOT NULL,
        truncated INTEGER NOT NULL,
        inline_rows TEXT
      );`);
    this.#removeStrays();
  }

  /** Where a query's Parquet file goes; `.partial` until it is complete. */
  partialFile(queryId: string): string {
    return path.join(this.directory, `${queryId}.parquet.partial`);
  }

  /**
   * The SELECT that a job's last query is stored through: the user's statement as a subquery
   * (on lines of its own, so a trailing comment cannot swallow what follows), lossy types cast,
   * and one row past the cap so truncation can be told.
   */
  storageQuery(statement: string, columns: { name: string; type: DuckDBType | null }[], maxRows: number): string {
    const lossy = (type: DuckDBType | null): boolean => type !== null && storageType(type) !== type.toString();
    const select = columns.some((c) => lossy(c.type))
      ? columns
          .map((c, i) => {
            const ref = `#${i + 1}`;
            return c.type && lossy(c.type)
              ? `CAST(${ref} AS ${storageType(c.type)}) AS ${quoteIdent(c.name)}`
              : `${ref} AS ${quoteIdent(c.name)}`;
          })
          .join(', ')
      : '*';
    return `SELECT ${select} FROM (\n${statement}\n) LIMIT ${maxRows + 1}`;
  }

  /** The columns of a written file, for a statement whose shape only its bindings decided. */
  async fileColumns(queryId: string): Promise<Column[]> {
    const connection = await this.#instance.connect();
    try {
      const reader = await connection.runAndReadAll(
        `SELECT * FROM read_parquet(${quoteLiteral(this.partialFile(queryId))}) LIMIT 0`,
      );
      const types = reader.columnTypes();
      return reader.columnNames().map((name, i) => ({ name, type: types[i]?.toString() ?? 'UNKNOWN', nullable: true }));
    } finally {
      connection.closeSync();
    }
  }

  /** Makes a written Parquet file the query's result (atomic rename), linked under the job id. */
  commitFile(queryId: string, jobId: string, columns: Column[], written: number, maxRows: number): StoredResult {
    const file = path.join(this.directory, `${queryId}.parquet`);
    fs.renameSync(this.partialFile(queryId), file);
    fs.linkSync(file, path.join(this.directory, `${jobId}.parquet`));
    const totalRows = Math.min(written, maxRows);
    const truncated = written > maxRows;
    this.#db
      .prepare('INSERT INTO results (query_id, job_id, columns, total_rows, truncated) VALUES (?, ?, ?, ?, ?)')
      .run(queryId, jobId, JSON.stringify(columns), totalRows, truncated ? 1 : 0);
    return { columns, totalRows, truncated, file };
  }

  commitInline(queryId: string, jobId: string, columns: Column[], rows: JsonValue[][], truncated: boolean): StoredResult {
    this.#db
      .prepare('INSERT INTO results (query_id, job_id, columns, total_rows, truncated, inline_rows) VALUES (?, ?, ?, ?, ?, ?)')
      .run(queryId, jobId, JSON.stringify(columns), rows.length, truncated ? 1 : 0, JSON.stringify(rows));
    return { columns, totalRows: rows.length, truncated, file: null };
  }

  abort(queryId: string): void {
    fs.rmSync(this.partialFile(queryId), { force: true });
  }

  #meta(queryId: string): (StoredResult & { jobId: string; inline: JsonValue[][] | null }) | null {
    const row = this.#db.prepare('SELECT * FROM results WHERE query_id = ?').get(queryId) as
      | { job_id: string; columns: string; total_rows: number; truncated: number; inline_rows: string | null }
      | undefined;
    if (!row) return null;
    const inline = row.inline_rows === null ? null : (JSON.parse(row.inline_rows) as JsonValue[][]);
    return {
      jobId: row.job_id,
      columns: JSON.parse(row.columns) as Column[],
      totalRows: row.total_rows,
      truncated: row.truncated === 1,
      file: inline ? null : path.join(this.directory, `${queryId}.parquet`),
      inline,
    };
  }

  describe(queryId: string): StoredResult | null {
    return this.#meta(queryId);
  }

  async read(queryId: string, offset: number, limit: number): Promise<ResultPage | null> {
    const meta = this.#meta(queryId);
    if (!meta) return null;
    const end = Math.min(offset + limit, meta.totalRows);
    const base = { columns: meta.columns, totalRows: meta.totalRows, offset, truncated: meta.truncated };
    if (meta.inline) return { ...base, rows: meta.inline.slice(offset, end) };
    if (!meta.file || !fs.existsSync(meta.file)) return null;
    if (offset >= end) return { ...base, rows: [] };
    const connection = await this.#instance.connect();
    try {
      const reader = await connection.runAndReadAll(
        `SELECT ${restoringSelect(meta.columns)} FROM read_parquet(${quoteLiteral(meta.file)}, file_row_number = true)
         WHERE file_row_number >= ${offset} AND file_row_number < ${end} ORDER BY file_row_number`,
      );
      const converters = reader.columnTypes().map(converterFor);
      const rows = reader.getRows().map((row) => row.map((value, i) => (converters[i] ?? String)(value) as JsonValue));
      return { ...base, rows };
    } finally {
      connection.closeSync();
    }
  }

  delete(queryId: string): void {
    const meta = this.#meta(queryId);
    if (meta) fs.rmSync(path.join(this.directory, `${meta.jobId}.parquet`), { force: true });
    fs.rmSync(path.join(this.directory, `${queryId}.parquet`), { force: true });
    this.#db.prepare('DELETE FROM results WHERE query_id = ?').run(queryId);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /** Partial files are what a crash left behind; their queries cannot complete any more. */
  #removeStrays(): void {
    for (const name of fs.readdirSync(this.directory)) {
      if (name.endsWith('.partial')) fs.rmSync(path.join(this.directory, name), { force: true });
    }
  }
}
