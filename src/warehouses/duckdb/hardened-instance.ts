import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

export interface DuckDBHardening {
  /** The database file (its directory is created when missing), or `:memory:`. */
  path: string;
  /** Directories user SQL may read (read_csv, read_parquet, ...). Nothing else on the host. */
  allowedDirs: string[];
  memoryLimit: string;
  threads: number;
  /**
   * A database every tenant reads but none writes (JOBQL_DUCKDB_SHARED_DATABASE), attached
   * READ_ONLY as `shared`; null for none.
   */
  sharedDatabase?: string | null;
}

/** The catalog name the shared database is attached under. */
const SHARED_CATALOG = 'shared';

const quote = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/**
 * Opens the warehouse's DuckDB file configured for untrusted SQL, in the order DuckDB requires
 * (measured on 1.5.6; see docs/ARCHITECTURE.md "Hardening"):
 *  1. instance options: thread and memory limits, no spill directory (DuckDB silently allows user
 *     SQL to write into it), no extension auto-install or auto-load, no community extensions,
 *     no persistent secrets;
 *  2. `allowed_directories` (only settable by SQL, and only before external access is off);
 *  3. the shared database, READ_ONLY (DuckDB refuses every write to it, whatever the SQL);
 *  4. `enable_external_access = false`: no host files or network beyond those directories;
 *  5. `lock_configuration = true`: user SQL can change none of the above.
 * ATTACH and DETACH stay possible after the lock (measured): duckdb-engine.ts refuses them.
 * DuckDB's own advice is that these settings are defence in depth, not a sandbox; statement-level
 * checks in duckdb-engine.ts add a second layer.
 */
export async function openHardenedInstance(options: DuckDBHardening): Promise<DuckDBInstance> {
  if (options.path !== ':memory:') fs.mkdirSync(path.dirname(options.path), { recursive: true });
  const instance = await DuckDBInstance.create(options.path, {
    threads: String(options.threads),
    memory_limit: options.memoryLimit,
    temp_directory: '',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    allow_community_extensions: 'false',
    allow_unsigned_extensions: 'false',
    allow_persistent_secrets: 'false',
  });
  const boot = await instance.connect();
  try {
    const dirs = options.allowedDirs.map((d) => quote(d.endsWith(path.sep) ? d : d + path.sep));
    await boot.run(`SET allowed_directories = [${dirs.join(', ')}]`);
    if (options.sharedDatabase) await boot.run(`ATTACH ${quote(options.sharedDatabase)} AS ${SHARED_CATALOG} (READ_ONLY)`);
    await boot.run('SET enable_external_access = false');
    await boot.run('SET lock_configuration = true');
  } finally {
    boot.closeSync();
  }
  return instance;
}

/**
 * What every job's fresh connection runs before the job's SQL: DuckDB's progress counter, without
 * its printer. `enable_progress_bar` is a connection-local setting: DuckDB refuses it in the
 * instance's options map ("Failed to set config"; so are `progress_bar_time` and
 * `enable_progress_bar_print`), and `SET` refuses it once the configuration is locked. The PRAGMA
 * forms are not refused by the lock (measured on 1.5.6): they switch only this connection, and the
 * job's SQL could run them itself (it gains nothing: the printer writes to the engine's stdout,
 * which goes nowhere). `progress_bar_time` (locked at its 2000 ms) delays only the printing, not
 * the counter `DuckDBConnection.progress` reads.
 */
export const JOB_CONNECTION_SETUP: readonly string[] = ['PRAGMA enable_progress_bar', 'PRAGMA disable_print_progress_bar'];
