import { Readable } from 'node:stream';
import { type RecordBatch, Table, tableToIPC } from 'apache-arrow';
import type snowflake from 'snowflake-sdk';
import { csvRecord } from '../../core/json-forms.ts';
import type { Download, DownloadFormat } from '../../core/results.ts';
import { recordBatches, schemaOf } from '../arrow-batches.ts';
import { joinedIpcStream } from '../arrow-ipc.ts';
import { arrowColumnOf } from './snowflake-arrow.ts';
import { converterOf, convertRow, type DriverColumn } from './snowflake-values.ts';

/**
 * A Snowflake result in every download format, streamed from the driver's row stream as it is
 * read: nothing is stored, and memory does not grow with the result. CSV and NDJSON are made row by
 * row from the JSON forms (so CSV spells every value as NDJSON does); Arrow and Parquet from record
 * batches of at most 64Ki rows or 32 MiB (arrow-batches.ts), Parquet a row group at a time
 * (parquet-stream.ts). The row stream is opened on the body's first read, so a HEAD opens none.
 */
export function statementDownload(statement: snowflake.RowStatement, format: DownloadFormat): Download {
  const columns = (statement.getColumns() as unknown as DriverColumn[] | undefined) ?? [];
  // A generator: the row stream is opened when the first row is asked for.
  async function* rows(): AsyncGenerator<unknown[]> {
    yield* statement.streamRows() as AsyncIterable<unknown[]>;
  }
  switch (format) {
    case 'csv':
    case 'ndjson':
      return { format, body: Readable.from(textLines(columns, rows(), format)) };
    case 'arrow':
      return { format, body: bytes(arrowStream(columns, rows())) };
    case 'parquet':
      return { format, body: bytes(parquetBytes(columns, rows())) };
  }
}

/** Lines are sent some 64 KiB at a time: one socket write per row would cost more than the row. */
const TEXT_CHUNK_CHARS = 64 * 1024;

async function* textLines(
  columns: DriverColumn[],
  rows: AsyncIterable<unknown[]>,
  format: 'csv' | 'ndjson',
): AsyncGenerator<string> {
  const converters = columns.map(converterOf);
  let chunk = format === 'csv' ? csvRecord(columns.map((c) => c.getName())) : '';
  for await (const row of rows) {
    const values = convertRow(row, converters);
    chunk += format === 'csv' ? csvRecord(values) : `${JSON.stringify(values)}\n`;
    if (chunk.length >= TEXT_CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

function arrowStream(columns: DriverColumn[], rows: AsyncIterable<unknown[]>): AsyncGenerator<Uint8Array> {
  const arrow = columns.map(arrowColumnOf);
  const schema = schemaOf(arrow);
  async function* ipcStreams(): AsyncGenerator<Uint8Array> {
    for await (const batch of recordBatches(arrow, rows)) yield ipcOf(batch);
  }
  return joinedIpcStream(ipcStreams(), () => tableToIPC(new Table(schema), 'stream'));
}

async function* parquetBytes(columns: DriverColumn[], rows: AsyncIterable<unknown[]>): AsyncGenerator<Uint8Array> {
  // Loaded by the first Parquet download: until then a Snowflake deployment never loads
  // parquet-wasm (and never instantiates its WebAssembly module).
  const { parquetStream } = await import('../parquet-stream.ts');
  const arrow = columns.map(arrowColumnOf);
  yield* parquetStream(schemaOf(arrow), recordBatches(arrow, rows));
}

function ipcOf(batch: RecordBatch): Uint8Array {
  return tableToIPC(new Table([batch]), 'stream');
}

/**
 * Binary chunks as a byte stream that reads one chunk ahead at most: an object-mode stream would
 * buffer 16 of them (16 record batches) when the client is slow.
 */
function bytes(chunks: AsyncIterable<Uint8Array>): Readable {
  return Readable.from(chunks, { objectMode: false });
}
