/**
 * A 10-million-row result in bounded memory. The server runs as a process of its own, so its peak
 * resident memory (VmHWM) is the server's alone; the engine process's peak is added to it. The
 * bound is the documented one: JOBQL_DUCKDB_MEMORY_LIMIT + 512 MB for the two together. Pages are checked structurally (bytes DuckDB reads for a page
 * near the end), not by timing; bench/results.ts measures the rates.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { pageQuery } from '../../src/warehouses/duckdb/parquet-result-store.ts';
import { gqlData, submit, waitForEnd } from '../helpers/client.ts';
import { enginePidsInLog } from '../helpers/engine.ts';
import { type ServerProcess, spawnServer } from '../helpers/process.ts';
import { tempDir } from '../helpers/server.ts';

const ROWS = 10_000_000;
const MEMORY_LIMIT_MB = 512;
const BOUND_MB = MEMORY_LIMIT_MB + 512;

let server: ServerProcess;
let dataDir: string;
let job: any;

function peakOf(pid: number | undefined): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

/** The API process's peak plus its engine's (each process's own high-water mark). */
function peakMb(): number {
  const engines = enginePidsInLog(server.output());
  assert.equal(engines.length, 1, 'one engine served the whole test');
  const api = peakOf(server.child.pid);
  const engine = peakOf(engines[0]);
  console.log(`peak RSS: API ${api.toFixed(0)} MB + engine ${engine.toFixed(0)} MB`);
  return api + engine;
}

before(async () => {
  dataDir = tempDir();
  server = await spawnServer({ JOBQL_DATA_DIR: dataDir, JOBQL_DUCKDB_MEMORY_LIMIT: `${MEMORY_LIMIT_MB}MB` });
  job = await waitForEnd(
    server.url,
    (await submit(server.url, `select range as id, md5(range::varchar) as digest, range * 1.5 as x, 'row ' || range as label from range(${ROWS})`)).id,
    180_000,
  );
});
after(async () => {
  server.child.kill('SIGKILL');
  await server.exited;
});

test('a 10-million-row result completes within the memory bound', () => {
  assert.equal(job.status, 'SUCCESS', JSON.stringify(job.error));
  const peak = peakMb();
  assert.ok(peak < BOUND_MB, `peak RSS ${peak.toFixed(0)} MB, bound ${BOUND_MB} MB`);
});

test('pages anywhere in it are right', async () => {
  for (const offset of [0, 5_000_000, ROWS - 3]) {
    const after = Buffer.from(`row:${offset}`).toString('base64url');
    const data = await gqlData(server.url, `{ job(id: "${job.id}") { result(first: 5, after: "${after}") { totalRows rows } } }`);
    assert.equal(data.job.result.totalRows, ROWS);
    assert.deepEqual(
      data.job.result.rows.map((r: unknown[]) => r[0]),
      Array.from({ length: Math.min(5, ROWS - offset) }, (_, i) => offset + i),
    );
  }
});

test('a page near the end reads only the row groups that hold it', async () => {
  const file = path.join(dataDir, 'results', `${job.queryId}.parquet`);
  const size = fs.statSync(file).size;
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const columns = [{ name: 'id', type: 'BIGINT', nullable: true }];
    const reader = await connection.runAndReadAll(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${pageQuery(file, columns, ROWS - 100, ROWS).replace('#1', 'id')}`,
    );
    const profile = JSON.parse(String(reader.getRowsJson()[0]?.[1])) as { total_bytes_read: number };
    assert.ok(size > 100 * 1024 * 1024, `file of ${size} bytes`);
    assert.ok(profile.total_bytes_read < size / 100, `read ${profile.total_bytes_read} of ${size} bytes`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
});

test('every download format streams it whole within the memory bound', async () => {
  for (const format of ['parquet', 'csv', 'arrow', 'ndjson']) {
    const response = await fetch(server.url.replace('/graphql', `/jobs/${job.id}/result.${format}`));
    assert.equal(response.status, 200);
    let bytes = 0;
    let newlines = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      if (format === 'ndjson' || format === 'csv') for (const b of chunk) if (b === 10) newlines += 1;
    }
    assert.ok(bytes > 100 * 1024 * 1024, `${format}: ${bytes} bytes`);
    if (format === 'ndjson') assert.equal(newlines, ROWS);
    if (format === 'csv') assert.equal(newlines, ROWS + 1);
    const peak = peakMb();
    assert.ok(peak < BOUND_MB, `${format}: peak RSS ${peak.toFixed(0)} MB, bound ${BOUND_MB} MB`);
  }
});
