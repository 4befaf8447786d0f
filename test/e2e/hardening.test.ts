/**
 * Untrusted SQL on the embedded warehouse reaches no host file or network beyond the configured
 * data directories, installs no extension and changes no setting. Each attempt must end the job
 * FAILED_WITH_ERROR; the files it aims at must be untouched.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gqlData, submit, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer, tempDir } from '../helpers/server.ts';

let server: TestServer;
let dataDir: string;
let outside: string;
before(async () => {
  dataDir = tempDir('jobql-data-');
  fs.writeFileSync(path.join(dataDir, 'people.csv'), 'name,age\nada,36\nalan,41\n');
  outside = tempDir('jobql-outside-');
  fs.writeFileSync(path.join(outside, 'secret.csv'), 'token\nhunter2\n');
  server = await startServer({ JOBQL_DUCKDB_ALLOWED_DIRS: dataDir, JOBQL_DUCKDB_MEMORY_LIMIT: '256MB' });
});
after(() => server.stop());

async function run(sql: string): Promise<any> {
  return waitForEnd(server.url, (await submit(server.url, sql)).id);
}

describe('the embedded warehouse with untrusted SQL', () => {
  test('reads a configured data directory', async () => {
    const job = await run(`select name, age from read_csv('${dataDir}/people.csv') order by name`);
    assert.equal(job.status, 'SUCCESS');
    const data = await gqlData(server.url, `{ job(id: "${job.id}") { result { rows } } }`);
    assert.deepEqual(data.job.result.rows, [
      ['ada', 36],
      ['alan', 41],
    ]);
  });

  const attempts: [string, (w: string) => string][] = [
    ['read /etc/passwd with read_csv', () => `select * from read_csv('/etc/passwd')`],
    ['read /etc/passwd with read_text', () => `select * from read_text('/etc/passwd')`],
    ['read /etc/passwd as a table', () => `select * from '/etc/passwd'`],
    ['read a file outside the data directory', () => `select * from read_csv('${outside}/secret.csv')`],
    ['escape the data directory with ..', (_) => `select * from read_csv('${dataDir}/../${path.basename(outside)}/secret.csv')`],
    ['glob the file system', () => `select * from glob('/etc/*')`],
    ['read a blob', () => `select * from read_blob('/etc/hostname')`],
    ['write a file with COPY', () => `copy (select 1) to '${outside}/x.csv'`],
    ['write into the data directory with COPY', () => `copy (select 1) to '${dataDir}/x.csv'`],
    ['overwrite the warehouse WAL with COPY', (w) => `copy (select 1) to '${w}.wal'`],
    ['export the database', () => `export database '${outside}/dump'`],
    ['attach a new database file', () => `attach '${outside}/new.duckdb' as other`],
    ['install an extension', () => `install httpfs`],
    ['load an extension', () => `load httpfs`],
    ['read over the network', () => `select * from read_csv('https://example.com/x.csv')`],
    ['turn external access back on', () => `set enable_external_access = true`],
    ['unlock the configuration', () => `set lock_configuration = false`],
    ['raise the memory limit', () => `set memory_limit = '100GB'`],
    ['raise the thread count with PRAGMA', () => `pragma threads = 64`],
    ['move the home directory', () => `set home_directory = '/'`],
    ['smuggle a COPY through PREPARE', (w) => `prepare p as copy (select 42) to '${path.dirname(w)}/results/evil.csv'; execute p`],
    ['overwrite the WAL through PREPARE', (w) => `prepare q as copy (select 1) to '${w}.wal'; execute q`],
    ['overwrite a stored result', (w) => `copy (select 666) to '${path.dirname(w)}/results/x.parquet'`],
  ];
  for (const [name, sql] of attempts) {
    test(`cannot ${name}`, async () => {
      const warehouseFile = path.join(server.dataDir, 'warehouse.duckdb');
      const job = await run(sql(warehouseFile));
      assert.equal(job.status, 'FAILED_WITH_ERROR', `${name}: ${JSON.stringify(job.error)}`);
      assert.ok(
        ['SQL_PERMISSION_DENIED', 'SQL_INVALID_INPUT', 'SQL_OBJECT_NOT_FOUND', 'SQL_ERROR'].includes(job.error.code),
        job.error.code,
      );
      assert.doesNotMatch(job.error.message, /root:x:0:0/);
    });
  }

  test('no file was written outside the job and result stores, nor into them by SQL', () => {
    assert.deepEqual(fs.readdirSync(outside), ['secret.csv']);
    assert.deepEqual(fs.readdirSync(dataDir), ['people.csv']);
    const results = fs.readdirSync(path.join(server.dataDir, 'results'));
    assert.deepEqual(results.filter((name) => !/^(results\.sqlite.*|(job_[0-9a-f]{32}|[0-9a-f-]{36})\.parquet)$/.test(name)), []);
  });

  test('the memory limit ends a greedy query, and the warehouse keeps serving', async () => {
    const greedy = await run('select list(range) from range(200000000)');
    assert.equal(greedy.status, 'FAILED_WITH_ERROR');
    assert.equal(greedy.error.code, 'SQL_OUT_OF_MEMORY');
    assert.equal((await run('select 1')).status, 'SUCCESS');
  });

  test('no session state leaks between jobs', async () => {
    assert.equal((await run('create temp table scratch as select 1 as x; set variable v = 42; begin transaction')).status, 'SUCCESS');
    const next = await run('select * from scratch');
    assert.equal(next.status, 'FAILED_WITH_ERROR', 'a temporary table dies with its job');
    const variable = await gqlData(server.url, `{ job(id: "${(await run("select getvariable('v') as v")).id}") { result { rows } } }`);
    assert.deepEqual(variable.job.result.rows, [[null]]);
  });
});
