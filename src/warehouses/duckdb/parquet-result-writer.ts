import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBInstance, DuckDBType } from '@duckdb/node-api';
import type { JsonValue } from '../../core/job.ts';
import type { Column } from '../../core/results.ts';
import { ParquetResultStore, quoteIdent, quoteLiteral, type ResultCaps, type StoredResult, storageType } from './parquet-result-store.ts';
import { resultsDirOf, type TenantLayout } from './tenants.ts';

/**
 * Receives a small result that does not come from a query (a DML count, PRAGMA or CALL output),
 * batch by batch, as JSON lines on disk; `commit` turns the lines into the Parquet result.
 */
export interface RowWriter {
  append(rows: JsonValue[][]): void;
  commit(truncated: boolean): Promise<StoredResult>;
  abort(): void;
}

const BYTE_CAP_ATTEMPTS = 4;

/**
 * The engine process's side, for one tenant: writes its new results into its results directory
 * (and its metadata into the shared results.sqlite). Opening it removes what a crashed engine
 * left there; the engine process opens one when it opens the tenant, when no other engine can be
 * writing into that directory (one engine process per data directory, and a tenant is opened
 * again only once all its queries have ended).
 */
export class ParquetResultWriter extends ParquetResultStore {
  readonly tenant: string;
  /** The tenant's results directory: the only one its SQL may read (result_scan). */
  readonly directory: string;

  constructor(layout: TenantLayout, tenant: string, instance: DuckDBInstance) {
    super(layout, instance);
    this.tenant = tenant;
    this.directory = resultsDirOf(layout, tenant);
    fs.mkdirSync(this.directory, { recursive: true });
    this.#removeStrays();
  }

  protected file(id: string): string {
    return this.fileIn(this.tenant, id);
  }

