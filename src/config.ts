import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type ApiKeyEntry, parseApiKeys } from './auth/api-keys.ts';
import type { JwtSettings } from './auth/jwt.ts';
import type { JobLimits } from './jobs/admission.ts';
import {
  type SnowflakeConnectionSettings,
  snowflakeConnectionOptions,
  SnowflakeOptionsError,
} from './warehouses/snowflake/connection-options.ts';
import type { DuckDBSettings } from './warehouses/open-warehouse.ts';

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
  JOBQL_DUCKDB_KILL_AFTER_MS: int(0, 600_000).default(5000),
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
  JOBQL_GRAPHIQL: bool.optional(),
  JOBQL_INTROSPECTION: bool.optional(),
  JOBQL_ALLOW_ATTACH: bool.default(true),
  JOBQL_METRICS: bool.default(true),
  // Several instances (Snowflake only): jobs in PostgreSQL, events and shared limits in Redis.
  JOBQL_DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  JOBQL_REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  JOBQL_REDIS_PREFIX: z.string().min(1).max(100).default('jobql:'),
  JOBQL_LEASE_TTL_MS: int(1000, 600_000).default(15_000),
  JOBQL_DATABASE_POOL_SIZE: int(1, 1000).default(10),
  // Authentication: nothing configured means open mode (local use only, see README "Security").
  JOBQL_JWT_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  JOBQL_JWT_PUBLIC_KEY: z.string().includes('BEGIN PUBLIC KEY', { message: 'a PEM public key' }).optional(),
  JOBQL_JWT_PUBLIC_KEY_FILE: z.string().min(1).optional(),
  JOBQL_JWT_ISSUER: z.string().min(1).optional(),
  JOBQL_JWT_AUDIENCE: z.string().min(1).optional(),
  JOBQL_JWT_ALGORITHMS: list
    .pipe(z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])).min(1))
    .default(['RS256']),
  JOBQL_ADMIN_SCOPE: z.string().min(1).default('jobql:admin'),
  JOBQL_API_KEYS: list.default([]),
  JOBQL_ALLOW_OPEN_REMOTE: bool.default(false),
  // Limits per principal and per connection.
  JOBQL_MAX_ACTIVE_JOBS_PER_PRINCIPAL: int(1, 1_000_000).default(100),
  JOBQL_MAX_RUNNING_JOBS_PER_PRINCIPAL: int(1, 64).optional(),
  JOBQL_MAX_SUBMISSIONS_PER_MINUTE: int(1, 1_000_000).default(120),
  JOBQL_MAX_SOCKETS_PER_PRINCIPAL: int(1, 100_000).default(20),
  JOBQL_MAX_SUBSCRIPTIONS_PER_SOCKET: int(1, 10_000).default(50),
  JOBQL_MAX_REQUEST_BYTES: int(1024, 100 * 1024 * 1024).default(1024 * 1024),
  JOBQL_WS_MAX_BUFFERED_BYTES: int(1024, 1024 * 1024 * 1024).default(4 * 1024 * 1024),
  JOBQL_IDEMPOTENCY_WINDOW_SECONDS: int(1, 31 * 86_400).default(86_400),
  // GraphQL document limits (graphql-armor), over HTTP and WebSocket alike.
  JOBQL_GRAPHQL_MAX_DEPTH: int(1, 100).default(8),
  JOBQL_GRAPHQL_MAX_ALIASES: int(0, 1000).default(15),
  JOBQL_GRAPHQL_MAX_TOKENS: int(10, 100_000).default(1000),
  JOBQL_GRAPHQL_MAX_COST: int(1, 100_000_000).default(50_000),
  JOBQL_GRAPHQL_MAX_DIRECTIVES: int(0, 1000).default(50),
  JOBQL_GRAPHQL_MAX_DOCUMENT_CHARS: int(100, 10_000_000).default(16_384),
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
  duckdb: DuckDBSettings;
  /** The job limits, and the page sizes of results read through the API. */
  limits: JobLimits & { defaultPageSize: number; maxPageSize: number };
  /** Authentication; both empty means open mode. */
  auth: { jwt: JwtSettings | null; apiKeys: ApiKeyEntry[] };
  /** Limits of the transport: sockets, subscriptions, message sizes, GraphQL documents. */
  transport: {
    maxSocketsPerPrincipal: number;
    maxSubscriptionsPerSocket: number;
    maxRequestBytes: number;
    wsMaxBufferedBytes: number;
    graphqlMaxDepth: number;
    graphqlMaxAliases: number;
    graphqlMaxTokens: number;
    graphqlMaxCost: number;
    graphqlMaxDirectives: number;
    /** Longer documents are refused before they are parsed (or cached): put big SQL in variables. */
    graphqlMaxDocumentChars: number;
  };
  introspection: boolean;
  resultTtlSeconds: number;
  resultMaxRows: number;
  resultMaxBytes: number;
  pollBackoffMs: number[];
  shutdownGraceMs: number;
  graphiql: boolean;
  /** Whether `GET /metrics` (Prometheus text) is served. */
  metrics: boolean;
  /** Set when several instances share PostgreSQL and Redis; null for one process on SQLite. */
  cluster: {
    databaseUrl: string;
    databasePoolSize: number;
    redisUrl: string;
    redisPrefix: string;
  } | null;
  /** How long an instance's polling lease on a job lasts without renewal. */
  leaseTtlMs: number;
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
  const auth = authSettings(e);
  const open = auth.jwt === null && auth.apiKeys.length === 0;
  if (open && !isLoopback(e.HOST) && !e.JOBQL_ALLOW_OPEN_REMOTE) {
    throw new ConfigError(
      `Invalid configuration:\n  HOST=${e.HOST} with no authentication configured would let anyone on the network run SQL.\n` +
        '  Configure JOBQL_JWT_* or JOBQL_API_KEYS, or set JOBQL_ALLOW_OPEN_REMOTE=true to accept that.',
    );
  }
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    dataDir,
    warehouse: e.JOBQL_WAREHOUSE,
    maxStatusChecksPerSecond: e.JOBQL_MAX_STATUS_CHECKS_PER_SECOND,
    snowflake: e.JOBQL_WAREHOUSE === 'snowflake' ? snowflakeSettings(env) : null,
    duckdb: {
      path: path.resolve(e.JOBQL_DUCKDB_PATH ?? path.join(dataDir, 'warehouse.duckdb')),
      allowedDirs: e.JOBQL_DUCKDB_ALLOWED_DIRS.map((d) => path.resolve(d)),
      memoryLimit: e.JOBQL_DUCKDB_MEMORY_LIMIT,
      threads: e.JOBQL_DUCKDB_THREADS,
      killAfterMs: e.JOBQL_DUCKDB_KILL_AFTER_MS,
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
      maxActiveJobsPerPrincipal: e.JOBQL_MAX_ACTIVE_JOBS_PER_PRINCIPAL,
      maxRunningJobsPerPrincipal: Math.min(
        e.JOBQL_MAX_RUNNING_JOBS_PER_PRINCIPAL ?? e.JOBQL_MAX_CONCURRENT_JOBS,
        e.JOBQL_MAX_CONCURRENT_JOBS,
      ),
      maxSubmissionsPerMinute: e.JOBQL_MAX_SUBMISSIONS_PER_MINUTE,
      idempotencyWindowSeconds: e.JOBQL_IDEMPOTENCY_WINDOW_SECONDS,
    },
    auth,
    transport: {
      maxSocketsPerPrincipal: e.JOBQL_MAX_SOCKETS_PER_PRINCIPAL,
      maxSubscriptionsPerSocket: e.JOBQL_MAX_SUBSCRIPTIONS_PER_SOCKET,
      maxRequestBytes: e.JOBQL_MAX_REQUEST_BYTES,
      wsMaxBufferedBytes: e.JOBQL_WS_MAX_BUFFERED_BYTES,
      graphqlMaxDepth: e.JOBQL_GRAPHQL_MAX_DEPTH,
      graphqlMaxAliases: e.JOBQL_GRAPHQL_MAX_ALIASES,
      graphqlMaxTokens: e.JOBQL_GRAPHQL_MAX_TOKENS,
      graphqlMaxCost: e.JOBQL_GRAPHQL_MAX_COST,
      graphqlMaxDirectives: e.JOBQL_GRAPHQL_MAX_DIRECTIVES,
      graphqlMaxDocumentChars: e.JOBQL_GRAPHQL_MAX_DOCUMENT_CHARS,
    },
    // Open mode is for exploring: GraphiQL and introspection on. Otherwise off unless asked for.
    introspection: e.JOBQL_INTROSPECTION ?? open,
    resultTtlSeconds: e.JOBQL_RESULT_TTL_SECONDS,
    resultMaxRows: e.JOBQL_RESULT_MAX_ROWS,
    resultMaxBytes: e.JOBQL_RESULT_MAX_BYTES,
    pollBackoffMs: e.JOBQL_POLL_BACKOFF_MS,
    shutdownGraceMs: e.JOBQL_SHUTDOWN_GRACE_MS,
    graphiql: e.JOBQL_GRAPHIQL ?? open,
    metrics: e.JOBQL_METRICS,
    cluster: clusterSettings(e),
    leaseTtlMs: e.JOBQL_LEASE_TTL_MS,
  };
}

