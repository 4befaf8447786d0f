import { type Field, makeData, RecordBatch, Schema, Struct } from 'apache-arrow';
import type { ColumnBuilder } from './arrow-columns.ts';

/**
 * Rows to Arrow record batches of bounded size: a batch is cut at `maxRows` rows or once its
 * values hold `maxBytes`, whichever comes first, so a download holds one batch at a time whatever
 * the result's length or width (a few 16 MB VARCHARs end a batch early).
 */
export interface BatchBounds {
  maxRows: number;
  maxBytes: number;
}

/** 64Ki rows, as the embedded warehouse's Arrow download batches them, or 32 MiB of values. */
export const BATCH_BOUNDS: BatchBounds = { maxRows: 65_536, maxBytes: 32 * 1024 * 1024 };

/** One result column: its Arrow field and the builder that takes its values as the driver gives them. */
export interface ArrowColumn {
  field: Field;
  builder: ColumnBuilder<unknown>;
}

export function schemaOf(columns: readonly ArrowColumn[]): Schema {
  return new Schema(columns.map((c) => c.field));
}

/**
 * The rows as record batches, each within `bounds`; none for no rows (the schema says the rest).
 * The builders are the columns' own and are left empty, so the columns serve one download only.
 */
export async function* recordBatches(
  columns: readonly ArrowColumn[],
  rows: AsyncIterable<readonly unknown[]>,
  bounds: BatchBounds = BATCH_BOUNDS,
): AsyncGenerator<RecordBatch> {
  const schema = schemaOf(columns);
  const builders = columns.map((c) => c.builder);
  let count = 0;
  for await (const row of rows) {
    let bytes = 0;
    for (let i = 0; i < builders.length; i++) {
      const builder = builders[i]!;
      builder.append(row[i] ?? null);
      bytes += builder.bytes;
    }
    count += 1;
    if (count >= bounds.maxRows || bytes >= bounds.maxBytes) {
      yield batchOf(schema, columns, count);
      count = 0;
    }
  }
  if (count > 0) yield batchOf(schema, columns, count);
}

function batchOf(schema: Schema, columns: readonly ArrowColumn[], length: number): RecordBatch {
  const children = columns.map(({ field, builder }) => {
    const data = builder.finish();
    // A NULL where the driver said there is none would make an invalid batch (and Parquet file).
    if (!field.nullable && data.nullCount > 0) throw new Error(`Column ${field.name} is NOT NULL but holds a NULL`);
    return data;
  });
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }));
}
