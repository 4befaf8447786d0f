/** A throwaway PostgreSQL database for the scale suites (npm run test:scale). */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const DEFAULT_TEST_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** Connection string of the fresh database. */
  url: string;
  /** Drops the database, closing whatever connections are still open on it. */
  drop(): Promise<void>;
}

/** The admin URL without its password, for messages. */
function shown(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable JOBQL_TEST_POSTGRES_URL)';
  }
}

async function adminClient(adminUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (cause) {
    await client.end().catch(() => undefined);
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new Error(
      `PostgreSQL at ${shown(adminUrl)} is required for npm run test:scale, and connecting failed (${reason}). ` +
        'Start PostgreSQL there (trust auth for the postgres role) or set JOBQL_TEST_POSTGRES_URL to a server ' +
        'whose role may CREATE DATABASE.',
      { cause },
    );
  }
  return client;
}

/**
 * Creates `jobql_test_<random>` on the server of JOBQL_TEST_POSTGRES_URL (default: the local
 * postgres role, trust auth). Throws, never skips, when PostgreSQL is not there.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env['JOBQL_TEST_POSTGRES_URL'] || DEFAULT_TEST_POSTGRES_URL;
  const name = `jobql_test_${randomBytes(6).toString('hex')}`;
  const admin = await adminClient(adminUrl);
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    async drop(): Promise<void> {
      if (dropped) return;
      dropped = true;
      const client = await adminClient(adminUrl);
      try {
        await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
