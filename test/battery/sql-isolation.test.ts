/**
 * The cross-tenant matrix in SQL, on the embedded warehouse: four principals (two JWT users, one
 * of them an admin, and two API keys), each with a table of its own, a table of a name every
 * principal uses, and a finished job. For every ordered pair, the attacker tries to reach the
 * victim through SQL: RESULT_SCAN by job id and by query id, reading, writing and listing the
 * victim's tables, reading the victim's database and result files by path (also by glob), and
 * attaching the victim's database. None may succeed, and each must answer exactly as the same
 * attempt on a name or id that does not exist. Then each principal's own RESULT_SCAN, tables and
 * downloads still work, and the operator's shared database is readable by all and writable by none.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { ADMIN_SCOPE, type Issuer, jwtEnv, makeIssuer, newApiKey } from '../helpers/auth.ts';
import { gqlData, submit, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer, tempDir } from '../helpers/server.ts';
import { type Answer, type Attempt, crossTenantMatrix } from '../helpers/sql-matrix.ts';
import { tenantKey } from '../../src/warehouses/duckdb/tenants.ts';

interface Tenant {
  owner: string;
  token: string;
  /** The principal's own table: a name no other principal has. */
  table: string;
  jobId: string;
  queryId: string;
}

const UNKNOWN_JOB_ID = 'job_0123456789abcdef0123456789abcdef';
const UNKNOWN_QUERY_ID = '01234567-89ab-4def-8123-456789abcdef';

let server: TestServer;
let issuer: Issuer;
let sharedDb: string;
const tenants: Tenant[] = [];

/** Runs SQL as `token` and returns what a client could compare: its rows, or its error. */
async function run(sql: string, token: string): Promise<Answer> {
  const job = await submit(server.url, sql, {}, token);
  const ended = await waitForEnd(server.url, job.id, 30_000, 'id status isTerminal error { code message } result { rows }', token);
  return { rows: ended.result?.rows ?? null, code: ended.error?.code ?? null, message: ended.error?.message ?? null };
}

before(async () => {
  issuer = await makeIssuer();
  // The operator's reference data, made before the start (the server attaches it READ_ONLY).
  sharedDb = path.join(tempDir('jobql-shared-'), 'reference.duckdb');
  const instance = await DuckDBInstance.create(sharedDb);
  const connection = await instance.connect();
  await connection.run("create table cities as select * from (values ('Paris', 2102650), ('Lyon', 522250)) t(name, population)");
  connection.closeSync();
  instance.closeSync();

  const k1 = newApiKey('svc-1', false);
  const k2 = newApiKey('svc-2', false);
  server = await startServer(
    jwtEnv(issuer, { JOBQL_API_KEYS: `${k1.entry},${k2.entry}`, JOBQL_DUCKDB_SHARED_DATABASE: sharedDb }),
  );
  const tokens: [string, string][] = [
    ['user:ann', await issuer.token('ann')],
    ['user:root', await issuer.token('root', { scope: ADMIN_SCOPE })],
    ['key:svc-1', k1.key],
    ['key:svc-2', k2.key],
  ];
  for (const [i, [owner, token]] of tokens.entries()) {
    const table = `only_${i}`;
    // A table of its own, and one named as everyone's is: each principal sees only its own row.
    const setup = await run(
      `create table ${table} as select '${owner}' as secret; create table secrets as select '${owner}' as secret; select 1`,
      token,
    );
    assert.equal(setup.code, null, `${owner}: ${setup.message}`);
    const job = await submit(server.url, `select '${owner}' as secret`, {}, token);
    const ended = await waitForEnd(server.url, job.id, 30_000, 'id queryId status isTerminal', token);
    assert.equal(ended.status, 'SUCCESS');
    tenants.push({ owner, token, table, jobId: job.id, queryId: ended.queryId });
  }
});

after(async () => {
  await server?.stop();
});

