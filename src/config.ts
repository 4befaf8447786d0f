import { createPublicKey } from 'node:crypto';
import { type WebhookConfig, WebhookConfigError, webhookConfigFromEnv } from './notifications/webhook-config.ts';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type ApiKeyEntry, parseApiKeys } from './auth/api-keys.ts';
import type { AuthSettings } from './auth/authenticator.ts';
import type { RunAsMapping } from './core/principal.ts';
import type { JobLimits } from './jobs/admission.ts';
import type { LogFormat } from './logger.ts';
import {
  type SnowflakeConnectionSettings,
  snowflakeConnectionOptions,
  SnowflakeOptionsError,
} from './warehouses/snowflake/connection-options.ts';
import type { DuckDBSettings } from './warehouses/open-warehouse.ts';

/** scheme://host[:port], lower or upper case; `*.` may stand for the first label of the host. */
const ORIGIN = /^https?:\/\/(\*\.)?([a-zA-Z0-9.-]+|\[[0-9a-fA-F:]+\])(:\d{1,5})?$/;

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

/** Key bytes that print as `[redacted]` (JSON, util.inspect), so a logged config shows no secret. */
export class Secret {
  readonly #bytes: Buffer;
  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }
  reveal(): Buffer {
    return this.#bytes;
  }
  toJSON(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret [redacted]';
  }
}

/** Download links are signed with HMAC-SHA256: a key of at least 32 random bytes. */
const MIN_SIGNING_KEY_BYTES = 32;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
/** Hex (64+ digits) or base64/base64url (43+ characters) text of at least 32 bytes; hex wins when both fit. */
const signingKey = z.string().transform((text, ctx) => {
  const trimmed = text.trim();
  const bytes = HEX.test(trimmed) ? Buffer.from(trimmed, 'hex') : BASE64.test(trimmed) ? Buffer.from(trimmed, 'base64') : null;
  if (!bytes || bytes.length < MIN_SIGNING_KEY_BYTES) {
    ctx.addIssue({
      code: 'custom',
      message:
        `a key of at least ${MIN_SIGNING_KEY_BYTES} random bytes, as hex (64+ digits) or base64 (43+ characters), ` +
        `e.g. the output of \`openssl rand -base64 32\`${bytes ? `; this one is ${bytes.length} bytes` : ''}`,
    });
    return z.NEVER;
  }
  return new Secret(bytes);
});
/** Variables whose values a configuration error never repeats. */
// Never printed in a configuration error: keys, and URLs that may carry a password.
const SECRET_VARIABLES = new Set([
  'JOBQL_DOWNLOAD_SIGNING_KEY',
  'JOBQL_DOWNLOAD_SIGNING_KEY_PREVIOUS',
  'JOBQL_DATABASE_URL',
  'JOBQL_REDIS_URL',
  'JOBQL_WEBHOOK_SECRET',
  'JOBQL_WEBHOOK_SECRET_PREVIOUS',
]);

