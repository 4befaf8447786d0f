/**
 * Arrow and Parquet downloads on the Snowflake warehouse: the real snowflake-sdk against the
 * wire-level double, through jobql's HTTP download route. Each file is decoded with independent
 * readers (apache-arrow `tableFromIPC`; parquet-wasm `readParquet`, then apache-arrow) and every
 * value compared with the NDJSON download of the same job. A result of no rows keeps its columns
 * on both warehouses. A result of a million rows (kept in the double's DuckDB, not in JavaScript) is
 * downloaded while what the process holds is sampled after full collections, and compared with a
 * result four times smaller.
 */
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { after, before, describe, test } from 'node:test';
import { type Data, type DataType, Field, RecordBatchReader, type Table, tableFromIPC, Type } from 'apache-arrow';
import { parquetMetadata } from 'hyparquet';
import { readParquet, wasmMemory } from 'parquet-wasm/node';
import type { JsonValue } from '../../src/core/job.ts';
import { type ArrowColumn, recordBatches, schemaOf } from '../../src/warehouses/arrow-batches.ts';
import { converting, Int64Builder, Utf8Builder } from '../../src/warehouses/arrow-columns.ts';
import { parquetStream } from '../../src/warehouses/parquet-stream.ts';
import { civil, floatJson, isSafeInteger, timeOfDay, timestampJson } from '../../src/core/json-forms.ts';
import { submit, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer, tempDir } from '../helpers/server.ts';
import { snowflakeServerEnv } from '../helpers/snowflake-env.ts';
import { type SnowflakeDouble, startSnowflakeDouble } from '../snowflake-double/server.ts';

/** Two Arrow batches (64Ki rows and the rest); the driver reads some 5,000 of these rows a second. */
const MULTI_ROWS = 70_000;
/** Every type the adapter maps, NULLs in most columns, values before 1970 and past 2262. */
const MULTI_TYPE_SQL = `
  select range as id,
         (range - 35000)::decimal(18,0) as small,
         case when range % 5 = 0 then null else 12345678901234567890::decimal(38,0) + range end as big,
         ((range - 1000) / 8)::decimal(10,3) as dec,
         ((range - 1000) * 1.5)::decimal(30,2) as wide,
         case range when 1 then 'NaN'::double when 2 then 'inf'::double when 3 then '-inf'::double
                    else case when range % 3 = 0 then null else range / 7 end end as f,
         'row ' || range || case when range % 11 = 0 then ' ünï, "q"' else '' end as s,
         case when range % 13 = 0 then '' end as empty,
         case when range % 4 = 0 then null else range % 2 = 0 end as b,
         date '1960-01-01' + (range % 40000)::integer as dt,
         case range when 0 then timestamp '9999-12-31 23:59:59.999999' when 1 then timestamp '0001-01-01 00:00:00'
              else timestamp '1969-12-31 23:59:59.999999' + to_microseconds(range * 1234567) end as ts,
         timestamptz '2024-01-02 03:04:05.123456+02' + to_microseconds(range) as tz,
         time '00:00:00' + to_microseconds((range * 1000003) % 86400000000) as t,
         case when range % 6 = 0 then null when range % 6 = 1 then '\\x00\\xFFab'::blob else encode('b' || range) end as bin,
         [range, range + 1] as arr,
         {'k': range, 's': 'v' || range} as obj
  from range(${MULTI_ROWS}) order by id`;

const NO_ROWS_SQL = `select 1::integer as i, 'x' as s, 1.5::decimal(10,2) as d, date '2024-01-01' as dt,
  timestamp '2024-01-01 00:00:00' as ts, true as b where false`;

let double: SnowflakeDouble;
let server: TestServer;
let base: string;

before(async () => {
  // Small chunks: the driver holds a few at a time, and the memory test measures around them.
  double = await startSnowflakeDouble({ chunkRows: 5_000, syncWaitMs: 500 });
  const dataDir = tempDir();
  server = await startServer(snowflakeServerEnv(double, dataDir), dataDir);
  base = server.url.replace('/graphql', '');
});
after(async () => {
  await server?.stop();
  await double?.stop();
});

async function finished(url: string, sql: string, timeoutMs = 60_000): Promise<string> {
  const job = await waitForEnd(url, (await submit(url, sql)).id, timeoutMs);
  assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
  return job.id;
}

