import { DatabaseSync } from 'node:sqlite';
import type { JsonValue } from '../jobs/job.ts';
import type { Column, ResultPage } from '../warehouses/warehouse.ts';
import type { ResultStore, ResultWriter } from './result-store.ts';

/**
 * Results in one SQLite file, as batches of rows (JSON text), keyed by (query id, first row).
 * A batch holds at most MAX_BATCH_ROWS rows, so the batches a page needs are found with a range
 * seek on the primary key: `first_row > offset - MAX_BATCH_ROWS`.
 */
const MAX_BATCH_ROWS = 2048;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS results (
    query_id TEXT PRIMARY KEY,
    columns TEXT NOT NULL,
    total_rows INTEGER NOT NULL DEFAULT 0,
    complete INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE IF NOT EXISTS result_batches (
    query_id TEXT NOT NULL,
    first_row INTEGER NOT NULL,
    row_count INTEGER NOT NULL,
    rows TEXT NOT NULL,
    PRIMARY KEY (query_id, first_row)
  ) WITHOUT ROWID;`;

export class SqliteResultStore implements ResultStore {
  readonly #db: DatabaseSync;

  constructor(file: string) {
    this.#db = new DatabaseSync(file);
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
    this.#db.exec(SCHEMA);
    // A result left incomplete by a crash can never complete: its query is gone with the process.
    this.#db.exec(`DELETE FROM result_batches WHERE query_id IN (SELECT query_id FROM results WHERE complete = 0);
                   DELETE FROM results WHERE complete = 0;`);
  }

  create(queryId: string, columns: Column[]): ResultWriter {
    const db = this.#db;
    db.prepare('INSERT INTO results (query_id, columns) VALUES (?, ?)').run(queryId, JSON.stringify(columns));
    const insertBatch = db.prepare(
      'INSERT INTO result_batches (query_id, first_row, row_count, rows) VALUES (?, ?, ?, ?)',
    );
    let written = 0;
    let open = true;
    return {
      append: (rows: JsonValue[][]) => {
        if (!open) throw new Error('result writer is closed');
        for (let i = 0; i < rows.length; i += MAX_BATCH_ROWS) {
          const batch = rows.slice(i, i + MAX_BATCH_ROWS);
          insertBatch.run(queryId, written, batch.length, JSON.stringify(batch));
          written += batch.length;
        }
      },
      commit: () => {
        open = false;
        db.prepare('UPDATE results SET total_rows = ?, complete = 1 WHERE query_id = ?').run(written, queryId);
      },
      abort: () => {
        open = false;
        this.delete(queryId);
      },
    };
  }

  read(queryId: string, offset: number, limit: number): ResultPage | null {
    const meta = this.#db
      .prepare('SELECT columns, total_rows FROM results WHERE query_id = ? AND complete = 1')
      .get(queryId) as { columns: string; total_rows: number } | undefined;
    if (!meta) return null;
    const batches = this.#db
      .prepare(
        `SELECT first_row, rows FROM result_batches
         WHERE query_id = ? AND first_row > ? AND first_row < ? ORDER BY first_row`,
      )
      .all(queryId, offset - MAX_BATCH_ROWS, offset + limit) as { first_row: number; rows: string }[];
    const rows: JsonValue[][] = [];
    for (const batch of batches) {
      const batchRows = JSON.parse(batch.rows) as JsonValue[][];
      const from = Math.max(0, offset - batch.first_row);
      const to = Math.min(batchRows.length, offset + limit - batch.first_row);
      for (let i = from; i < to; i++) rows.push(batchRows[i] as JsonValue[]);
    }
    return { columns: JSON.parse(meta.columns) as Column[], rows, totalRows: meta.total_rows, offset };
  }

  delete(queryId: string): void {
    this.#db.prepare('DELETE FROM result_batches WHERE query_id = ?').run(queryId);
    this.#db.prepare('DELETE FROM results WHERE query_id = ?').run(queryId);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
