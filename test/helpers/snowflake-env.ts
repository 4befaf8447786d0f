import type { SnowflakeDouble } from '../snowflake-double/server.ts';

/**
 * The environment of a jobql server on the Snowflake warehouse, talking to the wire double as its
 * default user. `home` is SNOWFLAKE_HOME: no connections.toml of the machine's user leaks in.
 */
export function snowflakeServerEnv(double: SnowflakeDouble, home: string): Record<string, string> {
  return {
    JOBQL_POLL_BACKOFF_MS: '50,100,200',
    JOBQL_WAREHOUSE: 'snowflake',
    SNOWFLAKE_ACCESS_URL: double.url,
    SNOWFLAKE_ACCOUNT: 'testaccount',
    SNOWFLAKE_USER: 'jobql',
    SNOWFLAKE_PASSWORD: 'secret',
    SNOWFLAKE_HOME: home,
  };
}
