import { type DataType, makeData, RecordBatch, type Schema, Struct, Table, tableToIPC, Type } from 'apache-arrow';
import {
  Compression,
  EnabledStatistics,
  type RecordBatch as WasmRecordBatch,
  Table as WasmTable,
  transformParquetStream,
  type WriterProperties,
  WriterPropertiesBuilder,
} from 'parquet-wasm/node';

/**
 * A Parquet file written as it streams, from Arrow record batches, with parquet-wasm's streaming
 * writer (`transformParquetStream`: parquet-rs's AsyncArrowWriter behind a TransformStream). The
 * writer holds one row group at a time and hands it on once it is full, so memory is bounded by
 * the row group (`ROW_GROUP_ROWS` or `ROW_GROUP_BYTES`) plus the batch being read, not by the
 * result; the writer pulls batches only as fast as the file is read, so a slow client slows the
 * source rather than filling memory.
 *
 * Two things the writer does not do are done here. It ignores a failed source and ends the file
 * as if the rows had ended, which would make a valid but short file: a source failure is kept
 * aside and thrown once the writer is done, and the file's last chunk (its footer's closing magic)
 * is held back until then, so a cut download is never a readable Parquet file. And it keeps
 * pulling the source when its output is cancelled: the source is closed instead. (It also skips a
 * batch it fails to write, silently; every batch here has the file's schema, built from it.)
 */

/** Rows per row group: two of the download's batches. */
export const ROW_GROUP_ROWS = 131_072;
/** Bytes per row group, before compression. */
export const ROW_GROUP_BYTES = 64 * 1024 * 1024;

/**
 * The writer's settings. Statistics are left out for decimal columns: parquet-rs keeps something
 * of every decimal value it takes statistics of until the file ends (measured: about 16 bytes a
 * row in WebAssembly memory, which never shrinks), so they would make memory grow with the rows.
 */
function writerProperties(schema: Schema): WriterProperties {
  let builder = new WriterPropertiesBuilder()
    .setCompression(Compression.SNAPPY)
    .setMaxRowGroupSize(ROW_GROUP_ROWS)
    .setMaxRowGroupBytes(ROW_GROUP_BYTES)
    .setCreatedBy('jobql');
  for (const field of schema.fields) {
    if (field.typeId === Type.Decimal) builder = builder.setColumnStatisticsEnabled(field.name, EnabledStatistics.None);
  }
  return builder.build();
}

/** An apache-arrow batch in WebAssembly memory, by way of the IPC format (the writer's own input). */
function wasmBatch(batch: RecordBatch): WasmRecordBatch {
  const table = WasmTable.fromIPCStream(tableToIPC(new Table([batch]), 'stream'));
  try {
    const wasm = table.recordBatch(0);
    if (!wasm) throw new Error('parquet-wasm read no record batch back');
    return wasm;
  } finally {
    table.free();
  }
}

/** A batch of no rows: the writer takes the file's schema from its first batch. */
function emptyBatch(schema: Schema): RecordBatch {
  const children = schema.fields.map((f) => makeData({ type: f.type as DataType, length: 0, nullCount: 0 }));
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: 0, nullCount: 0, children }));
}

/** The Parquet file's bytes; a source of no batches makes a file of the schema and no rows. */
export async function* parquetStream(schema: Schema, batches: AsyncIterable<RecordBatch>): AsyncGenerator<Uint8Array> {
  const source = batches[Symbol.asyncIterator]();
  const state: { started: boolean; stopped: boolean; failure: { error: unknown } | null } = {
    started: false,
    stopped: false,
    failure: null,
  };
  const input = new ReadableStream<WasmRecordBatch>(
    {
      async pull(controller) {
        if (!state.started) {
          state.started = true;
          controller.enqueue(wasmBatch(emptyBatch(schema)));
          return;
        }
        if (state.stopped) return controller.close();
        try {
          const next = await source.next();
          if (next.done || state.stopped) controller.close();
          else controller.enqueue(wasmBatch(next.value));
        } catch (error) {
          // Closed, not errored: the writer would end the file either way; the error is thrown below.
          state.failure = { error };
          controller.close();
        }
      },
    },
    // Nothing read ahead: a batch is made when the writer asks for one.
    { highWaterMark: 0 },
  );
  const output = (await transformParquetStream(input, writerProperties(schema))) as ReadableStream<Uint8Array>;
  const reader = output.getReader();
  let done = false;
  try {
    let held: Uint8Array | null = null;
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      if (held) yield held;
      held = next.value;
    }
    done = true;
    if (state.failure) throw state.failure.error;
    if (held) yield held;
  } finally {
    state.stopped = true;
    if (!done) await reader.cancel().catch(() => {});
    await source.return?.(undefined);
  }
}
