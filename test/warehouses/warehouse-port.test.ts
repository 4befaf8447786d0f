/**
 * The Warehouse port contract (warehouse-port-contract.ts) on each adapter, opened the way
 * src/main.ts opens it (`openWarehouse`) but with no server around it:
 * - the embedded DuckDB: its engine process, on a fresh temporary data directory per open;
 * - Snowflake: the real snowflake-sdk talking HTTP to the wire-level double
 *   (test/snowflake-double), with the connection options formed as config.ts forms them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newJobId } from '../../src/core/ids.ts';
import type { Logger } from '../../src/core/logger.ts';
import { openWarehouse, type WarehouseSettings } from '../../src/warehouses/open-warehouse.ts';
import { snowflakeConnectionOptions } from '../../src/warehouses/snowflake/connection-options.ts';
import { type SnowflakeDouble, startSnowflakeDouble } from '../snowflake-double/server.ts';
import { type OpenedPortWarehouse, warehousePortContract } from './warehouse-port-contract.ts';

const silent: Logger = {
  error: () => {},
  warn: () => {},
  info: () => {},
  debug: () => {},
  child: () => silent,
};

/** The settings config.ts builds from an empty environment, on `dataDir`. */
function settings(dataDir: string, snowflake: WarehouseSettings['snowflake'], openMode = true): WarehouseSettings {
  return {
    snowflake,
    dataDir,
    duckdb: {
      path: path.join(dataDir, 'warehouse.duckdb'),
      allowedDirs: [],
      memoryLimit: '1GB',
      threads: 2,
      killAfterMs: 5000,
      maxOpenDatabases: 16,
      idleCloseSeconds: 60,
      sharedDatabase: null,
    },
    resultMaxRows: 100_000_000,
    resultMaxBytes: 10 * 1024 ** 3,
    limits: { maxConcurrentJobs: 4 },
    openMode,
  };
}

