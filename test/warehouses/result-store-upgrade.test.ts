/**
 * Results written before databases per principal existed: results.sqlite without its `tenant`
 * column, files in the results directory itself. They are open mode's, and keep being read, paged,
 * downloaded and deleted after the upgrade.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { ParquetResultStore } from '../../src/warehouses/duckdb/parquet-result-store.ts';
import { tempDir } from '../helpers/server.ts';

test('an earlier version\'s results stay readable, downloadable and deletable', async () => {
  const dataDir = tempDir();
  const resultsDir = path.join(dataDir, 'results');
  fs.mkdirSync(resultsDir);
  const queryId = '01234567-89ab-4def-8123-456789abcdef';
  const jobId = 'job_0123456789abcdef0123456789abcdef';
  // What an earlier version left: its table (no tenant column), a file under both ids.
  const old = new DatabaseSync(path.join(resultsDir, 'results.sqlite'));
  old.exec(`CREATE TABLE results (query_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, columns TEXT NOT NULL,
    total_rows INTEGER NOT NULL, truncated INTEGER NOT NULL)`);
  old.prepare('INSERT INTO results VALUES (?, ?, ?, ?, ?)').run(queryId, jobId, JSON.stringify([{ name: 'n', type: 'BIGINT', nullable: true }]), 3, 0);
  old.close();
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run(`COPY (SELECT range AS n FROM range(3)) TO '${path.join(resultsDir, `${queryId}.parquet`)}' (FORMAT parquet)`);
  connection.closeSync();
  fs.linkSync(path.join(resultsDir, `${queryId}.parquet`), path.join(resultsDir, `${jobId}.parquet`));

  const store = new ParquetResultStore({ localDatabase: path.join(dataDir, 'warehouse.duckdb'), resultsDir, tenantsDir: path.join(dataDir, 'tenants') }, instance);
  try {
    const page = await store.read(queryId, 1, 10);
    assert.deepEqual(page?.rows, [[1], [2]]);
    assert.equal(page?.totalRows, 3);
    const csv = await store.download(queryId, 'csv');
    let text = '';
    for await (const chunk of csv!.body) text += String(chunk);
    assert.equal(text, 'n\n0\n1\n2\n');
    store.delete(queryId);
    assert.equal(await store.read(queryId, 0, 10), null);
    assert.deepEqual(fs.readdirSync(resultsDir).filter((name) => name.endsWith('.parquet')), []);
  } finally {
    store.close();
    instance.closeSync();
  }
});