async function download(root: string, id: string, format: string, init?: RequestInit): Promise<Response> {
  const response = await fetch(`${root}/jobs/${id}/result.${format}`, init);
  assert.equal(response.status, 200, `${format}: ${response.status} ${response.status === 200 ? '' : await response.text()}`);
  return response;
}

async function ndjsonRows(root: string, id: string): Promise<JsonValue[][]> {
  const text = await (await download(root, id, 'ndjson')).text();
  return text === '' ? [] : text.trimEnd().split('\n').map((line) => JSON.parse(line) as JsonValue[]);
}

async function arrowTable(root: string, id: string): Promise<Table> {
  return tableFromIPC(new Uint8Array(await (await download(root, id, 'arrow')).arrayBuffer()));
}

async function parquetTable(root: string, id: string): Promise<Table> {
  const bytes = new Uint8Array(await (await download(root, id, 'parquet')).arrayBuffer());
  assert.equal(Buffer.from(bytes.subarray(0, 4)).toString(), 'PAR1');
  return tableFromIPC(readParquet(bytes).intoIPCStream());
}

/** A value of an Arrow column in jobql's JSON forms, read from the column's own buffers. */
function jsonOf(data: Data, index: number): JsonValue {
  if (!data.getValid(index)) return null;
  const type: DataType = data.type;
  const i = data.offset + index;
  switch (type.typeId) {
    case Type.Int: {
      const v = BigInt((data.values as BigInt64Array | Int32Array)[i]!);
      return isSafeInteger(v) ? Number(v) : v.toString();
    }
    case Type.Decimal: {
      const words = data.values as Uint32Array;
      let v = 0n;
      for (let w = 3; w >= 0; w--) v = (v << 32n) | BigInt(words[4 * i + w]!);
      v = BigInt.asIntN(128, v);
      const { scale, precision } = type as unknown as { scale: number; precision: number };
      const digits = (v < 0n ? -v : v).toString().padStart(scale + 1, '0');
      const text = `${v < 0n ? '-' : ''}${scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits}`;
      if (scale === 0) return isSafeInteger(v) ? Number(v) : text;
      return precision <= 15 ? Number(text) : text;
    }
    case Type.Float:
      return floatJson((data.values as Float64Array)[i]!);
    case Type.Bool:
      return (((data.values as Uint8Array)[i >> 3]! >> (i & 7)) & 1) === 1;
    case Type.Utf8:
    case Type.Binary: {
      const offsets = data.valueOffsets as Int32Array;
      const bytes = (data.values as Uint8Array).subarray(offsets[i]!, offsets[i + 1]!);
      return type.typeId === Type.Utf8 ? Buffer.from(bytes).toString('utf8') : Buffer.from(bytes).toString('base64');
    }
    case Type.Date:
      return civil((data.values as Int32Array)[i]!);
    case Type.Timestamp: {
      const { unit, timezone } = type as unknown as { unit: number; timezone: string | null };
      assert.equal(unit, 2, 'timestamps are microseconds');
      return timestampJson((data.values as BigInt64Array)[i]!, 1_000_000n, 6, timezone ? 'Z' : '');
    }
    case Type.Time: {
      const { unit } = type as unknown as { unit: number };
      const digits = unit === 3 ? 9 : 6;
      return timeOfDay((data.values as BigInt64Array)[i]!, digits);
    }
    default:
      throw new Error(`unexpected Arrow type ${String(type)}`);
  }
}

function rowsOf(table: Table): JsonValue[][] {
  const rows: JsonValue[][] = [];
  for (const batch of table.batches) {
    const columns = batch.data.children;
    for (let r = 0; r < batch.numRows; r++) rows.push(columns.map((column) => jsonOf(column, r)));
  }
  return rows;
}

/**
 * The NDJSON row as the Arrow forms carry it: semi-structured values as their JSON text,
 * timestamps to microseconds (the double gives them nine digits, the last three zero).
 */
function expectedRow(row: JsonValue[], table: Table): JsonValue[] {
  return row.map((value, c) => {
    const type = table.schema.fields[c]!.type;
    if (value === null) return null;
    if (type.typeId === Type.Utf8 && typeof value === 'object') return JSON.stringify(value);
    if (type.typeId === Type.Timestamp && typeof value === 'string') return value.replace(/(\.\d{6})\d{3}/, '$1');
    return value;
  });
}

function typesOf(table: Table): string[] {
  return table.schema.fields.map((f) => `${f.name}: ${String(f.type)}`);
}