/** Opens a warehouse on a temporary data directory that its `close` removes. */
async function openOn(
  snowflake: (dataDir: string) => WarehouseSettings['snowflake'],
  extra: Partial<WarehouseSettings> = {},
): Promise<OpenedPortWarehouse> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobql-port-'));
  try {
    const opened = await openWarehouse({ ...settings(dataDir, snowflake(dataDir)), ...extra }, silent);
    return {
      warehouse: opened.warehouse,
      close: async () => {
        try {
          await opened.close();
        } finally {
          fs.rmSync(dataDir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

warehousePortContract('the embedded DuckDB', () => openOn(() => null), {
  types: { integer: 'INTEGER', bigint: 'BIGINT' },
  pushesChanges: true,
  describesQueries: false,
  deletesResults: true,
  missingResult: 'null',
  cancelAfterEnd: 'resolves',
  unknownIdGivenUpAfter: null,
  forgetsOnRestart: true,
  idempotentSubmit: false,
  endlessSql: 'select sum(hash(range)) from range(10000000000)',
});

describe('Snowflake through the wire double', () => {
  let double: SnowflakeDouble;
  before(async () => {
    // Ten rows a chunk: the range(25) pages cross chunk boundaries.
    double = await startSnowflakeDouble({ chunkRows: 10, syncWaitMs: 500 });
  });
  after(() => double.stop());

  const connection = (dataDir: string): WarehouseSettings['snowflake'] =>
    snowflakeConnectionOptions({
      SNOWFLAKE_ACCESS_URL: double.url,
      SNOWFLAKE_ACCOUNT: 'testaccount',
      SNOWFLAKE_USER: 'jobql',
      SNOWFLAKE_PASSWORD: 'secret',
      SNOWFLAKE_HOME: dataDir, // no connections.toml of the machine's user leaks in
    });
  const snowflakeContract = {
    types: { integer: 'NUMBER(38,0)', bigint: 'NUMBER(38,0)' },
    pushesChanges: false,
    describesQueries: true,
    deletesResults: false,
    // The port says null; the adapter lets the driver's error through (000709 "Statement not
    // found" for an unknown id, the query's own SQL error for a failed one).
    missingResult: 'rejects',
    // The double answers an abort of a query that is not running as Snowflake does: 000605 in
    // `data.errorCode`, an empty top-level code, which the adapter's check for 000605 misses.
    cancelAfterEnd: 'rejects',
    // NO_DATA_LIMIT in snowflake-warehouse.ts (the connectors allow NO_DATA 24 times).
    unknownIdGivenUpAfter: 24,
    forgetsOnRestart: false,
    idempotentSubmit: true,
    // The double runs a query this much longer (a cancel stops it at once).
    endlessSql: 'select 1 as n /* sleep 600000 */',
  } as const;
  warehousePortContract('Snowflake (snowflake-sdk over the wire double)', () => openOn(connection), snowflakeContract);
  // The same contract with statuses read from query history (JOBQL_SNOWFLAKE_STATUS_FROM_HISTORY).
  warehousePortContract(
    'Snowflake, status from query history',
    () => openOn(connection, { snowflakeStatusFromHistory: true }),
    snowflakeContract,
  );

  test('status from query history: one statement for many queries, no monitoring call for those it lists', async () => {
    const opened = await openOn(connection, { snowflakeStatusFromHistory: true });
    try {
      const { warehouse } = opened;
      const ids = await Promise.all(
        [1, 2, 3].map((n) =>
          warehouse.submit({ jobId: newJobId(), owner: 'p', runAs: null, statements: [`select ${n} as n`], bindings: [], timeoutSeconds: 60, tag: null }),
        ),
      );
      const failing = await warehouse.submit({
        jobId: newJobId(),
        owner: 'p',
        runAs: null,
        statements: ['select * from no_such_table'],
        bindings: [],
        timeoutSeconds: 60,
        tag: null,
      });
      await Promise.all([...ids, failing].map((id) => double.queries.get(id)?.done));
      const monitoring = double.counts.get('monitoring') ?? 0;
      const statements = double.historyStatements;
      const states = await warehouse.status([...ids, failing]);
      assert.equal(double.historyStatements - statements, 1, 'one history statement for the four');
      assert.equal((double.counts.get('monitoring') ?? 0) - monitoring, 0, 'no monitoring call');
      for (const id of ids) {
        const state = states.get(id);
        const record = double.queries.get(id)!;
        assert.equal(state?.status, 'SUCCESS');
        assert.equal(state?.endedAt?.getTime(), record.endTime, "Snowflake's own end time, from the same statement");
      }
      assert.equal(states.get(failing)?.status, 'FAILED_WITH_ERROR');
      assert.equal(states.get(failing)?.error?.sqlState, '42S02');
      assert.equal(warehouse.statusBatchSize, 500, 'the budget counts calls of up to 500 queries');
    } finally {
      await opened.close();
    }
  });

  test('with authentication on, the start warns that every principal shares the one Snowflake identity', async () => {
    const warnings = async (openMode: boolean): Promise<string[]> => {
      const seen: string[] = [];
      const capture: Logger = { ...silent, warn: (...args: unknown[]) => void seen.push(String(args.at(-1))), child: () => capture };
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobql-port-'));
      const options = snowflakeConnectionOptions({
        SNOWFLAKE_ACCESS_URL: double.url,
        SNOWFLAKE_ACCOUNT: 'testaccount',
        SNOWFLAKE_USER: 'jobql',
        SNOWFLAKE_PASSWORD: 'secret',
        SNOWFLAKE_HOME: dataDir,
      });
      const opened = await openWarehouse(settings(dataDir, options, openMode), capture);
      await opened.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
      return seen.filter((message) => message.includes('one Snowflake identity'));
    };
    assert.equal((await warnings(false)).length, 1);
    assert.equal((await warnings(true)).length, 0);
  });
});
