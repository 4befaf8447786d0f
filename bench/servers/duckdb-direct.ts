/**
 * The submit→result baseline: the same query through @duckdb/node-api directly, in a process of
 * its own, as a hand-written service would run it: a fresh connection, run, read the rows as
 * objects, close the connection. The instance is opened once, on a file, with the thread count
 * jobql's engine uses.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { ready, serveRpc } from '../lib/rpc.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobql-bench-duckdb-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const instance = await DuckDBInstance.create(path.join(dir, 'direct.duckdb'), { threads: process.env['BENCH_DUCKDB_THREADS'] ?? '2' });

async function once(sql: string): Promise<number> {
  const start = performance.now();
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(sql);
    const rows = reader.getRowObjectsJS();
    if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
  } finally {
    connection.closeSync();
  }
  return performance.now() - start;
}

/**
 * The raw cost of a principal's first query under isolation: a new database file opened, one
 * query on a fresh connection, the instance closed; each iteration on a file of its own.
 */
async function onFreshFile(sql: string, index: number): Promise<number> {
  const start = performance.now();
  const fresh = await DuckDBInstance.create(path.join(dir, `fresh-${index}.duckdb`), { threads: process.env['BENCH_DUCKDB_THREADS'] ?? '2' });
  try {
    const connection = await fresh.connect();
    try {
      const reader = await connection.runAndReadAll(sql);
      if (reader.getRowObjectsJS().length !== 1) throw new Error('expected one row');
    } finally {
      connection.closeSync();
    }
  } finally {
    fresh.closeSync();
  }
  return performance.now() - start;
}

serveRpc({
  freshFiles: async (raw) => {
    const { sql, iterations } = raw as { sql: string; iterations: number };
    const samples: number[] = [];
    for (let i = 0; i < iterations; i++) samples.push(await onFreshFile(sql, i));
    return samples;
  },
  run: async (raw) => {
    const { sql, warmup, iterations } = raw as { sql: string; warmup: number; iterations: number };
    for (let i = 0; i < warmup; i++) await once(sql);
    const samples: number[] = [];
    for (let i = 0; i < iterations; i++) samples.push(await once(sql));
    return samples;
  },
  stop: () => {
    instance.closeSync();
    process.exit(0);
  },
});
ready({ pid: process.pid });
