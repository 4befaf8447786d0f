import type { DuckDBInstance } from '@duckdb/node-api';
import { JobErrorCode } from '../../core/errors.ts';
import type { JobError } from '../../core/job.ts';
import type { QueryState } from '../../core/results.ts';
import { isTerminal } from '../../core/status.ts';
import type { SubmitRequest } from '../warehouse.ts';
import { DuckDBEngine } from './duckdb-engine.ts';
import type { EngineOptions } from './engine-protocol.ts';
import { openHardenedInstance } from './hardened-instance.ts';
import { ParquetResultWriter } from './parquet-result-writer.ts';
import { type TenantPaths, tenantPaths } from './tenants.ts';

/** How long to wait for the file lock of an engine that is still dying (its API process was killed). */
const LOCK_WAIT_MS = 5000;

/** One principal's open database: its hardened instance, its results writer, its engine. */
interface Tenant {
  paths: TenantPaths;
  engine: DuckDBEngine;
  results: ParquetResultWriter;
  /** Closes the tenant once it has been idle for idleCloseMs. */
  idleTimer: NodeJS.Timeout | null;
}

/** Every open database runs a job, so none can be closed to open another. */
class DatabaseLimitReached extends Error {}

/**
 * The engine process's tenants (tenants.ts): each principal's SQL runs in a DuckDB instance of its
 * own, hardened like every instance, whose allowed directories are the operator's data directories
 * and the principal's own results, and nothing else. Another principal's tables, results and
 * `result_scan` ids are not in reach: they are not there.
 *
 * Instances are opened on a principal's first job, kept in least-recently-used order, and closed
 * when idle for `idleCloseMs` or when the LRU needs room: at most `maxOpenDatabases` are open, each
 * within the configured memory limit. When every open one is running a job, a job for a principal
 * that has none open fails with WAREHOUSE_BUSY instead of waiting without end.
 */
export class TenantEngines {
  readonly #options: EngineOptions;
  readonly #onState: (queryId: string, state: QueryState) => void;
  /** Open tenants by key, least recently used first (a use moves one to the end). */
  readonly #open = new Map<string, Tenant>();
  readonly #opening = new Map<string, Promise<Tenant>>();
  /** Each unfinished query's tenant, so a cancel finds it; null while its tenant opens. */
  readonly #queries = new Map<string, Tenant | null>();
  /** Cancels of queries whose tenant is still opening. */
  readonly #cancelled = new Set<string>();
  #closed = false;

  constructor(options: EngineOptions, onState: (queryId: string, state: QueryState) => void) {
    this.#options = options;
    this.#onState = onState;
  }

  /** Opens a principal's database now (open mode's at start, so a locked file stops the start). */
  async open(owner: string): Promise<void> {
    await this.#tenant(tenantPaths(this.#options.layout, owner));
  }

