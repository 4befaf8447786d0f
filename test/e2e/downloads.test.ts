/**
 * Result downloads over HTTP, each format read back with an independent reader: csv-parse for CSV,
 * apache-arrow for Arrow IPC, hyparquet for Parquet, JSON.parse per line for NDJSON.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { parse } from 'csv-parse/sync';
import { parquetReadObjects } from 'hyparquet';
import { gqlData, submit, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { within } from '../helpers/wait-for.ts';

let server: TestServer;
let base: string;
let job: any;
const ROWS = 100_000;

before(async () => {
  server = await startServer();
  base = server.url.replace('/graphql', '');
  job = await waitForEnd(
    server.url,
    (
      await submit(
        server.url,
        `select range as id, 'name, "quoted" ' || range as name, range / 4 as ratio,
                timestamp '2024-01-01 00:00:00' + to_seconds(range) as at,
                170141183460469231731687303715884105727::hugeint - range as big
         from range(${ROWS}) order by id`,
      )
    ).id,
    60_000,
  );
});
after(() => server.stop());

async function download(path: string): Promise<Response> {
  return fetch(base + path);
}

describe('downloads', () => {
  test('the Job type gives signed links once the job succeeded', async () => {
    const data = await gqlData(server.url, `{ job(id: "${job.id}") { downloads { csv ndjson arrow parquet expiresAt } } }`);
    const { expiresAt, ...links } = data.job.downloads;
    const expires = Date.parse(expiresAt) / 1000;
    for (const format of ['csv', 'ndjson', 'arrow', 'parquet']) {
      const link = new URL(links[format], base);
      assert.equal(link.pathname, `/jobs/${job.id}/result.${format}`);
      assert.deepEqual([...link.searchParams.keys()], ['principal', 'expires', 'sig']);
      assert.equal(link.searchParams.get('principal'), 'local', 'open mode: the local principal owns every job');
      assert.equal(Number(link.searchParams.get('expires')), expires);
      assert.match(link.searchParams.get('sig')!, /^[A-Za-z0-9_-]{43}$/);
    }
    // Five minutes by default (whole seconds).
    assert.ok(Math.abs(expires - (Date.now() / 1000 + 300)) < 5, `expires ${expiresAt}`);
    const failed = await waitForEnd(server.url, (await submit(server.url, 'select * from nowhere')).id);
    assert.equal((await gqlData(server.url, `{ job(id: "${failed.id}") { downloads { csv } } }`)).job.downloads, null);
  });

  test('CSV, read back with a CSV parser, values in the JSON forms of pages', async () => {
    const response = await download(`/jobs/${job.id}/result.csv`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(response.headers.get('content-disposition') ?? '', new RegExp(`${job.id}\\.csv`));
    const records = parse(await response.text(), { columns: true }) as Record<string, string>[];
    assert.equal(records.length, ROWS);
    assert.deepEqual(records[7], {
      id: '7',
      name: 'name, "quoted" 7',
      ratio: '1.75',
      at: '2024-01-01T00:00:07.000000',
      big: '170141183460469231731687303715884105720',
    });
  });

  test('NDJSON, one JSON array per row in the same forms as pages', async () => {
    const response = await download(`/jobs/${job.id}/result.ndjson`);
    assert.equal(response.status, 200);
    const lines = (await response.text()).trimEnd().split('\n');
    assert.equal(lines.length, ROWS);
    assert.deepEqual(JSON.parse(lines[7]!), [7, 'name, "quoted" 7', 1.75, '2024-01-01T00:00:07.000000', '170141183460469231731687303715884105720']);
    const page = await gqlData(server.url, `{ job(id: "${job.id}") { result(first: 1, after: "${Buffer.from('row:7').toString('base64url')}") { rows } } }`);
    assert.deepEqual(page.job.result.rows[0], JSON.parse(lines[7]!));
  });

  test('Arrow IPC stream, read back with apache-arrow', async () => {
    const response = await download(`/jobs/${job.id}/result.arrow`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/vnd.apache.arrow.stream');
    const table = tableFromIPC(new Uint8Array(await response.arrayBuffer()));
    assert.equal(table.numRows, ROWS);
    assert.deepEqual(
      table.schema.fields.map((f) => f.name),
      ['id', 'name', 'ratio', 'at', 'big'],
    );
    const row = table.get(ROWS - 1)!.toJSON();
    assert.equal(row['id'], BigInt(ROWS - 1));
    assert.equal(row['name'], `name, "quoted" ${ROWS - 1}`);
    assert.equal(row['big'], (170141183460469231731687303715884105727n - BigInt(ROWS - 1)).toString());
  });

  test('Parquet, read back with hyparquet', async () => {
    const response = await download(`/jobs/${job.id}/result.parquet`);
    assert.equal(response.status, 200);
    const rows = await parquetReadObjects({ file: await response.arrayBuffer() });
    assert.equal(rows.length, ROWS);
    assert.equal(rows[42]!['id'], 42n);
    assert.equal(rows[42]!['name'], 'name, "quoted" 42');
    assert.equal(rows[42]!['big'], '170141183460469231731687303715884105685');
  });

  test('a large non-query result (INSERT ... RETURNING) is stored and paged like any other', async () => {
    const job = await waitForEnd(
      server.url,
      (await submit(server.url, 'create or replace table big (x bigint); insert into big select range from range(50000) returning x')).id,
    );
    assert.equal(job.status, 'SUCCESS', JSON.stringify(job.error));
    const after = Buffer.from('row:49998').toString('base64url');
    const data = await gqlData(server.url, `{ job(id: "${job.id}") { result(after: "${after}") { totalRows rows } } }`);
    assert.deepEqual(data.job.result, { totalRows: 50000, rows: [[49998], [49999]] });
  });

  test('a small non-query result (a DML count) downloads too, and RESULT_SCAN reads it', async () => {
    const setup = await waitForEnd(server.url, (await submit(server.url, 'create or replace table d (x int); insert into d select * from range(3)')).id);
    const csv = await (await download(`/jobs/${setup.id}/result.csv`)).text();
    assert.deepEqual(parse(csv, { columns: true }), [{ Count: '3' }]);
    const scan = await waitForEnd(server.url, (await submit(server.url, `select * from result_scan('${setup.id}')`)).id);
    const data = await gqlData(server.url, `{ job(id: "${scan.id}") { result { columns { name } rows } } }`);
    assert.deepEqual(data.job.result, { columns: [{ name: 'Count' }], rows: [[3]] });
  });
});

describe('download errors', () => {
  const cases: [string, () => string, number, string][] = [
    ['an unknown job', () => '/jobs/job_nope/result.csv', 404, 'NOT_FOUND'],
    ['an unknown format', () => `/jobs/${job.id}/result.xlsx`, 404, 'BAD_USER_INPUT'],
    ['a malformed percent-encoding in the id', () => '/jobs/%E0%A4%A/result.csv', 400, 'BAD_REQUEST'],
  ];
  for (const [name, path, status, code] of cases) {
    test(`${name} → ${status} ${code}`, async () => {
      const response = await download(path());
      assert.equal(response.status, status);
      const body = (await response.json()) as any;
      assert.equal(body.errors[0].extensions.code, code);
    });
  }

  test('a failed job → 409 RESULT_NOT_READY', async () => {
    const failed = await waitForEnd(server.url, (await submit(server.url, 'select * from missing_table')).id);
    const response = await download(`/jobs/${failed.id}/result.parquet`);
    assert.equal(response.status, 409);
    assert.equal(((await response.json()) as any).errors[0].extensions.code, 'RESULT_NOT_READY');
  });

  test('a POST → 405, saying what is allowed', async () => {
    const response = await fetch(`${base}/jobs/${job.id}/result.csv`, { method: 'POST' });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'GET, HEAD');
  });

  test('a client that stops reading mid-download leaves the server serving', async () => {
    // The server's side of the download is done with once its body stream closes: the pipeline
    // destroys it when the client goes away (or ends it when everything was sent).
    const warehouse = server.app.warehouse;
    const downloadResult = warehouse.downloadResult;
    const bodyClosed = Promise.withResolvers<void>();
    warehouse.downloadResult = async (queryId, format) => {
      const found = await downloadResult.call(warehouse, queryId, format);
      found?.body.once('close', () => bodyClosed.resolve());
      return found;
    };
    const controller = new AbortController();
    try {
      const response = await fetch(`${base}/jobs/${job.id}/result.ndjson`, { signal: controller.signal });
      const reader = response.body!.getReader();
      await reader.read();
      controller.abort();
      await within(bodyClosed.promise, { timeoutMs: 5000, what: 'the server to close the aborted download' });
    } finally {
      warehouse.downloadResult = downloadResult;
    }
    const again = await download(`/jobs/${job.id}/result.csv`);
    assert.equal(again.status, 200);
    await again.arrayBuffer();
  });
});
