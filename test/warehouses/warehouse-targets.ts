/**
 * The warehouses the warehouse contract suite (warehouse-contract.test.ts) runs against: the
 * embedded DuckDB directly, and Snowflake as the real snowflake-sdk sees it, through the
 * wire-level double over HTTP.
 */
import { startServer, type TestServer, tempDir } from '../helpers/server.ts';
import { type SnowflakeDouble, startSnowflakeDouble } from '../snowflake-double/server.ts';

export interface ContractTarget {
  name: string;
  /** Whether a query survives a restart of jobql (it runs in the warehouse, not in jobql). */
  keepsQueriesAcrossRestart: boolean;
  /** A jobql server on this warehouse; the same `dataDir` restarts it on the same job store. */
  start(dataDir?: string): Promise<TestServer>;
  /** SQL that runs until it is cancelled (or for a very long time). */
  endlessSql: string;
  /** SQL still running when jobql restarts a moment after it started. */
  restartSql: string;
  /** How that job ends after the restart. */
  afterRestart: { status: string; errorCode: string | null };
  stop(): Promise<void>;
}

/** Fast polling in tests: the backoff is a benchmark's subject, not the contract's. */
const POLL = { JOBQL_POLL_BACKOFF_MS: '50,100,200' };

export function duckdbTarget(): ContractTarget {
  return {
    name: 'duckdb',
    keepsQueriesAcrossRestart: false,
    start: (dataDir = tempDir()) => startServer({ ...POLL }, dataDir),
    endlessSql: 'select sum(hash(range)) from range(10000000000)',
    restartSql: 'select sum(hash(range)) from range(10000000000)',
    // The embedded engine's queries die with the process: the job ends with a clear error.
    afterRestart: { status: 'FAILED_WITH_INCIDENT', errorCode: 'JOB_INTERRUPTED' },
    stop: async () => {},
  };
}

export async function snowflakeTarget(): Promise<ContractTarget & { double: SnowflakeDouble }> {
  const double = await startSnowflakeDouble({ chunkRows: 100, syncWaitMs: 500 });
  double.faults.neverFinishMarker = '/* endless */';
  return {
    name: 'snowflake',
    double,
    keepsQueriesAcrossRestart: true,
    start: (dataDir = tempDir()) =>
      startServer(
        {
          ...POLL,
          JOBQL_WAREHOUSE: 'snowflake',
          SNOWFLAKE_ACCESS_URL: double.url,
          SNOWFLAKE_ACCOUNT: 'testaccount',
          SNOWFLAKE_USER: 'jobql',
          SNOWFLAKE_PASSWORD: 'secret',
          SNOWFLAKE_HOME: dataDir, // no connections.toml of the machine's user leaks in
        },
        dataDir,
      ),
    endlessSql: 'select 1 /* endless */',
    // Snowflake keeps running it; jobql polls it again after the restart and it ends normally.
    restartSql: 'select 7 as seven /* sleep 1500 */',
    afterRestart: { status: 'SUCCESS', errorCode: null },
    stop: () => double.stop(),
  };
}
