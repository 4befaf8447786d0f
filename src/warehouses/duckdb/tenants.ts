import { createHash } from 'node:crypto';
import path from 'node:path';
import { LOCAL_PRINCIPAL } from '../../core/principal.ts';

/**
 * Where each principal's SQL lives on the embedded warehouse. Every principal is a tenant with a
 * database file and a results directory of its own, and its SQL runs in a DuckDB instance that can
 * reach only those (tenant-engines.ts): another tenant's tables, results and files are not there
 * to be found. Open mode's single principal keeps the paths jobql used before tenants existed, so
 * a database made in open mode keeps working across the upgrade.
 *
 * Both processes use this: the engine to open a tenant, the API process to find a result's file.
 */
export interface TenantLayout {
  /** Open mode's database (JOBQL_DUCKDB_PATH, by default `<data dir>/warehouse.duckdb`). */
  localDatabase: string;
  /** `<data dir>/results`: results.sqlite (every tenant's metadata) and open mode's result files. */
  resultsDir: string;
  /** `<data dir>/tenants`: one directory per other principal, named by its key. */
  tenantsDir: string;
}

export interface TenantPaths {
  /** '' for open mode's principal; otherwise `t` and 32 hex digits of the principal id's SHA-256. */
  key: string;
  database: string;
  results: string;
}

/**
 * A principal's key: a hash, so that no principal id (a JWT subject, an API key's name) becomes
 * a path, and the directory names say nothing about who owns them.
 */
export function tenantKey(owner: string): string {
  if (owner === LOCAL_PRINCIPAL.id) return '';
  return `t${createHash('sha256').update(owner).digest('hex').slice(0, 32)}`;
}

/** The results directory of a tenant key (as stored beside each result in results.sqlite). */
export function resultsDirOf(layout: TenantLayout, key: string): string {
  return key === '' ? layout.resultsDir : path.join(layout.tenantsDir, key, 'results');
}

export function tenantPaths(layout: TenantLayout, owner: string): TenantPaths {
  const key = tenantKey(owner);
  return {
    key,
    database: key === '' ? layout.localDatabase : path.join(layout.tenantsDir, key, 'warehouse.duckdb'),
    results: resultsDirOf(layout, key),
  };
}