// First: it makes no HTTP requests, so no test after it finds a keep-alive connection gone idle.
describe('the streaming Parquet writer (parquet-stream.ts, with real parquet-wasm)', () => {
  const columns = (): ArrowColumn[] => {
    const builder = converting(new Int64Builder(), (v) => BigInt(v as number));
    return [{ field: new Field('n', builder.type, true), builder }];
  };
  async function* rows(count: number, failAt = Infinity): AsyncGenerator<number[]> {
    for (let i = 0; i < count; i++) {
      if (i === failAt) throw new Error('the driver failed');
      yield [i];
    }
  }

  test('record batches end at 32 MiB of values before 64Ki rows', async () => {
    const builder = new Utf8Builder();
    const wide: ArrowColumn[] = [{ field: new Field('s', builder.type, true), builder: converting(builder, String) }];
    const mebibyte = 'x'.repeat(1024 * 1024);
    async function* wideRows(): AsyncGenerator<string[]> {
      for (let i = 0; i < 40; i++) yield [mebibyte];
    }
    const sizes: number[] = [];
    for await (const batch of recordBatches(wide, wideRows())) sizes.push(batch.numRows);
    assert.deepEqual(sizes, [32, 8]);
  });

  test('a source that fails midway makes the stream fail, and what was sent is no Parquet file', async () => {
    const arrow = columns();
    const sent: Uint8Array[] = [];
    await assert.rejects(async () => {
      for await (const chunk of parquetStream(schemaOf(arrow), recordBatches(arrow, rows(400_000, 300_000)))) sent.push(chunk);
    }, /the driver failed/);
    assert.ok(sent.length >= 2, `${sent.length} chunks (row groups) were sent before the failure`);
    assert.notEqual(Buffer.from(sent.at(-1)!.subarray(-4)).toString(), 'PAR1');
  });

  test('a reader that stops stops the source: no more rows are read', async () => {
    const arrow = columns();
    let read = 0;
    let closed = false;
    async function* counted(): AsyncGenerator<number[]> {
      try {
        for (let i = 0; i < 10_000_000; i++) {
          read += 1;
          yield [i];
        }
      } finally {
        closed = true;
      }
    }
    for await (const chunk of parquetStream(schemaOf(arrow), recordBatches(arrow, counted()))) {
      assert.ok(chunk.length > 0);
      break;
    }
    assert.ok(closed, 'the source was closed');
    assert.ok(read < 1_000_000, `${read} rows read for one row group`);
  });
});

