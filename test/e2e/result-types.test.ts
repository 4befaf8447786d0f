/**
 * Every DuckDB type reaches the client in its documented JSON form, through the real path: a job,
 * its Parquet result, a GraphQL page, and the two text downloads, which spell it the same way
 * (NDJSON as the same JSON, CSV as the JSON form's text). One test per type; the README's table
 * lists the same forms.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gqlData, submit, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startServer({ JOBQL_RESULT_MAX_ROWS: '1000' });
});
after(() => server.stop());

async function value(expression: string): Promise<{ type: string; value: unknown; ndjson: string; csv: string }> {
  const job = await waitForEnd(server.url, (await submit(server.url, `select ${expression} as v`)).id);
  assert.equal(job.status, 'SUCCESS', `${expression}: ${JSON.stringify(job.error)}`);
  const data = await gqlData(server.url, `{ job(id: "${job.id}") { result { columns { name type } rows } } }`);
  const download = async (format: string): Promise<string> => {
    const response = await fetch(server.url.replace('/graphql', `/jobs/${job.id}/result.${format}`));
    assert.equal(response.status, 200, format);
    return response.text();
  };
  return { type: data.job.result.columns[0].type, value: data.job.result.rows[0][0], ndjson: await download('ndjson'), csv: await download('csv') };
}

/**
 * The CSV spelling of a JSON form, written out independently of the server's: NULL an empty
 * field, an empty string `""`, a string itself, a number or boolean its JSON text, anything else
 * its compact JSON; quoted (quotes doubled) when it holds a comma, a quote or a line break.
 */
