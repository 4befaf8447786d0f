import fs from 'node:fs';
import { Readable } from 'node:stream';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ParquetFile, type RecordBatch } from 'parquet-wasm/node';
import type { Download, DownloadFormat } from '../../core/results.ts';
import { columnChunks, convertRows } from './json-values.ts';

export function fileStream(file: string, format: DownloadFormat, options: { deleteAfter?: boolean } = {}): Download {
  const body = fs.createReadStream(file);
  if (options.deleteAfter) body.once('close', () => fs.rm(file, { force: true }, () => {}));
  return { format, body };
}

/**
 * JSON lines, one array per row, in the same JSON forms as GraphQL pages; a DuckDB chunk at a time.
 * The connection is opened inside the generator, so a stream destroyed before its first read
 * (the client left at once) never opened one to leak.
 */
export function ndjsonStream(connect: () => Promise<DuckDBConnection>, select: string): Download {
  async function* lines(): AsyncGenerator<string> {
    const connection = await connect();
    try {
      const result = await connection.stream(select);
      for await (const columns of columnChunks(result)) {
        let chunk = '';
        for (const row of convertRows(result.columnTypes(), columns)) chunk += `${JSON.stringify(row)}\n`;
        yield chunk;
      }
    } finally {
      connection.closeSync();
    }
  }
  return { format: 'ndjson', body: Readable.from(lines()) };
}

const ARROW_BATCH_ROWS = 65_536;
const END_OF_STREAM = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

/**
 * An Arrow IPC stream decoded from the Parquet file one record batch at a time (parquet-wasm).
 * Each batch comes as a complete IPC stream (schema, batch, end marker); the first keeps its
 * schema, the others are cut down to their record batch message, and one end marker closes all.
 */
export function arrowStream(file: string): Download {
  async function* messages(): AsyncGenerator<Uint8Array> {
    const parquet = await ParquetFile.fromFile(await fs.openAsBlob(file));
    try {
      let first = true;
      const batches = (await parquet.stream({ batchSize: ARROW_BATCH_ROWS })) as ReadableStream<RecordBatch>;
      for await (const batch of batches) {
        const ipc = batch.intoIPCStream();
        const body = ipc.subarray(first ? 0 : schemaMessageLength(ipc), ipc.length - END_OF_STREAM.length);
        first = false;
        yield body;
      }
      if (first) {
        // No rows: a stream of the schema alone.
        const empty = await parquet.read({ limit: 0 });
        yield empty.intoIPCStream();
        return;
      }
      yield END_OF_STREAM;
    } finally {
      parquet.free();
    }
  }
  return { format: 'arrow', body: Readable.from(messages()) };
}

/** Bytes taken by the IPC stream's first (schema) message: continuation, length, metadata. */
function schemaMessageLength(ipc: Uint8Array): number {
  const view = new DataView(ipc.buffer, ipc.byteOffset, ipc.byteLength);
  return 8 + view.getInt32(4, true);
}
