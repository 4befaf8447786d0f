/**
 * Each warehouse adapter, and its driver, is loaded only when it is the one configured
 * (src/warehouses/open-warehouse.ts): a Snowflake deployment never loads DuckDB's native module or
 * parquet-wasm, and the embedded one never loads snowflake-sdk.
 *
 * Each case starts `node src/main.ts` as a deployment would, with record-loads.ts preloaded to log
 * every module the process resolves and every native addon it opens, runs a query to its end,
 * reads its rows and downloads them, stops the process, and then reads the log. Each case also
 * checks that its own adapter's driver IS in the log, so an empty or broken log cannot pass.
 * (The DuckDB engine process gets none of the API's Node flags, so only the API process is logged:
 * that is the process the Snowflake deployment runs.)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gqlData, submit, waitForEnd } from '../helpers/client.ts';
import { spawnServer } from '../helpers/process.ts';
import { tempDir } from '../helpers/server.ts';
import { type SnowflakeDouble, startSnowflakeDouble } from '../snowflake-double/server.ts';

const RECORDER = new URL('./record-loads.ts', import.meta.url).href;

const DUCKDB_DRIVERS = [/\/node_modules\/@duckdb\//, /\/node_modules\/parquet-wasm\//, /duckdb\.node$/];
const DUCKDB_ADAPTER = /\/src\/warehouses\/duckdb\//;
const SNOWFLAKE_DRIVER = /\/node_modules\/snowflake-sdk\//;
// config.ts reads SNOWFLAKE_* and connections.toml through connection-options.ts, whatever the
// warehouse (it takes only types from the driver); the rest of the adapter must stay unloaded.
const SNOWFLAKE_ADAPTER = /\/src\/warehouses\/snowflake\/(?!connection-options\.ts)/;

/** What one jobql process loaded, running a query end to end: module URLs and `dlopen` paths. */
async function loadedBy(env: Record<string, string>, sql: string): Promise<string[]> {
  const loadsDir = tempDir('jobql-loads-');
  const dataDir = tempDir('jobql-loading-');
  try {
    const server = await spawnServer({
      JOBQL_DATA_DIR: dataDir,
      JOBQL_SHUTDOWN_GRACE_MS: '0',
      JOBQL_TEST_LOADS_DIR: loadsDir,
      NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import=${RECORDER}`.trim(),
      ...env,
    });
    try {
      const job = await waitForEnd(server.url, (await submit(server.url, sql)).id, 30_000);
      assert.equal(job.status, 'SUCCESS', JSON.stringify(job.error));
      const data = await gqlData(server.url, `query($id: ID!) { job(id: $id) { result { rows } } }`, { id: job.id });
      assert.deepEqual(data.job.result.rows, [[42]]);
      const csv = await fetch(`${server.url.replace('/graphql', '')}/jobs/${job.id}/result.csv`);
      assert.equal(csv.status, 200);
      assert.match(await csv.text(), /^answer\r?\n42\r?\n$/i);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    const file = path.join(loadsDir, `${server.child.pid}.log`);
    assert.ok(fs.existsSync(file), `the recorder wrote no log for the jobql process:\n${server.output()}`);
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    assert.match(lines[0] ?? '', /^argv .*src\/main\.ts/, 'the log is the jobql process’s');
    return lines.slice(1);
  } finally {
    fs.rmSync(loadsDir, { recursive: true, force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const loads = (line: string, patterns: RegExp[]): boolean => patterns.some((p) => p.test(line.split(' <- ')[0] ?? ''));

/** The logged lines whose module (not importer) matches one of `patterns`. */
function matching(lines: string[], patterns: RegExp[]): string[] {
  return [...new Set(lines.filter((line) => loads(line, patterns)))];
}

/**
 * The ways into the modules `patterns` match: each such module imported from outside them (so a
 * failure names the culprit, not the driver's hundreds of own modules), and each native addon.
 */
function waysInto(lines: string[], patterns: RegExp[]): string[] {
  return matching(lines, patterns).filter((line) => {
    const importer = line.split(' <- ')[1];
    return importer === undefined || !patterns.some((p) => p.test(importer));
  });
}

describe('each warehouse adapter loads only its own driver', () => {
  let double: SnowflakeDouble;
  before(async () => {
    double = await startSnowflakeDouble();
  });
  after(() => double.stop());

  test('a Snowflake deployment never loads DuckDB, its native module, or parquet-wasm', async (t) => {
    const home = tempDir('jobql-sf-home-');
    t.after(() => fs.rmSync(home, { recursive: true, force: true }));
    const lines = await loadedBy(
      {
        JOBQL_WAREHOUSE: 'snowflake',
        SNOWFLAKE_ACCESS_URL: double.url,
        SNOWFLAKE_ACCOUNT: 'testaccount',
        SNOWFLAKE_USER: 'jobql',
        SNOWFLAKE_PASSWORD: 'secret',
        SNOWFLAKE_HOME: home, // no connections.toml of the machine's user leaks in
      },
      'select 42 as answer',
    );
    assert.notDeepEqual(matching(lines, [SNOWFLAKE_DRIVER]), [], 'the log shows the Snowflake driver it ran on');
    assert.deepEqual(waysInto(lines, [...DUCKDB_DRIVERS, DUCKDB_ADAPTER]), [], 'loaded by the Snowflake deployment');
  });

  test('the embedded DuckDB deployment never loads snowflake-sdk or the Snowflake adapter', async () => {
    const lines = await loadedBy({}, 'select 42 as answer');
    for (const driver of DUCKDB_DRIVERS) {
      assert.notDeepEqual(matching(lines, [driver]), [], `the log shows the DuckDB deployment loading ${driver}`);
    }
    assert.deepEqual(waysInto(lines, [SNOWFLAKE_DRIVER, SNOWFLAKE_ADAPTER]), [], 'loaded by the DuckDB deployment');
  });
});
