import fs from 'node:fs';
import { Readable } from 'node:stream';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ParquetFile, type RecordBatch } from 'parquet-wasm/node';
import { csvRecord } from '../../core/json-forms.ts';
import type { Download, DownloadFormat } from '../../core/results.ts';
import { joinedIpcStream } from '../arrow-ipc.ts';
import { columnChunks, convertRows } from './json-values.ts';

/**
 * A stored file as a download: its size is known, so it answers byte ranges. Nothing is opened
 * until the body or a range is read (a HEAD opens nothing); null when the file is gone (expired a
 * moment ago).
 */
export function fileStream(file: string, format: DownloadFormat): Download | null {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let body: fs.ReadStream | null = null;
  return {
    format,
    size,
    get body() {
      return (body ??= fs.createReadStream(file));
    },
    range: (start, end) => fs.createReadStream(file, { start, end }),
  };
}

/**
 * The text formats, a DuckDB chunk at a time, both from the same JSON forms as GraphQL pages
 * (json-values.ts), so CSV and NDJSON spell every value alike: NDJSON is one JSON array per row,
 * CSV a header row and one record per row (core/json-forms.ts `csvRecord`). The connection is
 * opened inside the generator, so a stream destroyed before its first read (a HEAD, or a client
 * that left at once) never opened one to leak.
 */
export function textStream(connect: () => Promise<DuckDBConnection>, select: string, format: 'csv' | 'ndjson'): Download {
  async function* lines(): AsyncGenerator<string> {
    const connection = await connect();
    try {
      const result = await connection.stream(select);
      if (format === 'csv') yield csvRecord(result.columnNames());
      const types = result.columnTypes();
      for await (const columns of columnChunks(result)) {
        let chunk = '';
        const rows = convertRows(types, columns);
        if (format === 'csv') for (const row of rows) chunk += csvRecord(row);
        else for (const row of rows) chunk += `${JSON.stringify(row)}\n`;
        yield chunk;
      }
    } finally {
      connection.closeSync();
    }
  }
  return { format, body: Readable.from(lines()) };
}

/** JSON lines, one array per row, in the same JSON forms as GraphQL pages. */
export function ndjsonStream(connect: () => Promise<DuckDBConnection>, select: string): Download {
  return textStream(connect, select, 'ndjson');
}

/** CSV with a header row, every value in its JSON form (the same spelling as NDJSON and pages). */
export function csvStream(connect: () => Promise<DuckDBConnection>, select: string): Download {
  return textStream(connect, select, 'csv');
}

const ARROW_BATCH_ROWS = 65_536;

/**
 * An Arrow IPC stream decoded from the Parquet file one record batch at a time (parquet-wasm).
 * Each batch comes as a complete IPC stream, joined into one (arrow-ipc.ts); a result of no rows
 * is the file's schema alone. A byte stream, not an object one, so that a slow client holds one
 * batch here rather than 16.
 */
export function arrowStream(file: string): Download {
  async function* messages(): AsyncGenerator<Uint8Array> {
    const parquet = await ParquetFile.fromFile(await fs.openAsBlob(file));
    try {
      const batches = (await parquet.stream({ batchSize: ARROW_BATCH_ROWS })) as ReadableStream<RecordBatch>;
      async function* streams(): AsyncGenerator<Uint8Array> {
        for await (const batch of batches) yield batch.intoIPCStream();
      }
      yield* joinedIpcStream(streams(), async () => (await parquet.read({ limit: 0 })).intoIPCStream());
    } finally {
      parquet.free();
    }
  }
  return { format: 'arrow', body: Readable.from(messages(), { objectMode: false }) };
}