const schema = z.object({
  PORT: int(0, 65535).default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  JOBQL_LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
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
  JOBQL_DUCKDB_MAX_OPEN_DATABASES: int(1, 10_000).default(16),
  JOBQL_DUCKDB_IDLE_CLOSE_SECONDS: int(1, 86_400).default(60),
  JOBQL_DUCKDB_SHARED_DATABASE: z.string().min(1).optional(),
  // Up to 64 on the embedded DuckDB (connections in one process); Snowflake runs them remotely.
  JOBQL_MAX_CONCURRENT_JOBS: int(1, 10_000).default(4),
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
    .optional(),
  // Snowflake: ask query history for the status of many queries in one statement per identity.
  JOBQL_SNOWFLAKE_STATUS_FROM_HISTORY: bool.default(false),
  JOBQL_SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000),
  JOBQL_GRAPHIQL: bool.optional(),
  // Trusted documents: manifests of the only documents that may run (comma-separated paths).
  JOBQL_TRUSTED_DOCUMENTS: z.string().optional(),
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
  // Snowflake identities per principal: a JWT claim naming a connection of connections.toml, and
  // principal=connection pairs (key:<name>=..., user:<sub>=...).
  JOBQL_SNOWFLAKE_IDENTITY_CLAIM: z.string().min(1).optional(),
  JOBQL_SNOWFLAKE_IDENTITIES: list.default([]),
  JOBQL_ALLOW_OPEN_REMOTE: bool.default(false),
  // The web origins that may call, besides the server's own (comma-separated; `https://*.example.com`).
  JOBQL_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((list) => list.split(',').map((o) => o.trim()).filter((o) => o !== ''))
    .pipe(z.array(z.string().regex(ORIGIN, 'an origin such as https://app.example.com or https://*.example.com (no path)'))),
  // Limits per principal and per connection.
  JOBQL_MAX_ACTIVE_JOBS_PER_PRINCIPAL: int(1, 1_000_000).default(100),
  JOBQL_MAX_RUNNING_JOBS_PER_PRINCIPAL: int(1, 10_000).optional(),
  JOBQL_MAX_SUBMISSIONS_PER_MINUTE: int(1, 1_000_000).default(120),
  JOBQL_MAX_SOCKETS_PER_PRINCIPAL: int(1, 100_000).default(20),
  JOBQL_MAX_SUBSCRIPTIONS_PER_SOCKET: int(1, 10_000).default(50),
  JOBQL_MAX_REQUEST_BYTES: int(1024, 100 * 1024 * 1024).default(1024 * 1024),
  JOBQL_WS_MAX_BUFFERED_BYTES: int(1024, 1024 * 1024 * 1024).default(4 * 1024 * 1024),
  JOBQL_IDEMPOTENCY_WINDOW_SECONDS: int(1, 31 * 86_400).default(86_400),
  /** Cancel jobs nobody watches for this long, unless they say otherwise (cancelIfUnwatchedSeconds); off when unset. */
  JOBQL_CANCEL_IF_UNWATCHED_SECONDS: int(1, 86_400).optional(),
  /** PROGRESS events per running job and second (and as many writes of Job.progress); 0: none while running. */
  JOBQL_PROGRESS_EVENTS_PER_SECOND: int(0, 20).default(4),
  // GraphQL document limits (graphql-armor), over HTTP and WebSocket alike.
  JOBQL_GRAPHQL_MAX_DEPTH: int(1, 100).default(8),
  JOBQL_GRAPHQL_MAX_ALIASES: int(0, 1000).default(15),
  JOBQL_GRAPHQL_MAX_TOKENS: int(10, 100_000).default(1000),
  JOBQL_GRAPHQL_MAX_COST: int(1, 100_000_000).default(50_000),
  JOBQL_GRAPHQL_MAX_DIRECTIVES: int(0, 1000).default(50),
  JOBQL_GRAPHQL_MAX_DOCUMENT_CHARS: int(100, 10_000_000).default(16_384),
  // Signed download links (Job.downloads): the key, the one before a rotation, their lifetime.
  JOBQL_DOWNLOAD_SIGNING_KEY: signingKey.optional(),
  JOBQL_DOWNLOAD_SIGNING_KEY_PREVIOUS: signingKey.optional(),
  JOBQL_DOWNLOAD_LINK_TTL_SECONDS: int(1, 86_400).default(300),
});

