/**
 * Principals mapped to Snowflake identities, against the wire double (which keeps each role's
 * tables apart and scopes monitoring, results and RESULT_SCAN by user, as Snowflake does): a JWT
 * user names its identity by a claim, an API key by JOBQL_SNOWFLAKE_IDENTITIES; the identities are
 * named connections of connections.toml, two by password, one by key pair. Every statement runs
 * as its principal's user and role; no principal reaches another's tables, results or history
 * through SQL (each attempt answers as the same attempt on nothing); an unmapped principal may
 * run nothing; and after a restart, a job's result is still read as its identity.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Issuer, jwtEnv, makeIssuer, newApiKey } from '../helpers/auth.ts';
import { gql, gqlData, submit, waitForEnd } from '../helpers/client.ts';
import { startServer, type TestServer, tempDir } from '../helpers/server.ts';
import { snowflakeServerEnv } from '../helpers/snowflake-env.ts';
import { type Answer, type Attempt, crossTenantMatrix } from '../helpers/sql-matrix.ts';
import { type SnowflakeDouble, startSnowflakeDouble } from '../snowflake-double/server.ts';

interface Tenant {
  owner: string;
  token: string;
  user: string;
  role: string;
  table: string;
  queryId: string;
  jobId: string;
}

const UNKNOWN_QUERY_ID = '01234567-89ab-4def-8123-456789abcdef';
const UNKNOWN_JOB_ID = 'job_0123456789abcdef0123456789abcdef';
const svc1 = newApiKey('svc-1', false);
const svc2 = newApiKey('svc-2', false);

let double: SnowflakeDouble;
let server: TestServer;
let issuer: Issuer;
let env: Record<string, string>;
let dataDir: string;
const tenants: Tenant[] = [];

async function run(sql: string, token: string, url = server.url): Promise<Answer & { queryId: string | null; jobId: string }> {
  const job = await submit(url, sql, {}, token);
  const end = await waitForEnd(url, job.id, 30_000, 'id queryId status isTerminal error { code message } result { rows }', token);
  return { jobId: job.id, queryId: end.queryId, rows: end.result?.rows ?? null, code: end.error?.code ?? null, message: end.error?.message ?? null };
}

before(async () => {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  double = await startSnowflakeDouble({
    chunkRows: 100,
    syncWaitMs: 500,
    users: [
      { name: 'ANN', password: 'ann-secret', roles: ['ANALYST'] },
      { name: 'BEA', password: 'bea-secret', roles: ['AUDITOR'] },
      { name: 'SVC1', publicKeyPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(), roles: ['REPORTER'] },
    ],
  });
  dataDir = tempDir();
  const home = tempDir('jobql-snowflake-home-');
  const keyFile = path.join(home, 'svc1.p8');
  fs.writeFileSync(keyFile, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  fs.writeFileSync(
    path.join(home, 'connections.toml'),
    `[ann]\nuser = "ANN"\npassword = "ann-secret"\nrole = "ANALYST"\n\n[bea]\nuser = "BEA"\npassword = "bea-secret"\nrole = "AUDITOR"\n\n[svc1]\nuser = "SVC1"\nprivate_key_path = "${keyFile}"\nrole = "REPORTER"\n`,
    { mode: 0o600 },
  );
  issuer = await makeIssuer();
  env = jwtEnv(issuer, {
    ...snowflakeServerEnv(double, home),
    JOBQL_API_KEYS: `${svc1.entry},${svc2.entry}`,
    JOBQL_SNOWFLAKE_IDENTITY_CLAIM: 'snowflake_connection',
    JOBQL_SNOWFLAKE_IDENTITIES: 'key:svc-1=svc1',
  });
  server = await startServer(env, dataDir);
  const mapped: [string, string, string, string][] = [
    ['user:ann', await issuer.token('ann', { claims: { snowflake_connection: 'ann' } }), 'ANN', 'ANALYST'],
    ['user:bea', await issuer.token('bea', { claims: { snowflake_connection: 'bea' } }), 'BEA', 'AUDITOR'],
    ['key:svc-1', svc1.key, 'SVC1', 'REPORTER'],
  ];
  for (const [i, [owner, token, user, role]] of mapped.entries()) {
    const table = `only_${i}`;
    const setup = await run(`create table ${table} as select '${owner}' as secret`, token);
    assert.equal(setup.code, null, `${owner}: ${setup.message}`);
    const job = await run(`select '${owner}' as secret`, token);
    assert.equal(job.code, null, `${owner}: ${job.message}`);
    tenants.push({ owner, token, user, role, table, queryId: job.queryId!, jobId: job.jobId });
  }
});

after(async () => {
  await server?.stop();
  await double?.stop();
});

describe('Snowflake identities per principal', () => {
  test('every statement runs as its principal\'s Snowflake user and role', () => {
    for (const tenant of tenants) {
      const ran = [...double.queries.values()].filter((q) => q.sqlText.includes(`'${tenant.owner}'`));
      assert.ok(ran.length >= 2, `${tenant.owner}: its statements reached the double`);
      for (const query of ran) assert.deepEqual([query.user, query.role], [tenant.user, tenant.role], query.sqlText);
    }
  });

  test('neither principal reaches the other\'s tables or results through SQL', async () => {
    const attempts: Record<string, Attempt<Tenant>> = {
      'RESULT_SCAN by query id': (v) => [`select * from table(result_scan('${v.queryId}'))`, v.queryId, UNKNOWN_QUERY_ID],
      'RESULT_SCAN by job id': (v) => [`select * from table(result_scan('${v.jobId}'))`, v.jobId, UNKNOWN_JOB_ID],
      'read its table': (v) => [`select * from ${v.table}`, v.table, 'only_9'],
      'write its table': (v) => [`insert into ${v.table} values ('stolen')`, v.table, 'only_9'],
      'drop its table': (v) => [`drop table ${v.table}`, v.table, 'only_9'],
    };
    const { count, succeeded, differed } = await crossTenantMatrix(tenants, attempts, run);
    console.log(`Snowflake SQL cross-tenant matrix: ${count} attempts, ${succeeded.length} succeeded, ${differed.length} answered differently`);
    assert.equal(count, tenants.length * (tenants.length - 1) * Object.keys(attempts).length);
    assert.deepEqual(succeeded, []);
    assert.deepEqual(differed, []);
  });

  test('listings, query history and attach show a principal only its own', async () => {
    const ATTACH = 'mutation($q: String!) { attachQuery(queryId: $q) { job { id } } }';
    const attachCode = async (queryId: string, token: string): Promise<unknown> =>
      (await gql(server.url, ATTACH, { q: queryId }, token)).errors?.[0]?.extensions?.code ?? 'attached';
    for (const tenant of tenants) {
      const listed = await run('select table_name from information_schema.tables', tenant.token);
      assert.equal(listed.code, null, listed.message ?? '');
      assert.deepEqual((listed.rows as string[][]).map(([name]) => name?.toLowerCase()), [tenant.table], tenant.owner);
      const historyOf = (queryId: string): string =>
        `select query_text from table(information_schema.query_history(result_limit => 10000)) where query_id = '${queryId}'`;
      const own = await run(historyOf(tenant.queryId), tenant.token);
      assert.deepEqual(own.rows, [[`select '${tenant.owner}' as secret`]], `${tenant.owner} sees its own query in history`);
      for (const victim of tenants.filter((t) => t !== tenant)) {
        const history = await run(historyOf(victim.queryId), tenant.token);
        assert.deepEqual([history.code, history.rows], [null, []], `${tenant.owner} sees ${victim.owner}'s query in history`);
        assert.equal(await attachCode(victim.queryId, tenant.token), await attachCode(UNKNOWN_QUERY_ID, tenant.token));
      }
    }
  });

  test('each principal\'s own RESULT_SCAN, tables and downloads work', async () => {
    for (const tenant of tenants) {
      assert.deepEqual((await run(`select * from table(result_scan('${tenant.queryId}'))`, tenant.token)).rows, [[tenant.owner]]);
      assert.deepEqual((await run(`select secret from ${tenant.table}`, tenant.token)).rows, [[tenant.owner]]);
      const data = await gqlData(server.url, 'query($id: ID!) { job(id: $id) { downloads { csv } } }', { id: tenant.jobId }, tenant.token);
      const csv = await fetch(new URL(data.job.downloads.csv, server.url));
      assert.equal(csv.status, 200);
      assert.equal((await csv.text()).trim().split('\n').at(-1), tenant.owner);
    }
  });

  test('a principal with no identity, or one the server does not have, may run nothing', async () => {
    const refused = async (token: string): Promise<string | undefined> => {
      const response = await gql(server.url, 'mutation { submitQuery(input: { sql: "select 1" }) { job { id } } }', {}, token);
      return response.errors?.[0]?.extensions?.code as string | undefined;
    };
    assert.equal(await refused(svc2.key), 'FORBIDDEN');
    assert.equal(await refused(await issuer.token('eve')), 'FORBIDDEN');
    assert.equal(await refused(await issuer.token('mallory', { claims: { snowflake_connection: 'no-such-connection' } })), 'FORBIDDEN');
  });

  test('after a restart, a job\'s result is read as the identity it ran as', async () => {
    await server.stop();
    server = await startServer(env, dataDir);
    for (const tenant of tenants) {
      const data = await gqlData(server.url, 'query($id: ID!) { job(id: $id) { status result { rows } } }', { id: tenant.jobId }, tenant.token);
      assert.deepEqual(data.job.result.rows, [[tenant.owner]], tenant.owner);
    }
  });
});
