/**
 * Several jobql instances on loopback, as separate processes (`node src/main.ts`), sharing one
 * PostgreSQL database, one Redis and one Snowflake (the wire-level double): the multi-instance
 * deployment of the README. For the scale suites (npm run test:scale) and the cluster benchmark.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { type SnowflakeDouble, startSnowflakeDouble } from '../snowflake-double/server.ts';
import { createTestDatabase, type TestDatabase } from './postgres.ts';
import { type ServerProcess, spawnServer } from './process.ts';
import { tempDir } from './server.ts';

export const DEFAULT_TEST_REDIS_URL = 'redis://127.0.0.1:6379';

export interface Cluster {
  instances: ServerProcess[];
  double: SnowflakeDouble;
  database: TestDatabase;
  redisUrl: string;
  /** The channel and key prefix of this cluster, so that runs never hear each other. */
  redisPrefix: string;
  /** Starts one more instance with the cluster's settings. */
  add(env?: Record<string, string>): Promise<ServerProcess>;
  stop(): Promise<void>;
}

/** Throws, never skips, when Redis is not there. */
export async function requireRedis(url = process.env['JOBQL_TEST_REDIS_URL'] || DEFAULT_TEST_REDIS_URL): Promise<string> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (cause) {
    throw new Error(
      `Redis at ${url} is required for npm run test:scale, and it did not answer (${(cause as Error).message}). ` +
        'Start Redis there or set JOBQL_TEST_REDIS_URL.',
      { cause },
    );
  } finally {
    client.disconnect();
  }
  return url;
}

export async function startCluster(options: { instances: number; env?: Record<string, string> }): Promise<Cluster> {
  const redisUrl = await requireRedis();
  const database = await createTestDatabase();
  const double = await startSnowflakeDouble();
  const redisPrefix = `jobql-test-${randomBytes(4).toString('hex')}:`;
  const instances: ServerProcess[] = [];
  const add = async (env: Record<string, string> = {}): Promise<ServerProcess> => {
    const home = tempDir('jobql-cluster-');
    const instance = await spawnServer({
      JOBQL_WAREHOUSE: 'snowflake',
      SNOWFLAKE_ACCESS_URL: double.url,
      SNOWFLAKE_ACCOUNT: 'testaccount',
      SNOWFLAKE_USER: 'jobql',
      SNOWFLAKE_PASSWORD: 'secret',
      SNOWFLAKE_HOME: home,
      JOBQL_DATA_DIR: home,
      JOBQL_DATABASE_URL: database.url,
      JOBQL_REDIS_URL: redisUrl,
      JOBQL_REDIS_PREFIX: redisPrefix,
      // One key for all instances: each verifies the download links the others sign.
      JOBQL_DOWNLOAD_SIGNING_KEY: Buffer.alloc(32, 7).toString('base64'),
      JOBQL_POLL_BACKOFF_MS: '100,200,300',
      JOBQL_SHUTDOWN_GRACE_MS: '0',
      ...options.env,
      ...env,
    });
    instances.push(instance);
    return instance;
  };
  try {
    // One at a time: the first runs the migrations (the others would wait on its lock anyway).
    for (let i = 0; i < options.instances; i++) await add();
  } catch (error) {
    for (const instance of instances) instance.child.kill('SIGKILL');
    await double.stop();
    await database.drop();
    throw error;
  }
  return {
    instances,
    double,
    database,
    redisUrl,
    redisPrefix,
    add,
    async stop() {
      for (const instance of instances) if (instance.child.exitCode === null) instance.child.kill('SIGKILL');
      await Promise.all(instances.map((instance) => instance.exited));
      await double.stop();
      await database.drop();
    },
  };
}
