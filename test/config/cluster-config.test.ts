import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { runToExit } from '../helpers/process.ts';
import { tempDir } from '../helpers/server.ts';

const CLUSTER = {
  JOBQL_DATABASE_URL: 'postgres://db.example:5432/jobql',
  JOBQL_REDIS_URL: 'redis://cache.example:6379',
  // Every instance must verify the download links the others sign.
  JOBQL_DOWNLOAD_SIGNING_KEY: Buffer.alloc(32, 1).toString('base64'),
};
const SNOWFLAKE = {
  JOBQL_WAREHOUSE: 'snowflake',
  SNOWFLAKE_ACCOUNT: 'acme',
  SNOWFLAKE_USER: 'jobql',
  SNOWFLAKE_PASSWORD: 'secret',
  SNOWFLAKE_HOME: tempDir(),
};

test('the server refuses multi-instance settings with the embedded warehouse, and says why (exit 78)', async () => {
  const { code, output } = await runToExit({ ...CLUSTER, JOBQL_DATA_DIR: tempDir(), PORT: '0' });
  assert.equal(code, 78);
  assert.match(output, /embedded\s+DuckDB warehouse cannot do/);
  assert.match(output, /JOBQL_WAREHOUSE=snowflake/);
});

test('several instances need both PostgreSQL and Redis', () => {
  assert.throws(
    () => loadConfig({ ...SNOWFLAKE, JOBQL_DATABASE_URL: CLUSTER.JOBQL_DATABASE_URL }),
    (error: unknown) => error instanceof ConfigError && /JOBQL_REDIS_URL is missing/.test(error.message),
  );
  assert.throws(
    () => loadConfig({ ...SNOWFLAKE, JOBQL_REDIS_URL: CLUSTER.JOBQL_REDIS_URL }),
    (error: unknown) => error instanceof ConfigError && /JOBQL_DATABASE_URL is missing/.test(error.message),
  );
  assert.throws(() => loadConfig({ ...SNOWFLAKE, ...CLUSTER, JOBQL_REDIS_URL: 'http://cache.example' }), ConfigError);
});

test('on Snowflake with both, the cluster settings are taken; without them, one process on SQLite', () => {
  const config = loadConfig({ ...SNOWFLAKE, ...CLUSTER, JOBQL_LEASE_TTL_MS: '9000' });
  assert.equal(config.cluster?.databaseUrl, CLUSTER.JOBQL_DATABASE_URL);
  assert.equal(config.cluster?.redisPrefix, 'jobql:');
  assert.equal(config.leaseTtlMs, 9000);
  assert.equal(loadConfig({}).cluster, null);
});

test('concurrent jobs: up to 64 on the embedded DuckDB, up to 10,000 on Snowflake', () => {
  assert.throws(
    () => loadConfig({ JOBQL_DATA_DIR: tempDir(), JOBQL_MAX_CONCURRENT_JOBS: '65' }),
    (error: unknown) => error instanceof ConfigError && /at most 64 on the embedded DuckDB/.test(error.message),
  );
  assert.equal(loadConfig({ JOBQL_DATA_DIR: tempDir(), JOBQL_MAX_CONCURRENT_JOBS: '64' }).limits.maxConcurrentJobs, 64);
  assert.equal(loadConfig({ ...SNOWFLAKE, JOBQL_MAX_CONCURRENT_JOBS: '1000' }).limits.maxConcurrentJobs, 1000);
  assert.throws(() => loadConfig({ ...SNOWFLAKE, JOBQL_MAX_CONCURRENT_JOBS: '10001' }), ConfigError);
});

test('status from query history: off by default; on, the poll backoff is a flat half second unless set', () => {
  const plain = loadConfig(SNOWFLAKE);
  assert.equal(plain.snowflakeStatusFromHistory, false);
  assert.deepEqual(plain.pollBackoffMs, [500, 500, 1000, 1500, 2000, 4000, 5000]);
  const history = loadConfig({ ...SNOWFLAKE, JOBQL_SNOWFLAKE_STATUS_FROM_HISTORY: 'true' });
  assert.equal(history.snowflakeStatusFromHistory, true);
  assert.deepEqual(history.pollBackoffMs, [500]);
  assert.deepEqual(loadConfig({ ...SNOWFLAKE, JOBQL_SNOWFLAKE_STATUS_FROM_HISTORY: 'true', JOBQL_POLL_BACKOFF_MS: '250,1000' }).pollBackoffMs, [250, 1000]);
});
