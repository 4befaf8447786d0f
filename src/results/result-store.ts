import type { JsonValue } from '../jobs/job.ts';
import type { Column, ResultPage } from '../warehouses/warehouse.ts';

/** Receives one query's result as it streams out of the engine, batch by batch. */
export interface ResultWriter {
  append(rows: JsonValue[][]): void;
  /** Marks the result complete; until then readers do not see it. */
  commit(): void;
  /** Drops whatever was written. */
  abort(): void;
}

/**
 * Where the embedded warehouse keeps results, so that they outlive the engine's connection and a
 * restart of the server. A page is found by an index seek, so its cost does not grow with its offset.
 */
export interface ResultStore {
  create(queryId: string, columns: Column[]): ResultWriter;
  read(queryId: string, offset: number, limit: number): ResultPage | null;
  delete(queryId: string): void;
  close(): void;
}