describe('SQL isolation between principals on the embedded warehouse', () => {
  test('every attempt on another principal answers as the same attempt on nothing, and none succeeds', async () => {
    const databaseOf = (t: Tenant): string => path.join(server.dataDir, 'tenants', tenantKey(t.owner), 'warehouse.duckdb');
    const resultsOf = (t: Tenant): string => path.join(server.dataDir, 'tenants', tenantKey(t.owner), 'results');
    // Each attempt: the SQL against the victim, and the same SQL against something that is not there.
    const attempts: Record<string, Attempt<Tenant>> = {
      'RESULT_SCAN by job id': (v) => [`select * from result_scan('${v.jobId}')`, v.jobId, UNKNOWN_JOB_ID],
      'RESULT_SCAN by query id': (v) => [`select * from result_scan('${v.queryId}')`, v.queryId, UNKNOWN_QUERY_ID],
      'read its table': (v) => [`select * from ${v.table}`, v.table, 'only_9'],
      'write its table': (v) => [`insert into ${v.table} values ('stolen')`, v.table, 'only_9'],
      'drop its table': (v) => [`drop table ${v.table}`, v.table, 'only_9'],
      'its table by catalog': (v) => [`select * from warehouse.main.${v.table}`, v.table, 'only_9'],
      'its result file by path': (v) => [`select * from read_parquet('${resultsOf(v)}/${v.queryId}.parquet')`, v.queryId, UNKNOWN_QUERY_ID],
      'its result files by glob': (v) => [`select * from read_parquet('${resultsOf(v)}/*.parquet')`, tenantKey(v.owner), tenantKey('nobody')],
      'its database file as CSV': (v) => [`select * from read_csv('${databaseOf(v)}')`, tenantKey(v.owner), tenantKey('nobody')],
      'attach its database': (v) => [`attach '${databaseOf(v)}' as stolen`, tenantKey(v.owner), tenantKey('nobody')],
    };
    const { count, succeeded, differed } = await crossTenantMatrix(tenants, attempts, run);
    console.log(`SQL cross-tenant matrix: ${count} attempts, ${succeeded.length} succeeded, ${differed.length} answered differently from nothing`);
    assert.equal(count, 4 * 3 * Object.keys(attempts).length);
    assert.deepEqual(succeeded, []);
    assert.deepEqual(differed, []);
  });

  test('listings show only the principal\'s own tables; a name all use holds only the own row', async () => {
    for (const tenant of tenants) {
      const others = tenants.filter((t) => t !== tenant).map((t) => t.table);
      for (const sql of [
        "select table_name from duckdb_tables() where database_name <> 'shared'",
        "select table_name from information_schema.tables where table_catalog <> 'shared'",
      ]) {
        const listed = await run(sql, tenant.token);
        assert.equal(listed.code, null, listed.message ?? '');
        const names = (listed.rows as string[][]).map(([name]) => name).sort();
        assert.deepEqual(names, [tenant.table, 'secrets'].sort(), `${tenant.owner}: ${sql}`);
        for (const other of others) assert.ok(!names.includes(other));
      }
      assert.deepEqual((await run('select secret from secrets', tenant.token)).rows, [[tenant.owner]]);
    }
  });

  test('each principal\'s own RESULT_SCAN (job id and query id), tables and downloads keep working', async () => {
    for (const tenant of tenants) {
      assert.deepEqual((await run(`select * from result_scan('${tenant.jobId}')`, tenant.token)).rows, [[tenant.owner]]);
      assert.deepEqual((await run(`select * from result_scan('${tenant.queryId}')`, tenant.token)).rows, [[tenant.owner]]);
      assert.deepEqual((await run(`insert into ${tenant.table} values ('more'); select count(*) from ${tenant.table}`, tenant.token)).rows, [[2]]);
      const data = await gqlData(server.url, 'query($id: ID!) { job(id: $id) { downloads { csv } } }', { id: tenant.jobId }, tenant.token);
      const csv = await fetch(new URL(data.job.downloads.csv, server.url));
      assert.equal(csv.status, 200);
      assert.equal(await csv.text(), `secret\n${tenant.owner}\n`);
    }
  });

  test('the shared database is readable by every principal and writable by none', async () => {
    for (const tenant of tenants) {
      const read = await run('select name from shared.cities order by population desc', tenant.token);
      assert.deepEqual(read.rows, [['Paris'], ['Lyon']], `${tenant.owner}: ${read.message}`);
      for (const sql of [
        "insert into shared.cities values ('Nice', 1)",
        'delete from shared.cities',
        'create table shared.mine (i integer)',
        'drop table shared.cities',
        'detach shared',
      ]) {
        const write = await run(sql, tenant.token);
        assert.notEqual(write.code, null, `${tenant.owner}: ${sql} succeeded`);
      }
    }
    assert.deepEqual((await run('select count(*) from shared.cities', tenants[0]!.token)).rows, [[2]]);
  });

  test('every principal\'s files are its own: a directory per principal, named by a hash', () => {
    const dirs = fs.readdirSync(path.join(server.dataDir, 'tenants')).sort();
    assert.deepEqual(dirs, tenants.map((t) => tenantKey(t.owner)).sort());
    for (const dir of dirs) assert.match(dir, /^t[0-9a-f]{32}$/);
  });
});
