import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type snowflake from 'snowflake-sdk';
import { parse as parseToml } from 'smol-toml';

/**
 * Settings that cannot make a Snowflake connection; the message says which and why, in the
 * `Invalid configuration:` form. config.ts reports it as a SnowflakeOptionsError.
 */
export class SnowflakeOptionsError extends Error {}

/**
 * snowflake-sdk, loaded only when a connections.toml is read: config.ts imports this module on
 * every start, and the embedded warehouse never needs the driver.
 */
function snowflakeSdk(): typeof snowflake {
  return createRequire(import.meta.url)('snowflake-sdk') as typeof snowflake;
}

/** Where the connection options came from, for the start-up log (never the secrets). */
export interface SnowflakeConnectionSettings {
  options: snowflake.ConnectionOptions;
  source: string;
  /**
   * The identities principals may run as (Principal.runAs), by name: every named connection of
   * connections.toml, each the service connection's account and place with its own user, role
   * and credentials. Empty without a connections.toml.
   */
  identities?: ReadonlyMap<string, snowflake.ConnectionOptions>;
}

/** What an identity's own connection replaces of the service connection: who it is. */
const IDENTITY_OPTIONS = ['username', 'password', 'authenticator', 'privateKey', 'privateKeyPath', 'privateKeyPass', 'token', 'role'];

/** Environment variables with the Snowflake option each sets; they override connections.toml. */
const ENV_OPTIONS: readonly [string, string][] = [
  ['SNOWFLAKE_ACCOUNT', 'account'],
  ['SNOWFLAKE_USER', 'username'],
  ['SNOWFLAKE_PASSWORD', 'password'],
  ['SNOWFLAKE_AUTHENTICATOR', 'authenticator'],
  ['SNOWFLAKE_PRIVATE_KEY_PATH', 'privateKeyPath'],
  ['SNOWFLAKE_PRIVATE_KEY_PASSPHRASE', 'privateKeyPass'],
  ['SNOWFLAKE_TOKEN', 'token'],
  ['SNOWFLAKE_WAREHOUSE', 'warehouse'],
  ['SNOWFLAKE_DATABASE', 'database'],
  ['SNOWFLAKE_SCHEMA', 'schema'],
  ['SNOWFLAKE_ROLE', 'role'],
  ['SNOWFLAKE_ACCESS_URL', 'accessUrl'],
  ['SNOWFLAKE_HOST', 'host'],
  ['SNOWFLAKE_PROTOCOL', 'protocol'],
];

/**
 * The snowflake-sdk connection options, from a named connection of `connections.toml` (as
 * Snowflake's own tools find it: `$SNOWFLAKE_HOME/connections.toml`, default `~/.snowflake`, the
 * connection named by `SNOWFLAKE_DEFAULT_CONNECTION_NAME` or `default`) overlaid with the
 * `SNOWFLAKE_*` environment variables. The file is read only when it exists or is asked for.
 */
export function snowflakeConnectionOptions(env: NodeJS.ProcessEnv = process.env): SnowflakeConnectionSettings {
  const fromFile = readConnectionsToml(env);
  const options: Record<string, unknown> = { ...(fromFile?.options ?? {}) };
  const fromEnv: string[] = [];
  for (const [name, option] of ENV_OPTIONS) {
    const value = env[name];
    if (value !== undefined && value !== '') {
      options[option] = value;
      fromEnv.push(name);
    }
  }
  if (env['SNOWFLAKE_PORT']) {
    const port = Number(env['SNOWFLAKE_PORT']);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new SnowflakeOptionsError(`Invalid configuration:\n  SNOWFLAKE_PORT=${JSON.stringify(env['SNOWFLAKE_PORT'])}: not a port`);
    }
    options['port'] = port;
    fromEnv.push('SNOWFLAKE_PORT');
  }
  if (options['privateKeyPath'] && !options['authenticator']) options['authenticator'] = 'SNOWFLAKE_JWT';
  const missing = [
    options['account'] || options['accessUrl'] ? null : 'SNOWFLAKE_ACCOUNT (or SNOWFLAKE_ACCESS_URL)',
    options['username'] ? null : 'SNOWFLAKE_USER',
    options['password'] || options['privateKeyPath'] || options['privateKey'] || options['token']
      ? null
      : 'SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH',
  ].filter((m): m is string => m !== null);
  if (missing.length > 0) {
    throw new SnowflakeOptionsError(
      `Invalid configuration:\n  JOBQL_WAREHOUSE=snowflake needs ${missing.join(', ')}, ` +
        `from the environment or a connection in ${connectionsTomlPath(env)}`,
    );
  }
  // The account name is only used to build the host name, which an access URL replaces.
  if (!options['account']) options['account'] = 'jobql';
  const sources = [fromFile?.source, fromEnv.length > 0 ? `environment (${fromEnv.join(', ')})` : null];
  const identities = new Map<string, snowflake.ConnectionOptions>();
  for (const [name, table] of Object.entries(fromFile?.tables ?? {})) {
    const identity: Record<string, unknown> = { ...options };
    for (const key of IDENTITY_OPTIONS) delete identity[key];
    Object.assign(identity, table);
    if (identity['privateKeyPath'] && !identity['authenticator']) identity['authenticator'] = 'SNOWFLAKE_JWT';
    identities.set(name, identity as snowflake.ConnectionOptions);
  }
  return { options: options as snowflake.ConnectionOptions, source: sources.filter(Boolean).join(' + '), identities };
}

function connectionsTomlPath(env: NodeJS.ProcessEnv): string {
  return path.join(env['SNOWFLAKE_HOME'] || path.join(os.homedir(), '.snowflake'), 'connections.toml');
}

function readConnectionsToml(
  env: NodeJS.ProcessEnv,
): { options: Record<string, unknown>; source: string; tables: Record<string, Record<string, unknown>> } | null {
  const file = connectionsTomlPath(env);
  const name = env['SNOWFLAKE_DEFAULT_CONNECTION_NAME'];
  let text: string;
  try {
    // Like Snowflake's tools, refuse credentials that other users can read.
    if (process.platform !== 'win32' && (fs.statSync(file).mode & 0o077) !== 0) {
      throw new SnowflakeOptionsError(
        `Invalid configuration:\n  ${file} is readable by other users; run: chmod 0600 ${JSON.stringify(file)}`,
      );
    }
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof SnowflakeOptionsError) throw error;
    if (name) throw new SnowflakeOptionsError(`Invalid configuration:\n  SNOWFLAKE_DEFAULT_CONNECTION_NAME is set but ${file} cannot be read`);
    return null;
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = parseToml(text);
  } catch (error) {
    throw new SnowflakeOptionsError(`Invalid configuration:\n  ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const chosen = name || 'default';
  const tables: Record<string, Record<string, unknown>> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      tables[key] = snowflakeSdk().normalizeConnectionOptions(value as Record<string, unknown>) as Record<string, unknown>;
    }
  }
  const table = parsed[chosen];
  if (table === undefined) {
    if (name) throw new SnowflakeOptionsError(`Invalid configuration:\n  ${file} has no connection named ${JSON.stringify(name)}`);
    return { options: {}, source: '', tables };
  }
  if (typeof table !== 'object' || table === null || Array.isArray(table)) {
    throw new SnowflakeOptionsError(`Invalid configuration:\n  ${file}: [${chosen}] is not a table`);
  }
  return { options: tables[chosen] ?? {}, source: `${file} [${chosen}]`, tables };
}