  /** Runs a job in its owner's database, opening it first when it is not open. */
  async submit(request: SubmitRequest, queryId: string): Promise<void> {
    const paths = tenantPaths(this.#options.layout, request.owner);
    let tenant: Tenant;
    this.#queries.set(queryId, null);
    try {
      tenant = this.#open.get(paths.key) ?? (await this.#tenant(paths));
    } catch (error) {
      this.#queries.delete(queryId);
      this.#cancelled.delete(queryId);
      const now = new Date();
      this.#onState(queryId, { status: 'FAILED_WITH_ERROR', startedAt: null, endedAt: now, error: openError(error), progress: null, dml: null });
      return;
    }
    this.#touch(tenant);
    this.#queries.set(queryId, tenant);
    tenant.engine.submit(request, queryId);
    if (this.#cancelled.delete(queryId)) tenant.engine.cancel(queryId);
  }

  cancel(queryId: string): void {
    const tenant = this.#queries.get(queryId);
    if (tenant) tenant.engine.cancel(queryId);
    else if (tenant === null) this.#cancelled.add(queryId);
  }

  /** Interrupts every running query and closes every database (a checkpoint each). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled(this.#opening.values());
    const errors: unknown[] = [];
    for (const tenant of [...this.#open.values()]) {
      try {
        await this.#closeTenant(tenant);
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }

  #tenant(paths: TenantPaths): Promise<Tenant> {
    const open = this.#open.get(paths.key);
    if (open) return Promise.resolve(open);
    const opening = this.#opening.get(paths.key);
    if (opening) return opening;
    if (this.#closed) return Promise.reject(new Error('the engine is closing'));
    if (this.#open.size + this.#opening.size >= this.#options.maxOpenDatabases) this.#evictOne();
    const promise = this.#openTenant(paths).finally(() => this.#opening.delete(paths.key));
    this.#opening.set(paths.key, promise);
    return promise;
  }

  /** Closes the least recently used idle database, or throws when every one is busy. */
  #evictOne(): void {
    for (const tenant of this.#open.values()) {
      if (tenant.engine.activeQueries === 0) {
        void this.#closeTenant(tenant).catch(() => {});
        return;
      }
    }
    throw new DatabaseLimitReached(
      `Every open database of the embedded warehouse (JOBQL_DUCKDB_MAX_OPEN_DATABASES = ${this.#options.maxOpenDatabases}) ` +
        'is running another principal\'s job; submit again when one has finished',
    );
  }

  async #openTenant(paths: TenantPaths): Promise<Tenant> {
    const { hardening } = this.#options;
    const deadline = Date.now() + LOCK_WAIT_MS;
    let instance: DuckDBInstance;
    for (;;) {
      try {
        // The tenant's own results are the one directory of jobql's it may read (result_scan).
        instance = await openHardenedInstance({
          ...hardening,
          path: paths.database,
          allowedDirs: [...hardening.allowedDirs, paths.results],
        });
        break;
      } catch (error) {
        if (!/Could not set lock on file/.test(String(error)) || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    let results: ParquetResultWriter;
    try {
      results = new ParquetResultWriter(this.#options.layout, paths.key, instance);
    } catch (error) {
      instance.closeSync();
      throw error;
    }
    const engine = new DuckDBEngine(instance, results, this.#options.caps);
    const tenant: Tenant = { paths, engine, results, idleTimer: null };
    engine.onChange((queryId, state) => {
      if (isTerminal(state.status)) {
        this.#queries.delete(queryId);
        // The engine forgets a query after its final report, so it is idle once this returns.
        queueMicrotask(() => this.#armIdle(tenant));
      }
      this.#onState(queryId, state);
    });
    this.#open.set(paths.key, tenant);
    return tenant;
  }

  /** Marks a tenant as just used: last in LRU order, its idle timer off. */
  #touch(tenant: Tenant): void {
    this.#open.delete(tenant.paths.key);
    this.#open.set(tenant.paths.key, tenant);
    if (tenant.idleTimer) clearTimeout(tenant.idleTimer);
    tenant.idleTimer = null;
  }

  #armIdle(tenant: Tenant): void {
    if (this.#open.get(tenant.paths.key) !== tenant || tenant.engine.activeQueries > 0 || tenant.idleTimer) return;
    tenant.idleTimer = setTimeout(() => {
      tenant.idleTimer = null;
      if (tenant.engine.activeQueries === 0) void this.#closeTenant(tenant).catch(() => {});
    }, this.#options.idleCloseMs);
    tenant.idleTimer.unref();
  }

  async #closeTenant(tenant: Tenant): Promise<void> {
    if (this.#open.get(tenant.paths.key) !== tenant) return;
    this.#open.delete(tenant.paths.key);
    if (tenant.idleTimer) clearTimeout(tenant.idleTimer);
    try {
      await tenant.engine.close();
    } finally {
      tenant.results.close();
    }
  }
}

function openError(error: unknown): JobError {
  if (error instanceof DatabaseLimitReached) return { code: JobErrorCode.WAREHOUSE_BUSY, sqlState: '53000', message: error.message };
  const detail = error instanceof Error ? error.message : String(error);
  return { code: JobErrorCode.WAREHOUSE_ERROR, sqlState: null, message: `The principal's database could not be opened: ${detail}` };
}
