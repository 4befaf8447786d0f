/**
 * The embedded warehouse's databases per principal, as a server with room for two: opened on a
 * principal's first job, closed when idle (their file lock let go, their tables kept), the least
 * recently used idle one closed to make room, and WAREHOUSE_BUSY when every open one runs a job.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { newApiKey } from '../helpers/auth.ts';
import { gqlData, submit, waitForEnd, waitForStatus } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { tenantKey } from '../../src/warehouses/duckdb/tenants.ts';

const LONG = 'select count(*) from range(100000000000)';
const keys = { a: newApiKey('a', false), b: newApiKey('b', false), c: newApiKey('c', false) };
let server: TestServer;

before(async () => {
  server = await startServer({
    JOBQL_API_KEYS: Object.values(keys).map((k) => k.entry).join(','),
    JOBQL_DUCKDB_MAX_OPEN_DATABASES: '2',
    JOBQL_DUCKDB_IDLE_CLOSE_SECONDS: '1',
    JOBQL_MAX_CONCURRENT_JOBS: '4',
  });
});

after(async () => {
  await server?.stop();
});

async function ended(sql: string, token: string): Promise<{ status: string; error: { code: string; sqlState: string | null } | null; rows: unknown[] | null }> {
  const job = await submit(server.url, sql, {}, token);
  const end = await waitForEnd(server.url, job.id, 30_000, 'id status isTerminal error { code sqlState } result { rows }', token);
  return { status: end.status, error: end.error, rows: end.result?.rows ?? null };
}

async function cancel(id: string, token: string): Promise<void> {
  await gqlData(server.url, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id }, token);
  await waitForEnd(server.url, id, 30_000, 'id isTerminal', token);
}

/** Whether another process can open the principal's database: only once jobql has closed it. */
async function fileIsFree(name: string): Promise<boolean> {
  const file = path.join(server.dataDir, 'tenants', tenantKey(`key:${name}`), 'warehouse.duckdb');
  try {
    const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
    instance.closeSync();
    return true;
  } catch (error) {
    assert.match(String(error), /lock/i);
    return false;
  }
}

describe('databases per principal, with room for two', () => {
  test('a third principal gets WAREHOUSE_BUSY while two run; it runs once one has finished', async () => {
    assert.equal((await ended('create table kept as select 42 as answer; select 1', keys.a.key)).status, 'SUCCESS');
    const runningA = await submit(server.url, LONG, {}, keys.a.key);
    const runningB = await submit(server.url, LONG, {}, keys.b.key);
    await waitForStatus(server.url, runningA.id, 'RUNNING', 10_000, keys.a.key);
    await waitForStatus(server.url, runningB.id, 'RUNNING', 10_000, keys.b.key);
    assert.equal(await fileIsFree('a'), false, "a's database is open while its job runs");

    const refused = await ended('select 1', keys.c.key);
    assert.equal(refused.status, 'FAILED_WITH_ERROR');
    assert.deepEqual(refused.error, { code: 'WAREHOUSE_BUSY', sqlState: '53000' });

    await cancel(runningA.id, keys.a.key);
    // a's database is idle now: it is closed to make room for c's.
    assert.deepEqual((await ended('select 7 as n', keys.c.key)).rows, [[7]]);
    await cancel(runningB.id, keys.b.key);
  });

  test('an idle database is closed (its file lock let go) and opened again with its tables', async () => {
    await waitFor(async () => ((await fileIsFree('a')) && (await fileIsFree('b')) && (await fileIsFree('c')) ? true : null), {
      timeoutMs: 10_000,
      what: () => 'every idle database to be closed',
    });
    assert.deepEqual((await ended('select answer from kept', keys.a.key)).rows, [[42]]);
  });
});