type Env = z.infer<typeof schema>;

/** Multi-instance settings: both stores or neither, and never with the embedded warehouse. */
function clusterSettings(e: Env): Config['cluster'] {
  const database = e.JOBQL_DATABASE_URL;
  const redis = e.JOBQL_REDIS_URL;
  if (!database && !redis) return null;
  if (e.JOBQL_WAREHOUSE === 'duckdb') {
    throw new ConfigError(
      'Invalid configuration:\n  JOBQL_DATABASE_URL and JOBQL_REDIS_URL run jobql as several instances, which the embedded\n' +
        '  DuckDB warehouse cannot do: its database and results live inside one process and one machine.\n' +
        '  Run one instance without them, or set JOBQL_WAREHOUSE=snowflake.',
    );
  }
  if (!database || !redis) {
    throw new ConfigError(
      `Invalid configuration:\n  ${database ? 'JOBQL_REDIS_URL' : 'JOBQL_DATABASE_URL'} is missing: several instances need ` +
        'both the PostgreSQL job store (JOBQL_DATABASE_URL) and Redis for events and shared limits (JOBQL_REDIS_URL).',
    );
  }
  return { databaseUrl: database, databasePoolSize: e.JOBQL_DATABASE_POOL_SIZE, redisUrl: redis, redisPrefix: e.JOBQL_REDIS_PREFIX };
}

