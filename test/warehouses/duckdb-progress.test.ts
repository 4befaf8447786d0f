/**
 * The embedded engine's progress: DuckDB's readings as a job's progress (pure), and what DuckDB
 * 1.5 allows on a hardened, locked instance (the findings the engine's design rests on; a DuckDB
 * upgrade that changes one fails here first).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { JOB_CONNECTION_SETUP, openHardenedInstance } from '../../src/warehouses/duckdb/hardened-instance.ts';
import { completedProgress, progressOf, sameProgress, UNKNOWN_PROGRESS } from '../../src/warehouses/duckdb/query-progress.ts';
import { tempDir } from '../helpers/server.ts';

const reading = (percentage: number, rows: number, total: number) => ({
  percentage,
  rows_processed: BigInt(rows),
  total_rows_to_process: BigInt(total),
});

describe('progressOf', () => {
  test('a reading with an estimate is its percentage (one decimal, at most 100) and row counts', () => {
    assert.deepEqual(progressOf(reading(40.7678, 4_890_624, 12_000_002)), {
      percentage: 40.8,
      rowsProcessed: 4_890_624,
      totalRowsToProcess: 12_000_002,
    });
    assert.equal(progressOf(reading(100.0001, 10, 10)).percentage, 100);
    assert.equal(progressOf(reading(0.04, 1, 3000)).percentage, 0, 'rounded down to 0, yet rows were processed: known');
    assert.equal(progressOf(reading(50, 5, 0)).totalRowsToProcess, null);
  });

  test('-1 (no estimate: range(), unnest, no statement running) is unknown: every field null, not 0', () => {
    assert.deepEqual(progressOf(reading(-1, 0, 0)), { percentage: null, rowsProcessed: null, totalRowsToProcess: null });
    assert.deepEqual(progressOf(reading(Number.NaN, 0, 0)), UNKNOWN_PROGRESS);
  });

  test('0% with no row processed (nothing measured yet, or frozen there) is unknown too', () => {
    assert.deepEqual(progressOf(reading(0, 0, 300_000_002)), UNKNOWN_PROGRESS);
  });

  test('a success completes what was sampled; a query never sampled keeps none', () => {
    assert.deepEqual(completedProgress({ percentage: 83.1, rowsProcessed: 9_977_855, totalRowsToProcess: 12_000_002 }), {
      percentage: 100,
      rowsProcessed: 12_000_002,
      totalRowsToProcess: 12_000_002,
    });
    assert.deepEqual(completedProgress(UNKNOWN_PROGRESS), { percentage: 100, rowsProcessed: null, totalRowsToProcess: null });
    assert.equal(completedProgress(null), null);
  });

  test('sameProgress compares values', () => {
    assert.equal(sameProgress(progressOf(reading(5, 1, 20)), progressOf(reading(5, 1, 20))), true);
    assert.equal(sameProgress(progressOf(reading(5, 1, 20)), progressOf(reading(5, 2, 20))), false);
    assert.equal(sameProgress(UNKNOWN_PROGRESS, { ...UNKNOWN_PROGRESS }), true);
    assert.equal(sameProgress(null, UNKNOWN_PROGRESS), false);
    assert.equal(sameProgress(null, null), true);
  });
});

describe('DuckDB 1.5 progress on a hardened, locked instance', () => {
  let instance: DuckDBInstance;
  before(async () => {
    instance = await openHardenedInstance({ path: ':memory:', allowedDirs: [tempDir()], memoryLimit: '1GB', threads: 2 });
    const setup = await instance.connect();
    await setup.run('create table t as select range::bigint as x from range(6000000)');
    setup.closeSync();
  });
  after(() => instance.closeSync());

  async function setting(connection: DuckDBConnection, name: string): Promise<string> {
    const reader = await connection.runAndReadAll(`select current_setting('${name}')::varchar`);
    return String(reader.getRows()[0]?.[0]);
  }

  /** Runs `sql` on a job's connection, reading its progress every 20 ms. */
  async function sampled(sql: string) {
    const connection = await instance.connect();
    try {
      for (const statement of JOB_CONNECTION_SETUP) await connection.run(statement);
      const readings: ReturnType<typeof progressOf>[] = [];
      const timer = setInterval(() => readings.push(progressOf(connection.progress)), 20);
      try {
        await connection.run(sql);
      } finally {
        clearInterval(timer);
      }
      return { readings, afterwards: progressOf(connection.progress) };
    } finally {
      connection.closeSync();
    }
  }

  test('the progress settings are per connection: not in the options map, not SET once locked', async () => {
    await assert.rejects(DuckDBInstance.create(':memory:', { enable_progress_bar: 'true' }), /Failed to set config/);
    const connection = await instance.connect();
    try {
      await assert.rejects(connection.run('SET enable_progress_bar = true'), /the configuration has been locked/);
      await assert.rejects(connection.run('SET progress_bar_time = 0'), /the configuration has been locked/);
      assert.equal(await setting(connection, 'enable_progress_bar'), 'false');
    } finally {
      connection.closeSync();
    }
  });

  test("a job's connection setup turns the counter on and the printer off, on that connection only", async () => {
    const job = await instance.connect();
    const other = await instance.connect();
    try {
      for (const statement of JOB_CONNECTION_SETUP) await job.run(statement);
      assert.equal(await setting(job, 'enable_progress_bar'), 'true');
      assert.equal(await setting(job, 'enable_progress_bar_print'), 'false');
      assert.equal(await setting(job, 'lock_configuration'), 'true', 'still locked');
      assert.equal(await setting(other, 'enable_progress_bar'), 'false');
      assert.equal(await setting(other, 'enable_progress_bar_print'), 'true');
    } finally {
      job.closeSync();
      other.closeSync();
    }
  });

  test('a table scan reports a percentage between 0 and 100 while it runs (progress_bar_time does not delay it)', async () => {
    const { readings, afterwards } = await sampled(`select count(*), sum(x) from t where md5(x::varchar) like 'a%'`);
    const known = readings.filter((p) => p.percentage !== null);
    assert.ok(
      known.some((p) => (p.percentage as number) > 0 && (p.percentage as number) < 100),
      `readings: ${JSON.stringify(readings.map((p) => p.percentage))}`,
    );
    for (const p of known) assert.ok((p.rowsProcessed as number) <= (p.totalRowsToProcess as number), JSON.stringify(p));
    assert.deepEqual(afterwards, UNKNOWN_PROGRESS, 'DuckDB forgets the progress once the statement ends');
  });

  test('range() has no estimate: unknown, never a number', async () => {
    const { readings } = await sampled('select sum(hash(range)) from range(60000000)');
    assert.ok(readings.length > 2, `${readings.length} readings`);
    for (const p of readings) assert.deepEqual(p, UNKNOWN_PROGRESS);
  });
});
