import fs from 'node:fs';
import { Readable } from 'node:stream';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ParquetFile, type RecordBatch } from 'parquet-wasm/node';
import type { JsonValue } from '../jobs/job.ts';
import { converterFor } from './json-values.ts';

export const DOWNLOAD_FORMATS = {
  csv: { contentType: 'text/csv; charset=utf-8', extension: 'csv' },
  ndjson: { contentType: 'application/x-ndjson; charset=utf-8', extension: 'ndjson' },
  arrow: { contentType: 'application/vnd.apache.arrow.stream', extension: 'arrows' },
  parquet: { contentType: 'application/vnd.apache.parquet', extension: 'parquet' },
} as const;

export type DownloadFormat = keyof typeof DOWNLOAD_FORMATS;

export function isDownloadFormat(value: string): value is DownloadFormat {
  return Object.hasOwn(DOWNLOAD_FORMATS, value);
}

export interface Download {
  format: DownloadFormat;
  body: Readable;
}

export function fileStream(file: string, format: DownloadFormat, options: { deleteAfter?: boolean } = {}): Download {
  const body = fs.createReadStream(file);
  if (options.deleteAfter) body.once('close', () => fs.rm(file, { force: true }, () => {}));
  return { format, body };
}

/** JSON lines, one array per row, in the same JSON forms as GraphQL pages; a DuckDB chunk at a time. */
export function ndjsonStream(connection: DuckDBConnection, select: string): Download {
  async function* lines(): AsyncGenerator<string> {
    try {
      const result = await connection.stream(select);
      const converters = result.columnTypes().map(converterFor);
      for await (const rows of result.yieldRows()) {
        let chunk = '';
        for (const row of rows) {
          chunk += `${JSON.stringify(row.map((value, i) => (converters[i] ?? String)(value) as JsonValue))}\n`;
        }
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
export async function arrowStream(file: string): Promise<Download> {
  const parquet = await ParquetFile.fromFile(await fs.openAsBlob(file));
  async function* messages(): AsyncGenerator<Uint8Array> {
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
