/**
 * Who makes a request. Every job belongs to the principal that submitted it; only that principal,
 * or one with the admin scope, may see it, cancel it, read its result or follow it.
 */
export interface Principal {
  /** Stable and unique across kinds: `user:<sub>` (JWT), `key:<name>` (API key), `local` (open mode). */
  readonly id: string;
  /** Sees every job and may attach queries started elsewhere. */
  readonly admin: boolean;
  /** When the credentials stop being valid (a JWT's `exp`); null for API keys and open mode. */
  readonly expiresAt: Date | null;
  /**
   * The warehouse identity the principal's SQL runs as (on Snowflake, a named connection of
   * connections.toml), from a JWT claim or the configured mapping; null or absent for the
   * warehouse's one configured identity.
   */
  readonly runAs?: string | null;
}

/** How principals map to warehouse identities (JOBQL_SNOWFLAKE_IDENTITY_CLAIM, JOBQL_SNOWFLAKE_IDENTITIES). */
export interface RunAsMapping {
  /** A JWT claim whose string value names the identity; null for none. */
  claim: string | null;
  /** Principal id → identity, for API keys and JWT subjects without the claim. */
  byPrincipal: ReadonlyMap<string, string>;
}

/** The one principal of open mode: local use, no authentication, sees everything. */
export const LOCAL_PRINCIPAL: Principal = { id: 'local', admin: true, expiresAt: null };

/** Whether `principal` may see a job owned by `owner`. */
export function mayAccess(principal: Principal, owner: string): boolean {
  return principal.admin || principal.id === owner;
}