/** The Snowflake connection (SNOWFLAKE_* and connections.toml); its refusals are ConfigErrors. */
function snowflakeSettings(env: NodeJS.ProcessEnv): SnowflakeConnectionSettings {
  try {
    return snowflakeConnectionOptions(env);
  } catch (error) {
    if (error instanceof SnowflakeOptionsError) throw new ConfigError(error.message, { cause: error });
    throw error;
  }
}

function authSettings(e: Env): Config['auth'] {
  let apiKeys: ApiKeyEntry[];
  try {
    apiKeys = parseApiKeys(e.JOBQL_API_KEYS);
  } catch (error) {
    throw new ConfigError(`Invalid configuration:\n  JOBQL_API_KEYS: ${(error as Error).message}`);
  }
  const keySources = [e.JOBQL_JWT_JWKS_URL, e.JOBQL_JWT_PUBLIC_KEY, e.JOBQL_JWT_PUBLIC_KEY_FILE].filter(Boolean);
  const anyJwt = keySources.length > 0 || e.JOBQL_JWT_ISSUER || e.JOBQL_JWT_AUDIENCE;
  if (!anyJwt) return { jwt: null, apiKeys };
  const problems: string[] = [];
  if (keySources.length !== 1) {
    problems.push('  set exactly one of JOBQL_JWT_JWKS_URL, JOBQL_JWT_PUBLIC_KEY, JOBQL_JWT_PUBLIC_KEY_FILE');
  }
  if (!e.JOBQL_JWT_ISSUER) problems.push('  JOBQL_JWT_ISSUER is required with JWT authentication (pinned)');
  if (!e.JOBQL_JWT_AUDIENCE) problems.push('  JOBQL_JWT_AUDIENCE is required with JWT authentication (pinned)');
  let publicKeyPem = e.JOBQL_JWT_PUBLIC_KEY ?? null;
  if (e.JOBQL_JWT_PUBLIC_KEY_FILE) {
    try {
      publicKeyPem = fs.readFileSync(e.JOBQL_JWT_PUBLIC_KEY_FILE, 'utf8');
    } catch (error) {
      problems.push(`  JOBQL_JWT_PUBLIC_KEY_FILE: ${(error as Error).message}`);
    }
  }
  if (publicKeyPem) {
    try {
      createPublicKey(publicKeyPem);
    } catch {
      problems.push('  the JWT public key is not a PEM public key');
    }
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  return {
    jwt: {
      jwksUrl: e.JOBQL_JWT_JWKS_URL ?? null,
      publicKeyPem,
      issuer: e.JOBQL_JWT_ISSUER ?? '',
      audience: e.JOBQL_JWT_AUDIENCE ?? '',
      algorithms: e.JOBQL_JWT_ALGORITHMS,
      adminScope: e.JOBQL_ADMIN_SCOPE,
    },
    apiKeys,
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
