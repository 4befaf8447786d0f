/**
 * Escape attempts from untrusted SQL on the embedded warehouse, on top of those in
 * test/e2e/hardening.test.ts: files, the network, extensions, secrets and every locked setting.
 * Each must end the job FAILED_WITH_ERROR; no file may appear anywhere but the result store.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { submit, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer, tempDir } from '../helpers/server.ts';

let server: TestServer;
let dataDir: string;
let outside: string;
let tmpBefore: string[];
before(async () => {
  dataDir = tempDir('jobql-data-');
  fs.writeFileSync(path.join(dataDir, 'ok.csv'), 'a\n1\n');
  // An operator's data directory holding a link that points out of it.
  fs.symlinkSync('/etc/passwd', path.join(dataDir, 'link.csv'));
  outside = tempDir('jobql-outside-');
  fs.writeFileSync(path.join(outside, 'secret.csv'), 'token\nhunter2\n');
  tmpBefore = fs.readdirSync(os.tmpdir());
  server = await startServer({ JOBQL_DUCKDB_ALLOWED_DIRS: dataDir });
});
after(() => server.stop());

const secret = (): string => path.join(outside, 'secret.csv');
const ATTEMPTS: [string, () => string][] = [
  ['read_csv_auto /etc/passwd', () => `select * from read_csv_auto('/etc/passwd')`],
  ['read_json /etc/passwd', () => `select * from read_json('/etc/passwd')`],
  ['read_ndjson_objects', () => `select * from read_ndjson_objects('/etc/passwd')`],
  ['read_parquet outside', () => `select * from read_parquet('${outside}/x.parquet')`],
  ['parquet_metadata', () => `select * from parquet_metadata('/etc/passwd')`],
  ['sniff_csv (CVE-2024-41672)', () => `select * from sniff_csv('/etc/passwd')`],
  ['a list of files', () => `select * from read_csv(['/etc/passwd', '/etc/hostname'])`],
  ['a glob pattern', () => `select * from read_csv('/etc/pass*')`],
  ['a recursive glob', () => `select * from glob('/**')`],
  ['a file: URL', () => `select * from read_csv('file:///etc/passwd')`],
  ['the home directory (~)', () => `select * from read_text('~/.bashrc')`],
  ['the process environment', () => `select * from read_text('/proc/self/environ')`],
  ['another process memory map', () => `select * from read_text('/proc/1/maps')`],
  ['stdin', () => `select * from read_csv('/dev/stdin')`],
  ['COPY FROM a host file', () => `create table stolen (line varchar); copy stolen from '/etc/passwd'`],
  ['COPY TO stdout', () => `copy (select 1) to '/dev/stdout'`],
  ['COPY TO /tmp', () => `copy (select 1) to '${os.tmpdir()}/jobql-evil.csv'`],
  ['a file outside through .. from the data dir', () => `select * from read_csv('${dataDir}/../${path.basename(outside)}/secret.csv')`],
  ['a symlink in the data dir that points out', () => `select * from read_csv('${dataDir}/link.csv', header = false)`],
  ['a file outside directly', () => `select * from read_csv('${secret()}')`],
  ['IMPORT DATABASE', () => `import database '${outside}'`],
  ['ATTACH a host file read-only', () => `attach '/etc/passwd' as p (read_only)`],
  ['ATTACH postgres', () => `attach 'dbname=postgres host=127.0.0.1' as pg (type postgres)`],
  ['ATTACH sqlite', () => `attach '${outside}/x.sqlite' as s (type sqlite)`],
  ['http read', () => `select * from read_text('http://127.0.0.1:5432/')`],
  ['s3 read', () => `select * from read_parquet('s3://bucket/key.parquet')`],
  ['FORCE INSTALL from a URL', () => `force install httpfs from 'http://127.0.0.1:1/'`],
  ['LOAD a file', () => `load '${outside}/evil.duckdb_extension'`],
  ['CREATE SECRET', () => `create secret s (type s3, key_id 'k', secret 's')`],
  ['CREATE PERSISTENT SECRET', () => `create persistent secret s2 (type s3, key_id 'k', secret 's')`],
  ['read /etc/shadow as a blob', () => `select * from read_blob('/etc/shadow')`],
  ['SET allowed_directories', () => `set allowed_directories = ['/']`],
  ['SET disabled_filesystems', () => `set disabled_filesystems = ''`],
  ['SET temp_directory', () => `set temp_directory = '${outside}'`],
  ['SET extension_directory', () => `set extension_directory = '${outside}'`],
  ['SET allow_unsigned_extensions', () => `set allow_unsigned_extensions = true`],
  ['SET allow_community_extensions', () => `set allow_community_extensions = true`],
  ['SET autoinstall_known_extensions', () => `set autoinstall_known_extensions = true`],
  ['SET GLOBAL enable_external_access', () => `set global enable_external_access = true`],
  ['RESET lock_configuration', () => `reset lock_configuration`],
  ['PRAGMA enable_progress_bar=null (invalidates an unlocked instance)', () => `pragma enable_progress_bar = null`],
  ['SET threads', () => `set threads = 64`],
  ['getenv', () => `select getenv('HOME')`],
];

describe(`${ATTEMPTS.length} escape attempts`, () => {
  test('there are at least 40', () => assert.ok(ATTEMPTS.length >= 40));
  let refused = 0;
  for (const [name, sql] of ATTEMPTS) {
    test(`cannot: ${name}`, async () => {
      const job = await waitForEnd(server.url, (await submit(server.url, sql())).id);
      assert.equal(job.status, 'FAILED_WITH_ERROR', `${name}: ${JSON.stringify(job.error)}`);
      assert.doesNotMatch(job.error.message, /root:x:0:0|hunter2/);
      refused += 1;
    });
  }

  test('the engine still serves, with its limits unchanged', async () => {
    const job = await waitForEnd(server.url, (await submit(server.url, `select current_setting('threads') as t, current_setting('enable_external_access') as e`)).id);
    assert.equal(job.status, 'SUCCESS');
    console.log(`sql escape battery: ${ATTEMPTS.length} attempts (plus 23 in test/e2e/hardening.test.ts), ${refused} refused`);
  });

  test('no file appeared outside the result store', () => {
    assert.deepEqual(fs.readdirSync(outside), ['secret.csv']);
    assert.deepEqual(fs.readdirSync(dataDir).sort(), ['link.csv', 'ok.csv']);
    // (Other processes may write to the system temp dir; the attempts' own targets must not be there.)
    assert.equal(fs.existsSync(path.join(os.tmpdir(), 'jobql-evil.csv')), false);
    assert.ok(fs.readdirSync(os.tmpdir()).every((n) => tmpBefore.includes(n) || !n.includes('evil')));
  });
});