export interface Config {
  port: number;
  host: string;
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
  /** `auto`: readable lines when stdout is a terminal, JSON lines otherwise. */
  logFormat: LogFormat;
  dataDir: string;
  warehouse: 'duckdb' | 'snowflake';
  /** The global budget of warehouse status checks per second (Snowflake monitoring calls). */
  maxStatusChecksPerSecond: number;
  /** The Snowflake connection, when `warehouse` is snowflake (from SNOWFLAKE_* or connections.toml). */
  snowflake: SnowflakeConnectionSettings | null;
  duckdb: DuckDBSettings;
  /** No authentication configured: one principal (`local`), which keeps the pre-tenant paths. */
  openMode: boolean;
  /** The job limits, and the page sizes of results read through the API. */
  limits: JobLimits & { defaultPageSize: number; maxPageSize: number };
  /** Authentication; both empty means open mode. */
  auth: AuthSettings;
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
  /** Snowflake: job statuses from INFORMATION_SCHEMA.QUERY_HISTORY, many per statement, instead of one monitoring call each. */
  snowflakeStatusFromHistory: boolean;
  shutdownGraceMs: number;
  graphiql: boolean;
  /**
   * The manifests of trusted documents (persisted operations), when only those may run; null
   * otherwise. The console's own manifest is added to them.
   */
  trustedDocuments: string[] | null;
  /** Who may call from a web page (see http/origin-policy.ts). */
  origins: { allowed: string[]; allowLoopback: boolean; loopbackHostOnly: boolean };
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
  /** PROGRESS events per running job and second; 0: none while running. */
  progressEventsPerSecond: number;
  /** Completion webhooks (notifications/); `secret` null: off. */
  webhooks: WebhookConfig;
  /** Signed download links (http/signed-links.ts). */
  downloads: {
    /** The key that signs links; null: a random key of this process (links die with it). */
    signingKey: Secret | null;
    /** The key before a rotation: links it signed still verify; it signs none. */
    previousSigningKey: Secret | null;
    /** A link's lifetime, never past its result's `resultExpiresAt`. */
    linkTtlSeconds: number;
  };
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const name = i.path.join('.');
      const shown = SECRET_VARIABLES.has(name) ? '<redacted>' : JSON.stringify(env[name] ?? '');
      return `  ${name}=${shown}: ${i.message}`;
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
  if (e.JOBQL_WAREHOUSE === 'duckdb' && e.JOBQL_MAX_CONCURRENT_JOBS > 64) {
    throw new ConfigError(
      'Invalid configuration:\n  JOBQL_MAX_CONCURRENT_JOBS is at most 64 on the embedded DuckDB (its queries share one process); up to 10000 on Snowflake',
    );
  }
  const dataDir = path.resolve(e.JOBQL_DATA_DIR);
  const snowflake = e.JOBQL_WAREHOUSE === 'snowflake' ? snowflakeSettings(env) : null;
  const auth = { ...authSettings(e), runAs: runAsMapping(e, snowflake) };
  const open = auth.jwt === null && auth.apiKeys.length === 0;
  if (open && !isLoopback(e.HOST) && !e.JOBQL_ALLOW_OPEN_REMOTE) {
    throw new ConfigError(
      `Invalid configuration:\n  HOST=${e.HOST} with no authentication configured would let anyone on the network run SQL.\n` +
        '  Configure JOBQL_JWT_* or JOBQL_API_KEYS, or set JOBQL_ALLOW_OPEN_REMOTE=true to accept that.',
    );
  }
  const cluster = clusterSettings(e);
  requireSharedSigningKey(e, cluster);
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    logFormat: e.JOBQL_LOG_FORMAT,
    dataDir,
    warehouse: e.JOBQL_WAREHOUSE,
    maxStatusChecksPerSecond: e.JOBQL_MAX_STATUS_CHECKS_PER_SECOND,
    snowflake,
    duckdb: {
      path: path.resolve(e.JOBQL_DUCKDB_PATH ?? path.join(dataDir, 'warehouse.duckdb')),
      allowedDirs: e.JOBQL_DUCKDB_ALLOWED_DIRS.map((d) => path.resolve(d)),
      memoryLimit: e.JOBQL_DUCKDB_MEMORY_LIMIT,
      threads: e.JOBQL_DUCKDB_THREADS,
      killAfterMs: e.JOBQL_DUCKDB_KILL_AFTER_MS,
      maxOpenDatabases: e.JOBQL_DUCKDB_MAX_OPEN_DATABASES,
      idleCloseSeconds: e.JOBQL_DUCKDB_IDLE_CLOSE_SECONDS,
      sharedDatabase: sharedDatabase(e.JOBQL_DUCKDB_SHARED_DATABASE),
    },
    openMode: open,
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
      defaultCancelIfUnwatchedSeconds: e.JOBQL_CANCEL_IF_UNWATCHED_SECONDS ?? null,
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
    // The Snowflake connectors' backoff; with the status from history every running job is asked
    // about each tick (one statement answers them all), so a flat half second.
    pollBackoffMs: e.JOBQL_POLL_BACKOFF_MS ?? (e.JOBQL_SNOWFLAKE_STATUS_FROM_HISTORY ? [500] : [500, 500, 1000, 1500, 2000, 4000, 5000]),
    snowflakeStatusFromHistory: e.JOBQL_SNOWFLAKE_STATUS_FROM_HISTORY,
    shutdownGraceMs: e.JOBQL_SHUTDOWN_GRACE_MS,
    // GraphiQL sends documents of its own, which a trusted-documents server refuses.
    graphiql: e.JOBQL_GRAPHIQL ?? (open && !e.JOBQL_TRUSTED_DOCUMENTS),
    trustedDocuments: trustedDocumentFiles(e.JOBQL_TRUSTED_DOCUMENTS),
    origins: { allowed: e.JOBQL_CORS_ORIGINS, allowLoopback: open, loopbackHostOnly: open && !e.JOBQL_ALLOW_OPEN_REMOTE },
    metrics: e.JOBQL_METRICS,
    cluster,
    leaseTtlMs: e.JOBQL_LEASE_TTL_MS,
    webhooks: webhookSettings(env),
    progressEventsPerSecond: e.JOBQL_PROGRESS_EVENTS_PER_SECOND,
    downloads: {
      signingKey: e.JOBQL_DOWNLOAD_SIGNING_KEY ?? null,
      previousSigningKey: e.JOBQL_DOWNLOAD_SIGNING_KEY_PREVIOUS ?? null,
      linkTtlSeconds: e.JOBQL_DOWNLOAD_LINK_TTL_SECONDS,
    },
  };
}

