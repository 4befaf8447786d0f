/**
 * Signed download links on the Snowflake warehouse (snowflake-sdk against the wire-level double):
 * its own download code streams CSV and NDJSON from the result's rows, so the same link, HEAD and
 * Range rules and the same spelling of every value are checked here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newApiKey } from '../helpers/auth.ts';
import { gqlData, submit, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer, tempDir } from '../helpers/server.ts';
import { snowflakeServerEnv } from '../helpers/snowflake-env.ts';
import { type SnowflakeDouble, startSnowflakeDouble } from '../snowflake-double/server.ts';

const alice = newApiKey('alice', false);
const bob = newApiKey('bob', false);

let double: SnowflakeDouble;
let server: TestServer;
let base: string;

before(async () => {
  double = await startSnowflakeDouble({ chunkRows: 100, syncWaitMs: 500 });
  const dataDir = tempDir();
  server = await startServer(
    {
      ...snowflakeServerEnv(double, dataDir),
      JOBQL_API_KEYS: `${alice.entry},${bob.entry}`,
      JOBQL_DOWNLOAD_SIGNING_KEY: Buffer.alloc(32, 7).toString('base64'),
    },
    dataDir,
  );
  base = server.url.replace('/graphql', '');
});
after(async () => {
  await server?.stop();
  await double?.stop();
});

async function finished(sql: string): Promise<{ id: string; links: Record<string, string>; rows: unknown[][] }> {
  const job = await waitForEnd(server.url, (await submit(server.url, sql, {}, alice.key)).id, 20_000, 'id status isTerminal', alice.key);
  assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
  const data = await gqlData(server.url, `{ job(id: "${job.id}") { downloads { csv ndjson arrow parquet expiresAt } result(first: 1000) { rows } } }`, {}, alice.key);
  return { id: job.id, links: data.job.downloads, rows: data.job.result.rows };
}

/** The CSV spelling of a JSON form (as in result-types.test.ts). */
function csvOf(json: unknown): string {
  if (json === null) return '';
  if (json === '') return '""';
  const text = typeof json === 'string' ? json : JSON.stringify(json);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

describe('downloads on Snowflake', () => {
  test('CSV and NDJSON links work with no header and spell every value as the page does', async () => {
    const job = await finished(
      `select 1 as i, 12345678901234567890::decimal(38,0) as big, 1.5::decimal(10,3) as d, 0.1::double as f,
              'a, "b"' as s, '' as empty, null::integer as n, true as b, date '2024-02-29' as dt,
              timestamp '2024-01-02 03:04:05.123456' as ts, timestamptz '2024-01-02 03:04:05+02' as tz,
              time '13:04:05.123456' as t, '\\x00\\xFFab'::blob as bin, [1, 2] as arr, {'k': 'v'} as obj`,
    );
    const [row] = job.rows as unknown[][];
    const ndjson = await fetch(base + job.links['ndjson']);
    assert.equal(ndjson.status, 200);
    assert.deepEqual(JSON.parse((await ndjson.text()).trim()), row, 'NDJSON: the page\'s JSON forms');
    const csv = await fetch(base + job.links['csv']);
    assert.equal(csv.status, 200);
    const [header, record] = (await csv.text()).split('\n');
    assert.equal(header!.toLowerCase(), 'i,big,d,f,s,empty,n,b,dt,ts,tz,t,bin,arr,obj');
    assert.equal(record, row!.map(csvOf).join(','), 'CSV: the JSON forms as text');
  });

  test('HEAD gives GET\'s headers; Range is ignored (Accept-Ranges: none); a changed link is 403', async () => {
    const job = await finished('select range as n from range(300)');
    for (const format of ['csv', 'ndjson', 'arrow', 'parquet']) {
      const get = await fetch(base + job.links[format]);
      assert.equal(get.status, 200, format);
      const body = Buffer.from(await get.arrayBuffer());
      const head = await fetch(base + job.links[format], { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal((await head.arrayBuffer()).byteLength, 0);
      for (const name of ['content-type', 'content-disposition', 'accept-ranges', 'cache-control', 'content-length']) {
        assert.equal(head.headers.get(name), get.headers.get(name), `${format}: ${name}`);
      }
      assert.equal(get.headers.get('accept-ranges'), 'none');
      const ranged = await fetch(base + job.links[format], { headers: { range: 'bytes=0-3' } });
      assert.equal(ranged.status, 200);
      assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), body);
      const other = job.links[format]!.replace(`result.${format}`, format === 'csv' ? 'result.ndjson' : 'result.csv');
      assert.equal((await fetch(base + other)).status, 403);
    }
    // Another principal's header finds nothing; the owner's link works for anyone holding it.
    const path = job.links['csv']!.split('?')[0]!;
    assert.equal((await fetch(base + path, { headers: { authorization: `Bearer ${bob.key}` } })).status, 404);
  });
});