function csvOf(json: unknown): string {
  if (json === null) return '';
  if (json === '') return '""';
  const text = typeof json === 'string' ? json : JSON.stringify(json);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const cases: [string, string, string, unknown][] = [
  // [name, SQL expression, DuckDB type, JSON form]
  ['BOOLEAN', 'true', 'BOOLEAN', true],
  ['TINYINT', '-7::tinyint', 'TINYINT', -7],
  ['SMALLINT', '300::smallint', 'SMALLINT', 300],
  ['INTEGER', '2147483647', 'INTEGER', 2147483647],
  ['BIGINT in the safe range', '9007199254740991::bigint', 'BIGINT', 9007199254740991],
  ['BIGINT past the safe range', '9007199254740993::bigint', 'BIGINT', '9007199254740993'],
  ['negative BIGINT past the safe range', '(-9223372036854775808)::bigint', 'BIGINT', '-9223372036854775808'],
  ['UTINYINT', '255::utinyint', 'UTINYINT', 255],
  ['USMALLINT', '65535::usmallint', 'USMALLINT', 65535],
  ['UINTEGER', '4294967295::uinteger', 'UINTEGER', 4294967295],
  ['UBIGINT', '18446744073709551615::ubigint', 'UBIGINT', '18446744073709551615'],
  ['HUGEINT', '170141183460469231731687303715884105727::hugeint', 'HUGEINT', '170141183460469231731687303715884105727'],
  ['small HUGEINT', '5::hugeint', 'HUGEINT', '5'],
  ['UHUGEINT', '340282366920938463463374607431768211455::uhugeint', 'UHUGEINT', '340282366920938463463374607431768211455'],
  ['BIGNUM', "'123456789012345678901234567890123456789012'::bignum", 'BIGNUM', '123456789012345678901234567890123456789012'],
  ['FLOAT', '1.5::float', 'FLOAT', 1.5],
  ['DOUBLE', '0.1::double', 'DOUBLE', 0.1],
  ['NaN', "'nan'::double", 'DOUBLE', 'NaN'],
  ['Infinity', "'inf'::double", 'DOUBLE', 'Infinity'],
  ['-Infinity', "'-inf'::float", 'FLOAT', '-Infinity'],
  ['DECIMAL within 15 digits', '12345.678::decimal(10,3)', 'DECIMAL(10,3)', 12345.678],
  ['wide DECIMAL', '12345678901234567890.1234567891::decimal(38,10)', 'DECIMAL(38,10)', '12345678901234567890.1234567891'],
  ['VARCHAR', "'héllo \"world\"'", 'VARCHAR', 'héllo "world"'],
  ['VARCHAR with a comma and a line break', "'a, b' || chr(10) || 'c'", 'VARCHAR', 'a, b\nc'],
  ['empty VARCHAR', "''", 'VARCHAR', ''],
  ['BLOB as base64', "'\\x00\\xFFab'::blob", 'BLOB', Buffer.from([0, 255, 0x61, 0x62]).toString('base64')],
  ['UUID', "'f47ac10b-58cc-4372-a567-0e02b2c3d479'::uuid", 'UUID', 'f47ac10b-58cc-4372-a567-0e02b2c3d479'],
  ['ENUM', "'sad'::enum('sad', 'ok', 'happy')", "ENUM('sad', 'ok', 'happy')", 'sad'],
  ['ENUM whose labels are type names', "'INTERVAL'::enum('INTERVAL', 'HUGEINT')", "ENUM('INTERVAL', 'HUGEINT')", 'INTERVAL'],
  ['BIT', "'10110'::bit", 'BIT', '10110'],
  ['JSON', `'{"a": [1, 2, {"b": null}]}'::json`, 'JSON', { a: [1, 2, { b: null }] }],
  ['DATE', "date '2024-02-29'", 'DATE', '2024-02-29'],
  ['DATE before year 1', "date '0044-03-15 (BC)'", 'DATE', '-000043-03-15'],
  ['DATE infinity', "'infinity'::date", 'DATE', 'infinity'],
  ['TIME', "time '13:04:05.123456'", 'TIME', '13:04:05.123456'],
  ['TIME WITH TIME ZONE', "'13:04:05+02:30'::timetz", 'TIME WITH TIME ZONE', '13:04:05.000000+02:30'],
  ['TIMESTAMP (no zone)', "timestamp '2024-01-02 03:04:05.123456'", 'TIMESTAMP', '2024-01-02T03:04:05.123456'],
  ['TIMESTAMP before 1970', "timestamp '1969-12-31 23:59:59.5'", 'TIMESTAMP', '1969-12-31T23:59:59.500000'],
  ['TIMESTAMP_S', "timestamp_s '2024-01-02 03:04:05'", 'TIMESTAMP_S', '2024-01-02T03:04:05'],
  ['TIMESTAMP_MS', "timestamp_ms '2024-01-02 03:04:05.123'", 'TIMESTAMP_MS', '2024-01-02T03:04:05.123'],
  ['TIMESTAMP_NS', "timestamp_ns '2024-01-02 03:04:05.123456789'", 'TIMESTAMP_NS', '2024-01-02T03:04:05.123456789'],
  ['TIMESTAMP WITH TIME ZONE, in UTC', "timestamptz '2024-01-02 03:04:05+02'", 'TIMESTAMP WITH TIME ZONE', '2024-01-02T01:04:05.000000Z'],
  ['TIMESTAMP infinity', "'infinity'::timestamp", 'TIMESTAMP', 'infinity'],
  ['INTERVAL', "interval '1 year 2 months 3 days 04:05:06.5'", 'INTERVAL', 'P1Y2M3DT4H5M6.5S'],
  ['zero INTERVAL', "interval '0 seconds'", 'INTERVAL', 'PT0S'],
  ['negative INTERVAL', "interval '-90 minutes'", 'INTERVAL', 'PT-1H-30M'],
  ['LIST', '[1, 2, null]', 'INTEGER[]', [1, 2, null]],
  ['ARRAY', '[1.5, 2.5]::double[2]', 'DOUBLE[2]', [1.5, 2.5]],
  ['STRUCT', "{'name': 'ada', 'born': date '1815-12-10', 'tags': ['a']}", 'STRUCT("name" VARCHAR, "born" DATE, "tags" VARCHAR[])', { name: 'ada', born: '1815-12-10', tags: ['a'] }],
  ['MAP', "map {'a': 1, 'b': 2}", 'MAP(VARCHAR, INTEGER)', [{ key: 'a', value: 1 }, { key: 'b', value: 2 }]],
  ['UNION', "union_value(num := 2)::union(num integer, str varchar)", 'UNION("num" INTEGER, "str" VARCHAR)', { num: 2 }],
  ['nested HUGEINT stays exact', "[{'h': 170141183460469231731687303715884105727::hugeint}]", 'STRUCT("h" HUGEINT)[]', [{ h: '170141183460469231731687303715884105727' }]],
  ['nested UNION', "[union_value(str := 'x')::union(num integer, str varchar)]", 'UNION("num" INTEGER, "str" VARCHAR)[]', [{ str: 'x' }]],
  ['NULL', 'null::integer', 'INTEGER', null],
];

describe('result types', () => {
  for (const [name, expression, type, json] of cases) {
    test(name, async () => {
      const got = await value(expression);
      assert.equal(got.type, type);
      assert.deepEqual(got.value, json);
      assert.deepEqual(JSON.parse(got.ndjson), [json], 'NDJSON: the same JSON form');
      assert.equal(got.ndjson, `${JSON.stringify([json])}\n`);
      assert.equal(got.csv, `v\n${csvOf(json)}\n`, 'CSV: the JSON form as text');
    });
  }
});

describe('column metadata', () => {
  test('DECIMAL columns carry precision and scale; others have none', async () => {
    const job = await waitForEnd(server.url, (await submit(server.url, 'select 1.5::decimal(18,3) as d, 1 as i')).id);
    const data = await gqlData(server.url, `{ job(id: "${job.id}") { result { columns { name type nullable precision scale } } } }`);
    assert.deepEqual(data.job.result.columns, [
      { name: 'd', type: 'DECIMAL(18,3)', nullable: true, precision: 18, scale: 3 },
      { name: 'i', type: 'INTEGER', nullable: true, precision: null, scale: null },
    ]);
  });
});

describe('result size', () => {
  test('a result over JOBQL_RESULT_MAX_ROWS is cut there and says so', async () => {
    const job = await waitForEnd(server.url, (await submit(server.url, 'select range from range(5000)')).id);
    const data = await gqlData(
      server.url,
      `{ job(id: "${job.id}") { result(first: 10, after: "${Buffer.from('row:995').toString('base64url')}") { rows totalRows truncated pageInfo { hasNextPage } } } }`,
    );
    assert.deepEqual(data.job.result, {
      rows: [[995], [996], [997], [998], [999]],
      totalRows: 1000,
      truncated: true,
      pageInfo: { hasNextPage: false },
    });
  });

  test('a result within the cap is not truncated', async () => {
    const job = await waitForEnd(server.url, (await submit(server.url, 'select range from range(1000)')).id);
    const data = await gqlData(server.url, `{ job(id: "${job.id}") { result(first: 1) { totalRows truncated } } }`);
    assert.deepEqual(data.job.result, { totalRows: 1000, truncated: false });
  });
});

describe('byte cap', () => {
  test('a result over JOBQL_RESULT_MAX_BYTES keeps its first rows, fits the cap, and says so', async () => {
    const capped = await startServer({ JOBQL_RESULT_MAX_BYTES: '200000' });
    try {
      const job = await waitForEnd(capped.url, (await submit(capped.url, 'select range as id, md5(range::varchar) as h from range(100000)')).id);
      assert.equal(job.status, 'SUCCESS');
      const data = await gqlData(capped.url, `{ job(id: "${job.id}") { result(first: 3) { rows totalRows truncated } } }`);
      const { totalRows, truncated, rows } = data.job.result;
      assert.equal(truncated, true);
      assert.ok(totalRows > 0 && totalRows < 100000, `kept ${totalRows} rows`);
      assert.deepEqual(rows.map((r: unknown[]) => r[0]), [0, 1, 2], 'the first rows are the ones kept');
      const size = fs.statSync(path.join(capped.dataDir, 'results', `${job.queryId}.parquet`)).size;
      assert.ok(size <= 200000, `stored ${size} bytes`);
    } finally {
      await capped.stop();
    }
  });
});

describe('RESULT_SCAN', () => {
  test('SQL reads an earlier job result by job id or by query id, types intact', async () => {
    const first = await waitForEnd(
      server.url,
      (await submit(server.url, "select range as n, 170141183460469231731687303715884105727::hugeint - range as h, 'x' || range as s from range(100)")).id,
    );
    for (const id of [first.id, first.queryId]) {
      const reuse = await waitForEnd(
        server.url,
        (await submit(server.url, `select count(*) as c, sum(n) as total, min(s) as lo, max(h) as top from result_scan('${id}')`)).id,
      );
      assert.equal(reuse.status, 'SUCCESS', JSON.stringify(reuse.error));
      const data = await gqlData(server.url, `{ job(id: "${reuse.id}") { result { rows } } }`);
      assert.deepEqual(data.job.result.rows, [[100, '4950', 'x0', '170141183460469231731687303715884105727']]);
    }
  });

  test('an unknown id fails the job; a path cannot escape the result store', async () => {
    const unknown = await waitForEnd(server.url, (await submit(server.url, "select * from result_scan('job_nope')")).id);
    assert.equal(unknown.status, 'FAILED_WITH_ERROR');
    const escape = await waitForEnd(server.url, (await submit(server.url, "select * from result_scan('../../../../etc/passwd')")).id);
    assert.equal(escape.status, 'FAILED_WITH_ERROR');
    assert.doesNotMatch(escape.error.message, /root:/);
  });

});