describe('Arrow and Parquet downloads on Snowflake', () => {
  let multi: string;
  let ndjson: JsonValue[][];
  before(async () => {
    multi = await finished(server.url, MULTI_TYPE_SQL);
    ndjson = await ndjsonRows(base, multi);
    assert.equal(ndjson.length, MULTI_ROWS);
  });

  const EXPECTED_TYPES = [
    'id: Decimal[38e0]',
    'small: Int64',
    'big: Decimal[38e0]',
    'dec: Decimal[10e+3]',
    'wide: Decimal[30e+2]',
    'f: Float64',
    's: Utf8',
    'empty: Utf8',
    'b: Bool',
    'dt: Date32<DAY>',
    'ts: Timestamp<MICROSECOND>',
    'tz: Timestamp<MICROSECOND, UTC>',
    't: Time64<NANOSECOND>',
    'bin: Binary',
    'arr: Utf8',
    'obj: Utf8',
  ];

  for (const format of ['arrow', 'parquet'] as const) {
    test(`${format}: every value as the NDJSON download has it, in batches of at most 64Ki rows`, async () => {
      const table = format === 'arrow' ? await arrowTable(base, multi) : await parquetTable(base, multi);
      assert.deepEqual(typesOf(table), EXPECTED_TYPES);
      assert.equal(table.numRows, MULTI_ROWS);
      if (format === 'arrow') {
        assert.ok(table.batches.length >= 2, `${table.batches.length} batches`);
        for (const batch of table.batches) assert.ok(batch.numRows <= 65_536, `a batch of ${batch.numRows} rows`);
      }
      const rows = rowsOf(table);
      for (let r = 0; r < MULTI_ROWS; r++) {
        const expected = expectedRow(ndjson[r]!, table);
        if (JSON.stringify(rows[r]) !== JSON.stringify(expected)) assert.deepEqual(rows[r], expected, `row ${r}`);
      }
      // Spot checks of the edges, as the JSON forms spell them.
      assert.deepEqual(rows[0]!.slice(9, 11), ['1960-01-01', '9999-12-31T23:59:59.999999']);
      assert.equal(rows[1]![10], '0001-01-01T00:00:00.000000');
      assert.deepEqual(rows[1]!.slice(5, 6), ['NaN']);
      assert.deepEqual([rows[2]![5], rows[3]![5]], ['Infinity', '-Infinity']);
      assert.equal(rows[1]![13], Buffer.from([0, 0xff, 0x61, 0x62]).toString('base64'));
    });
  }

  test('Arrow and Parquet are streamed: no length, Accept-Ranges none, HEAD gives the headers only', async () => {
    const id = await finished(server.url, 'select range as n from range(300)');
    for (const format of ['arrow', 'parquet']) {
      const head = await download(base, id, format, { method: 'HEAD' });
      assert.equal(head.headers.get('accept-ranges'), 'none');
      assert.equal(head.headers.get('content-length'), null);
      assert.equal((await head.arrayBuffer()).byteLength, 0);
      const whole = new Uint8Array(await (await download(base, id, format)).arrayBuffer());
      const ranged = await download(base, id, format, { headers: { range: 'bytes=0-3' } });
      assert.deepEqual(new Uint8Array(await ranged.arrayBuffer()), whole, `${format}: Range is ignored`);
    }
  });

  test('a result of no rows keeps its column names and types', async () => {
    const id = await finished(server.url, NO_ROWS_SQL);
    const expected = [
      'i: Decimal[38e0]',
      's: Utf8',
      'd: Decimal[10e+2]',
      'dt: Date32<DAY>',
      'ts: Timestamp<MICROSECOND>',
      'b: Bool',
    ];
    for (const table of [await arrowTable(base, id), await parquetTable(base, id)]) {
      assert.equal(table.numRows, 0);
      assert.deepEqual(typesOf(table), expected);
    }
  });
});

describe('a result of no rows on DuckDB', () => {
  let duckdb: TestServer;
  before(async () => {
    duckdb = await startServer();
  });
  after(() => duckdb?.stop());

  test('keeps its column names and types in Arrow and Parquet', async () => {
    const root = duckdb.url.replace('/graphql', '');
    const id = await finished(duckdb.url, NO_ROWS_SQL);
    const expected = ['i: Int32', 's: Utf8', 'd: Decimal[10e+2]', 'dt: Date32<DAY>', 'ts: Timestamp<MICROSECOND>', 'b: Bool'];
    for (const table of [await arrowTable(root, id), await parquetTable(root, id)]) {
      assert.equal(table.numRows, 0);
      assert.deepEqual(typesOf(table), expected);
    }
  });
});