/**
 * Several instances behind one address verify each other's download links, so they must share
 * the key: a random key per process would make most links fail on the instance that gets them.
 */
function webhookSettings(env: NodeJS.ProcessEnv): WebhookConfig {
  try {
    return webhookConfigFromEnv(env);
  } catch (error) {
    if (error instanceof WebhookConfigError) throw new ConfigError(error.message);
    throw error;
  }
}

function requireSharedSigningKey(e: Env, cluster: Config['cluster']): void {
  if (cluster && !e.JOBQL_DOWNLOAD_SIGNING_KEY) {
    throw new ConfigError(
      'Invalid configuration:\n  JOBQL_DOWNLOAD_SIGNING_KEY is required with JOBQL_DATABASE_URL and JOBQL_REDIS_URL: every\n' +
        '  instance must verify the download links the others sign. Set the same key on all of them\n' +
        '  (e.g. `openssl rand -base64 32`).',
    );
  }
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

/**
 * Principals mapped to Snowflake identities (named connections of connections.toml), or null when
 * none is configured. Every connection the mapping names must exist; a claim may name any.
 */
function runAsMapping(e: Env, snowflake: SnowflakeConnectionSettings | null): RunAsMapping | null {
  if (!e.JOBQL_SNOWFLAKE_IDENTITY_CLAIM && e.JOBQL_SNOWFLAKE_IDENTITIES.length === 0) return null;
  if (!snowflake) {
    throw new ConfigError('Invalid configuration:\n  JOBQL_SNOWFLAKE_IDENTITY_CLAIM and JOBQL_SNOWFLAKE_IDENTITIES need JOBQL_WAREHOUSE=snowflake');
  }
  const byPrincipal = new Map<string, string>();
  const problems: string[] = [];
  for (const pair of e.JOBQL_SNOWFLAKE_IDENTITIES) {
    const match = /^((?:key|user):[^=]+)=(.+)$/.exec(pair);
    if (!match) {
      problems.push(`  JOBQL_SNOWFLAKE_IDENTITIES: ${JSON.stringify(pair)} is not key:<name>=<connection> or user:<sub>=<connection>`);
      continue;
    }
    const [, principal = '', connection = ''] = match;
    if (!snowflake.identities?.has(connection)) {
      problems.push(`  JOBQL_SNOWFLAKE_IDENTITIES: no connection named ${JSON.stringify(connection)} in connections.toml`);
    }
    byPrincipal.set(principal, connection);
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  return { claim: e.JOBQL_SNOWFLAKE_IDENTITY_CLAIM ?? null, byPrincipal };
}

function authSettings(e: Env): Omit<AuthSettings, 'runAs'> {
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

/**
 * The shared database's path, which must be an existing DuckDB file: it is attached READ_ONLY,
 * which cannot create one, and a typo should stop the start rather than fail every job.
 */
function sharedDatabase(value: string | undefined): string | null {
  if (value === undefined) return null;
  const file = path.resolve(value);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    throw new ConfigError(`Invalid configuration:\n  JOBQL_DUCKDB_SHARED_DATABASE=${value}: no such database file`);
  }
  return file;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function trustedDocumentFiles(list: string | undefined): string[] | null {
  if (list === undefined || list.trim() === '') return null;
  const files = list.split(',').map((file) => path.resolve(file.trim()));
  for (const file of files) {
    if (!fs.existsSync(file)) throw new ConfigError(`JOBQL_TRUSTED_DOCUMENTS: no file ${file}`);
  }
  return files;
}
