import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../core/logger.ts';
import { LOCAL_PRINCIPAL, type RunAsMapping } from '../core/principal.ts';
import type { SnowflakeConnectionSettings } from './snowflake/connection-options.ts';
import type { Warehouse } from './warehouse.ts';

export interface DuckDBSettings {
  path: string;
  allowedDirs: string[];
  memoryLimit: string;
  threads: number;
  /** How long the engine process gets to honour a cancel or timeout before it is SIGKILLed. */
  killAfterMs: number;
  /** At most this many principals' databases open at once. */
  maxOpenDatabases: number;
  /** A principal's database with no job for this long is closed. */
  idleCloseSeconds: number;
  /** A database every principal reads and none writes, attached as `shared`; null for none. */
  sharedDatabase: string | null;
}

/** What choosing and opening a warehouse needs of the configuration (Config satisfies it). */
export interface WarehouseSettings {
  /** Set when the warehouse is Snowflake; the embedded DuckDB otherwise. */
  snowflake: SnowflakeConnectionSettings | null;
  dataDir: string;
  duckdb: DuckDBSettings;
  resultMaxRows: number;
  resultMaxBytes: number;
  limits: { maxConcurrentJobs: number };
  /** Open mode (no authentication): its one principal's database is opened at start. */
  openMode: boolean;
  /** Principals mapped to warehouse identities (Snowflake); absent or null for none. */
  auth?: { runAs: RunAsMapping | null };
  /** Snowflake: statuses from query history, many per statement (default false: monitoring). */
  snowflakeStatusFromHistory?: boolean;
}

export interface OpenedWarehouse {
  warehouse: Warehouse;
  /** Closes the warehouse and whatever it holds (the engine process, the result store). */
  close(): Promise<void>;
  /** With principals mapped to identities: which identities the warehouse has. */
  identities?: { known(name: string): boolean } | null;
}

/** What the warehouse may ask of the rest of jobql. */
export interface WarehouseHooks {
  /** The identity a query runs as (its job's `runAs`), for one this process did not submit. */
  runAsOf?: (queryId: string) => Promise<string | null>;
}

/**
 * The warehouse `JOBQL_WAREHOUSE` names, connected and ready. Each adapter, and its driver, is
 * imported only when it is the one named: a Snowflake deployment never loads DuckDB's native
 * module or parquet-wasm, and the embedded one never loads snowflake-sdk
 * (test/warehouses/adapter-loading.test.ts checks both).
 */
export async function openWarehouse(config: WarehouseSettings, logger: Logger, hooks: WarehouseHooks = {}): Promise<OpenedWarehouse> {
  if (config.snowflake) {
    const [{ default: snowflake }, { SnowflakeClient }, { SnowflakeWarehouse }, { SnowflakeIdentities }] = await Promise.all([
      import('snowflake-sdk'),
      import('./snowflake/snowflake-client.ts'),
      import('./snowflake/snowflake-warehouse.ts'),
      import('./snowflake/snowflake-identities.ts'),
    ]);
    const { options, source } = config.snowflake;
    // The driver logs through its own logger; jobql logs what matters through pino.
    snowflake.configure({ logLevel: 'OFF' } as Parameters<typeof snowflake.configure>[0]);
    const log = logger.child({ component: 'snowflake' });
    const client = new SnowflakeClient(options, log);
    log.info({ source }, 'connecting to Snowflake');
    await client.connect(); // wrong credentials stop the start, with the driver's message
    const mapped = config.auth?.runAs ?? null;
    if (mapped) {
      log.info(
        { claim: mapped.claim, mappedPrincipals: mapped.byPrincipal.size, connections: config.snowflake.identities?.size ?? 0 },
        'principals run SQL as their own Snowflake identities (named connections of connections.toml)',
      );
    } else if (!config.openMode) {
      // Snowflake scopes RESULT_SCAN, query history and grants by user: with one service user,
      // every principal could read every other's results by query id.
      log.warn(
        { user: options.username ?? null, role: options.role ?? null },
        'every principal runs SQL as this one Snowflake identity: Snowflake grants and RESULT_SCAN do not tell them apart; run one jobql per tenant until identities are mapped',
      );
    }
    const identities = new SnowflakeIdentities(client, config.snowflake.identities ?? new Map(), log);
    const warehouse = new SnowflakeWarehouse(identities, log, hooks.runAsOf, { statusFromHistory: config.snowflakeStatusFromHistory ?? false });
    return { warehouse, close: () => warehouse.close(), identities: mapped ? { known: (name) => identities.has(name) } : null };
  }
  const { EngineWarehouse } = await import('./duckdb/engine-warehouse.ts');
  const resultsDir = path.join(config.dataDir, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  // DuckDB runs user SQL in a process of its own; this process only reads the results it wrote.
  const { path: file, allowedDirs, memoryLimit, threads, killAfterMs, maxOpenDatabases, idleCloseSeconds, sharedDatabase } =
    config.duckdb;
  const warehouse = await EngineWarehouse.open({
    engine: {
      hardening: { allowedDirs, memoryLimit, threads, sharedDatabase },
      layout: { localDatabase: file, resultsDir, tenantsDir: path.join(config.dataDir, 'tenants') },
      caps: { maxRows: config.resultMaxRows, maxBytes: config.resultMaxBytes },
      maxOpenDatabases,
      idleCloseMs: idleCloseSeconds * 1000,
      openAtStart: config.openMode ? [LOCAL_PRINCIPAL.id] : [],
    },
    killAfterMs,
    // One libuv thread per running query for its whole run, and some to spare for file work.
    threadPoolSize: config.limits.maxConcurrentJobs + 4,
    logger: logger.child({ component: 'engine' }),
  });
  return { warehouse, close: () => warehouse.close() };
}