describe('a large result streams in bounded memory', { timeout: 600_000 }, () => {
  /** Two Parquet row groups: a smaller result would never have one in flight while the next is made. */
  const SMALL = 250_000;
  /** More than the footer of a million-row file. */
  const FOOTER_BYTES = 1024 * 1024;
  const LARGE = 1_000_000;
  const WARM_UP = 20_000;
  /**
   * A sample every so many bytes read (about 1/30 of the small result): the count of samples is
   * the same however fast the machine is, and each (a full collection) is paid per byte, not per second.
   */
  const SAMPLE_EVERY_BYTES = { arrow: 512 * 1024, parquet: 64 * 1024 };
  const LARGE_SQL = (rows: number): string => `/* lazy result */
    select range as id, (range % 100000)::decimal(18,0) as k, 'row ' || range || ' of the large result' as label,
           range / 3 as x, date '2000-01-01' + (range % 10000)::integer as day
    from range(${rows}) order by id`;
  // A full collection before each sample, so that what is measured is what is held, not garbage.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;

  /** Bytes held now: JavaScript heap and array buffers (Arrow batches, chunks of the driver). */
  function held(): number {
    gc();
    const { heapUsed, arrayBuffers } = globalThis.process.memoryUsage();
    return heapUsed + arrayBuffers;
  }

  /**
   * Downloads one format, reading it as it comes; every SAMPLE_EVERY_BYTES meanwhile, what the
   * process holds beyond `baseline` (a sample).
   */
  async function measured(
    id: string,
    format: 'arrow' | 'parquet',
    baseline: number,
  ): Promise<{ rows: number; maxBatch: number; samples: number[] }> {
    const samples: number[] = [];
    const response = await download(base, id, format);
    async function* sampled(): AsyncGenerator<Uint8Array> {
      let bytes = 0;
      let next = SAMPLE_EVERY_BYTES[format];
      for await (const chunk of response.body! as AsyncIterable<Uint8Array>) {
        bytes += chunk.byteLength;
        if (bytes >= next) {
          samples.push(held() - baseline);
          next = bytes + SAMPLE_EVERY_BYTES[format];
        }
        yield chunk;
      }
    }
    let rows = 0;
    let maxBatch = 0;
    if (format === 'arrow') {
      for await (const batch of await RecordBatchReader.from(sampled())) {
        rows += batch.numRows;
        maxBatch = Math.max(maxBatch, batch.numRows);
      }
    } else {
      // Only the file's footer is kept and read back (hyparquet): the client must not hold the file.
      let tail = Buffer.alloc(0);
      for await (const chunk of sampled()) tail = Buffer.concat([tail, chunk]).subarray(-FOOTER_BYTES);
      assert.equal(tail.subarray(-4).toString(), 'PAR1', 'the file is complete');
      const metadata = parquetMetadata(tail);
      rows = Number(metadata.num_rows);
      maxBatch = Math.max(...metadata.row_groups.map((g) => Number(g.num_rows)));
    }
    return { rows, maxBatch, samples };
  }

  const median = (values: number[]): number => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;
  const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

  test(`${LARGE.toLocaleString('en')} rows in Arrow and Parquet: what is held does not grow with the row count`, { timeout: 600_000 }, async () => {
    const warmUp = await finished(server.url, LARGE_SQL(WARM_UP));
    const small = await finished(server.url, LARGE_SQL(SMALL));
    const large = await finished(server.url, LARGE_SQL(LARGE), 120_000);
    for (const format of ['arrow', 'parquet'] as const) {
      await measured(warmUp, format, 0); // code, the driver's and the writer's first allocations
      const baseline = held();
      const wasmBefore = wasmMemory().buffer.byteLength;
      const a = await measured(small, format, baseline);
      const wasmSmall = wasmMemory().buffer.byteLength;
      const b = await measured(large, format, baseline);
      const wasmLarge = wasmMemory().buffer.byteLength;
      assert.deepEqual([a.rows, b.rows], [SMALL, LARGE]);
      assert.ok(a.samples.length > 4 && b.samples.length > 4, `enough samples: ${a.samples.length}, ${b.samples.length}`);
      // Arrow: record batches; Parquet: row groups.
      assert.ok(b.maxBatch <= (format === 'arrow' ? 65_536 : 131_072), `${format}: ${b.maxBatch} rows in one`);
      // What is held while the rows stream (beyond what was held before either download; below zero
      // when something held then, such as an earlier test's rows, has been let go since): the same
      // at the end of the large result as at its start, and the same for four times the rows. A
      // single sample may catch a moment when a batch and its copies coexist: the maximum is
      // bounded, the medians compared.
      const quarter = Math.max(1, Math.floor(b.samples.length / 4));
      const early = median(b.samples.slice(0, quarter));
      const late = median(b.samples.slice(-quarter));
      console.log(
        `${format}: held (median, max) ${mb(median(a.samples))}, ${mb(Math.max(...a.samples))} for ${SMALL} rows; ` +
          `${mb(median(b.samples))}, ${mb(Math.max(...b.samples))} for ${LARGE} (first quarter ${mb(early)}, last ${mb(late)}); ` +
          `WebAssembly memory ${mb(wasmBefore)} -> ${mb(wasmSmall)} -> ${mb(wasmLarge)}`,
      );
      assert.ok(late - early < 24 * 1024 * 1024, `${format}: ${mb(late - early)} more held at the end than at the start`);
      const more = median(b.samples) - median(a.samples);
      assert.ok(more < 24 * 1024 * 1024, `${format}: four times the rows held ${mb(more)} more`);
      assert.ok(Math.max(...b.samples) < 160 * 1024 * 1024, `${format}: ${mb(Math.max(...b.samples))} held at the peak`);
      // WebAssembly memory never shrinks: its size is the writer's peak.
      assert.ok(wasmLarge - wasmSmall <= 8 * 1024 * 1024, `${format}: WebAssembly memory grew by ${mb(wasmLarge - wasmSmall)}`);
    }
  });
});
