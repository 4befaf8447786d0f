import path from 'node:path';
import { z } from 'zod';
import { type SnowflakeConnectionSettings, snowflakeConnectionOptions } from './warehouses/snowflake/connection-options.ts';

/**
 * Every setting, read once from the environment and validated at start. Units are in the names.
 * The README's "Configuration" table lists them; keep the two in step.
 */
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
);

const schema = z.object({
  PORT: int(0, 65535).default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  JOBQL_DATA_DIR: z.string().min(1).default('.jobql'),
  JOBQL_WAREHOUSE: z.enum(['duckdb', 'snowflake']).default('duckdb'),
  JOBQL_MAX_STATUS_CHECKS_PER_SECOND: int(1, 10_000).default(50),
  JOBQL_DUCKDB_PATH: z.string().min(1).optional(),
  JOBQL_DUCKDB_ALLOWED_DIRS: list.default([]),
  JOBQL_DUCKDB_MEMORY_LIMIT: z
    .string()
    .regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'a size such as 512MB or 2GB')
    .default('1GB'),
  JOBQL_DUCKDB_THREADS: int(1, 256).default(2),
  JOBQL_MAX_CONCURRENT_JOBS: int(1, 64).default(4),
  JOBQL_MAX_QUEUED_JOBS: int(1, 1_000_000).default(1000),
  JOBQL_MAX_SQL_LENGTH: int(1, 10_000_000).default(100_000),
  JOBQL_MAX_STATEMENTS: int(1, 10_000).default(100),
  JOBQL_MAX_BINDINGS: int(0, 100_000).default(1000),
  JOBQL_DEFAULT_PAGE_SIZE: int(1, 100_000).optional(),
  JOBQL_MAX_PAGE_SIZE: int(1, 100_000).default(1000),
  JOBQL_DEFAULT_TIMEOUT_SECONDS: int(1, 604_800).optional(),
  JOBQL_MAX_TIMEOUT_SECONDS: int(1, 604_800).default(86_400),
  JOBQL_RESULT_MAX_ROWS: int(1, Number.MAX_SAFE_INTEGER).default(100_000_000),
  JOBQL_RESULT_MAX_BYTES: int(1024, Number.MAX_SAFE_INTEGER).default(10 * 1024 ** 3),
  JOBQL_RESULT_TTL_SECONDS: int(1, 31 * 86_400).default(86_400),
  JOBQL_MAX_WAIT_MS: int(0, 600_000).default(30_000),
  JOBQL_POLL_BACKOFF_MS: z
    .string()
    .transform((v) => v.split(',').map((s) => Number(s.trim())))
    .pipe(z.array(z.number().int().min(1).max(600_000)).min(1))
    .default([500, 500, 1000, 1500, 2000, 4000, 5000]),
  JOBQL_SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000),
  JOBQL_GRAPHIQL: bool.default(true),
  JOBQL_ALLOW_ATTACH: bool.default(true),
});

export interface Config {
  port: number;
  host: string;
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
  dataDir: string;
  warehouse: 'duckdb' | 'snowflake';
  /** The global budget of warehouse status checks per second (Snowflake monitoring calls). */
  maxStatusChecksPerSecond: number;
  /** The Snowflake connection, when `warehouse` is snowflake (from SNOWFLAKE_* or connections.toml). */
  snowflake: SnowflakeConnectionSettings | null;
  duckdb: {
    path: string;
    allowedDirs: string[];
    memoryLimit: string;
    threads: number;
  };
  limits: {
    maxConcurrentJobs: number;
    maxQueuedJobs: number;
    maxSqlLength: number;
    maxStatements: number;
    maxBindings: number;
    defaultPageSize: number;
    maxPageSize: number;
    defaultTimeoutSeconds: number;
    maxTimeoutSeconds: number;
    maxWaitMs: number;
    allowAttach: boolean;
  };
  resultTtlSeconds: number;
  resultMaxRows: number;
  resultMaxBytes: number;
  pollBackoffMs: number[];
  shutdownGraceMs: number;
  graphiql: boolean;
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const name = i.path.join('.');
      return `  ${name}=${JSON.stringify(env[name] ?? '')}: ${i.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  }
  const e = parsed.data;
  // An unset default follows a lowered maximum; an explicit one must fit under it.
  const defaultPageSize = e.JOBQL_DEFAULT_PAGE_SIZE ?? Math.min(100, e.JOBQL_MAX_PAGE_SIZE);
  const defaultTimeoutSeconds = e.JOBQL_DEFAULT_TIMEOUT_SECONDS ?? Math.min(3600, e.JOBQL_MAX_TIMEOUT_SECONDS);
  if (defaultPageSize > e.JOBQL_MAX_PAGE_SIZE) {
    throw new ConfigError('Invalid configuration:\n  JOBQL_DEFAULT_PAGE_SIZE must not exceed JOBQL_MAX_PAGE_SIZE');
  }
  if (defaultTimeoutSeconds > e.JOBQL_MAX_TIMEOUT_SECONDS) {
    throw new ConfigError(
      'Invalid configuration:\n  JOBQL_DEFAULT_TIMEOUT_SECONDS must not exceed JOBQL_MAX_TIMEOUT_SECONDS',
    );
  }
  const dataDir = path.resolve(e.JOBQL_DATA_DIR);
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    dataDir,
    warehouse: e.JOBQL_WAREHOUSE,
    maxStatusChecksPerSecond: e.JOBQL_MAX_STATUS_CHECKS_PER_SECOND,
    snowflake: e.JOBQL_WAREHOUSE === 'snowflake' ? snowflakeConnectionOptions(env) : null,
    duckdb: {
      path: path.resolve(e.JOBQL_DUCKDB_PATH ?? path.join(dataDir, 'warehouse.duckdb')),
      allowedDirs: e.JOBQL_DUCKDB_ALLOWED_DIRS.map((d) => path.resolve(d)),
      memoryLimit: e.JOBQL_DUCKDB_MEMORY_LIMIT,
      threads: e.JOBQL_DUCKDB_THREADS,
    },
    limits: {
      maxConcurrentJobs: e.JOBQL_MAX_CONCURRENT_JOBS,
      maxQueuedJobs: e.JOBQL_MAX_QUEUED_JOBS,
      maxSqlLength: e.JOBQL_MAX_SQL_LENGTH,
      maxStatements: e.JOBQL_MAX_STATEMENTS,
      maxBindings: e.JOBQL_MAX_BINDINGS,
      defaultPageSize,
      maxPageSize: e.JOBQL_MAX_PAGE_SIZE,
      defaultTimeoutSeconds,
      maxTimeoutSeconds: e.JOBQL_MAX_TIMEOUT_SECONDS,
      maxWaitMs: e.JOBQL_MAX_WAIT_MS,
      allowAttach: e.JOBQL_ALLOW_ATTACH,
    },
    resultTtlSeconds: e.JOBQL_RESULT_TTL_SECONDS,
    resultMaxRows: e.JOBQL_RESULT_MAX_ROWS,
    resultMaxBytes: e.JOBQL_RESULT_MAX_BYTES,
    pollBackoffMs: e.JOBQL_POLL_BACKOFF_MS,
    shutdownGraceMs: e.JOBQL_SHUTDOWN_GRACE_MS,
    graphiql: e.JOBQL_GRAPHIQL,
  };
}