  /** Where a query's Parquet file is written; `.partial` until it is complete. */
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
    return this.withConnection(async (connection) => {
      const reader = await connection.runAndReadAll(
        `SELECT * FROM read_parquet(${quoteLiteral(this.partialFile(queryId))}) LIMIT 0`,
      );
      const types = reader.columnTypes();
      return reader.columnNames().map((name, i) => ({ name, type: types[i]?.toString() ?? 'UNKNOWN', nullable: true }));
    });
  }

  /**
   * Makes a written file the query's result: cut to the caps when the query gave more (the file
   * then holds exactly the rows kept), renamed into place, and linked under the job id.
   *
   * The byte cap applies to the stored file. Parquet's size is not linear in rows, so the cut is
   * estimated from the average row size and repeated (a few times at most) until the file fits.
   */
  async commitFile(queryId: string, jobId: string, columns: Column[], written: number, caps: ResultCaps): Promise<StoredResult> {
    const partial = this.partialFile(queryId);
    let rows = Math.min(written, caps.maxRows);
    let truncated = written > caps.maxRows;
    if (truncated) await this.#cut(partial, rows);
    for (let attempt = 0; attempt < BYTE_CAP_ATTEMPTS && rows > 0; attempt++) {
      const size = fs.statSync(partial).size;
      if (size <= caps.maxBytes) break;
      rows = Math.floor((rows * caps.maxBytes * 0.95) / size);
      truncated = true;
      await this.#cut(partial, rows);
    }
    return this.#commit(queryId, jobId, columns, rows, truncated);
  }

  /** Rewrites a partial file with its first `rows` rows only. */
  async #cut(partial: string, rows: number): Promise<void> {
    const cut = `${partial}.cut.partial`;
    await this.withConnection((c) =>
      c.run(`COPY (SELECT * FROM read_parquet(${quoteLiteral(partial)}) LIMIT ${rows}) TO ${quoteLiteral(cut)} (FORMAT parquet)`),
    );
    fs.renameSync(cut, partial);
  }

  /**
   * Stores a small result that did not come from a query (a DML count, PRAGMA output) the same
   * way: written as JSON lines, then turned into Parquet by DuckDB with the original column types.
   */
  rowWriter(queryId: string, jobId: string, columns: Column[]): RowWriter {
    const lines = path.join(this.directory, `${queryId}.ndjson.partial`);
    const fd = fs.openSync(lines, 'w');
    let count = 0;
    let open = true;
    const close = (): void => {
      if (open) fs.closeSync(fd);
      open = false;
    };
    return {
      append: (rows) => {
        if (rows.length === 0) return;
        fs.writeSync(fd, `${rows.map((row) => JSON.stringify(Object.fromEntries(row.map((v, i) => [`c${i}`, v])))).join('\n')}\n`);
        count += rows.length;
      },
      commit: async (truncated) => {
        close();
        try {
          return await this.#commitLines(queryId, jobId, columns, lines, count, truncated);
        } finally {
          fs.rmSync(lines, { force: true });
        }
      },
      abort: () => {
        close();
        fs.rmSync(lines, { force: true });
      },
    };
  }

  async #commitLines(
    queryId: string,
    jobId: string,
    columns: Column[],
    lines: string,
    count: number,
    truncated: boolean,
  ): Promise<StoredResult> {
    const partial = this.partialFile(queryId);
    if (columns.length > 0 && count > 0) {
      const types = columns.map((c, i) => `${quoteLiteral(`c${i}`)}: ${quoteLiteral(storageType(c.type))}`).join(', ');
      const select = columns.map((c, i) => `c${i} AS ${quoteIdent(c.name)}`).join(', ');
      await this.withConnection((c) =>
        c.run(
          `COPY (SELECT ${select} FROM read_json(${quoteLiteral(lines)}, format = 'newline_delimited', columns = {${types}}))
           TO ${quoteLiteral(partial)} (FORMAT parquet)`,
        ),
      );
    } else if (columns.length > 0) {
      // No rows: an empty file with the columns, from a typed empty SELECT.
      const select = columns.map((c) => `NULL::${storageType(c.type)} AS ${quoteIdent(c.name)}`).join(', ');
      await this.withConnection((c) => c.run(`COPY (SELECT ${select} LIMIT 0) TO ${quoteLiteral(partial)} (FORMAT parquet)`));
    }
    return this.#commit(queryId, jobId, columns, count, truncated);
  }

  #commit(queryId: string, jobId: string, columns: Column[], totalRows: number, truncated: boolean): StoredResult {
    if (columns.length > 0) {
      fs.renameSync(this.partialFile(queryId), this.file(queryId));
      fs.linkSync(this.file(queryId), this.file(jobId));
    }
    this.db
      .prepare('INSERT INTO results (query_id, job_id, columns, total_rows, truncated, tenant) VALUES (?, ?, ?, ?, ?, ?)')
      .run(queryId, jobId, JSON.stringify(columns), totalRows, truncated ? 1 : 0, this.tenant);
    return { columns, totalRows, truncated };
  }

  abort(queryId: string): void {
    fs.rmSync(this.partialFile(queryId), { force: true });
  }

  /**
   * Partial files are what a crashed engine left behind; a `.parquet` file that no metadata row
   * names (by query id or job id) is a commit a crash cut short. Run only when the tenant is
   * opened, when nothing else writes its files. The API process's temporary downloads and other
   * tenants' directories are subdirectories, which this does not look into.
   */
  #removeStrays(): void {
    const known = new Set<string>();
    const rows = this.db.prepare('SELECT query_id, job_id FROM results WHERE tenant = ?').all(this.tenant) as {
      query_id: string;
      job_id: string;
    }[];
    for (const row of rows) {
      known.add(`${row.query_id}.parquet`).add(`${row.job_id}.parquet`);
    }
    for (const entry of fs.readdirSync(this.directory, { withFileTypes: true })) {
      const name = entry.name;
      if (entry.isFile() && (name.endsWith('.partial') || (name.endsWith('.parquet') && !known.has(name)))) {
        fs.rmSync(path.join(this.directory, name), { force: true });
      }
    }
  }
}
