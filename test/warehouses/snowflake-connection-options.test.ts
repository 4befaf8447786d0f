/**
 * Snowflake connection options: from SNOWFLAKE_* variables, from a named connection of
 * connections.toml, the two combined, and the clear refusals.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { snowflakeConnectionOptions, SnowflakeOptionsError } from '../../src/warehouses/snowflake/connection-options.ts';
import { tempDir } from '../helpers/server.ts';

function home(toml: string | null, mode = 0o600): string {
  const dir = tempDir('jobql-sfhome-');
  if (toml !== null) {
    fs.writeFileSync(path.join(dir, 'connections.toml'), toml);
    fs.chmodSync(path.join(dir, 'connections.toml'), mode);
  }
  return dir;
}

const TOML = `
[default]
account = "myorg-default"
user = "ALICE"
password = "from-file"
warehouse = "WH"

[keypair]
account = "myorg-keys"
user = "SVC"
private_key_file = "/keys/svc.p8"
role = "JOBQL_ROLE"
`;

describe('Snowflake connection options', () => {
  test('from environment variables, with key-pair authentication chosen by the key path', () => {
    const { options, source } = snowflakeConnectionOptions({
      SNOWFLAKE_HOME: home(null),
      SNOWFLAKE_ACCOUNT: 'acme-prod',
      SNOWFLAKE_USER: 'JOBQL',
      SNOWFLAKE_PRIVATE_KEY_PATH: '/run/secrets/k.p8',
      SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: 'pw',
      SNOWFLAKE_WAREHOUSE: 'WH',
      SNOWFLAKE_DATABASE: 'DB',
      SNOWFLAKE_SCHEMA: 'PUBLIC',
      SNOWFLAKE_ROLE: 'R',
      SNOWFLAKE_HOST: 'snowflake.internal',
      SNOWFLAKE_PORT: '8443',
      SNOWFLAKE_PROTOCOL: 'https',
    });
    assert.deepEqual(
      { ...options },
      {
        account: 'acme-prod',
        username: 'JOBQL',
        privateKeyPath: '/run/secrets/k.p8',
        privateKeyPass: 'pw',
        authenticator: 'SNOWFLAKE_JWT',
        warehouse: 'WH',
        database: 'DB',
        schema: 'PUBLIC',
        role: 'R',
        host: 'snowflake.internal',
        port: 8443,
        protocol: 'https',
      },
    );
    assert.match(source, /^environment/);
  });

  test('the default connection of connections.toml, overridden by variables that are set', () => {
    const { options, source } = snowflakeConnectionOptions({ SNOWFLAKE_HOME: home(TOML), SNOWFLAKE_WAREHOUSE: 'OTHER_WH' });
    assert.equal(options.account, 'myorg-default');
    assert.equal(options.username, 'ALICE');
    assert.equal(options.password, 'from-file');
    assert.equal(options.warehouse, 'OTHER_WH');
    assert.match(source, /connections\.toml \[default\] \+ environment \(SNOWFLAKE_WAREHOUSE\)/);
  });

  test('a named connection, with the CLI key names mapped to the driver options', () => {
    const { options } = snowflakeConnectionOptions({ SNOWFLAKE_HOME: home(TOML), SNOWFLAKE_DEFAULT_CONNECTION_NAME: 'keypair' });
    assert.equal(options.account, 'myorg-keys');
    assert.equal(options.privateKeyPath, '/keys/svc.p8');
    assert.equal(options.authenticator, 'SNOWFLAKE_JWT');
    assert.equal(options.role, 'JOBQL_ROLE');
  });

  test('refusals name what is wrong', () => {
    assert.throws(() => snowflakeConnectionOptions({ SNOWFLAKE_HOME: home(null) }), (error: unknown) => {
      assert.ok(error instanceof SnowflakeOptionsError);
      assert.match(error.message, /SNOWFLAKE_ACCOUNT.*SNOWFLAKE_USER.*SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH/s);
      return true;
    });
    assert.throws(
      () => snowflakeConnectionOptions({ SNOWFLAKE_HOME: home(TOML), SNOWFLAKE_DEFAULT_CONNECTION_NAME: 'nope' }),
      /has no connection named "nope"/,
    );
    assert.throws(() => snowflakeConnectionOptions({ SNOWFLAKE_HOME: home(TOML, 0o644) }), /readable by other users/);
    assert.throws(() => snowflakeConnectionOptions({ SNOWFLAKE_HOME: home('[default\nbroken') }), SnowflakeOptionsError);
    assert.throws(
      () => snowflakeConnectionOptions({ SNOWFLAKE_HOME: home(null), SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', SNOWFLAKE_PASSWORD: 'p', SNOWFLAKE_PORT: '99999' }),
      /SNOWFLAKE_PORT/,
    );
  });

  test('loadConfig reports a refusal as a ConfigError, with the same message', () => {
    assert.throws(
      () => loadConfig({ JOBQL_WAREHOUSE: 'snowflake', SNOWFLAKE_HOME: home(null) }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /^Invalid configuration:\n {2}JOBQL_WAREHOUSE=snowflake needs SNOWFLAKE_ACCOUNT/);
        return true;
      },
    );
  });
});
