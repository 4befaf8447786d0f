import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WEBHOOK_DEFAULTS, WebhookConfigError, webhookConfigFromEnv } from '../../src/notifications/webhook-config.ts';

const SECRET = 'a-webhook-secret-of-32-characters!';

test('nothing set: webhooks are off, with the defaults', () => {
  assert.deepEqual(webhookConfigFromEnv({}), {
    secret: null,
    previousSecret: null,
    allowedHosts: [],
    allowPrivateNetworks: false,
    ...WEBHOOK_DEFAULTS,
  });
});

test('every variable is read, and allow-list entries are normalised', () => {
  const config = webhookConfigFromEnv({
    JOBQL_WEBHOOK_SECRET: SECRET,
    JOBQL_WEBHOOK_SECRET_PREVIOUS: `${SECRET}-old`,
    JOBQL_WEBHOOK_ALLOWED_HOSTS: ' Hooks.Example.com , hooks.example.com:8443,[0::1]:9000,,10.0.0.5 ',
    JOBQL_WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    JOBQL_WEBHOOK_RETRY_FOR_SECONDS: '3600',
    JOBQL_WEBHOOK_ATTEMPT_TIMEOUT_MS: '5000',
    JOBQL_WEBHOOK_INITIAL_BACKOFF_MS: '500',
    JOBQL_WEBHOOK_MAX_BACKOFF_MS: '60000',
  });
  assert.deepEqual(config, {
    secret: SECRET,
    previousSecret: `${SECRET}-old`,
    allowedHosts: ['hooks.example.com', 'hooks.example.com:8443', '[::1]:9000', '10.0.0.5'],
    allowPrivateNetworks: true,
    retryForMs: 3_600_000,
    attemptTimeoutMs: 5000,
    initialBackoffMs: 500,
    maxBackoffMs: 60_000,
  });
});

test('bad values are all reported, and a secret is never repeated', () => {
  const short = 'too-short-secret';
  assert.throws(
    () =>
      webhookConfigFromEnv({
        JOBQL_WEBHOOK_SECRET: short,
        JOBQL_WEBHOOK_ALLOWED_HOSTS: 'https://hooks.example.com/x,*.example.com',
        JOBQL_WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'yes',
        JOBQL_WEBHOOK_RETRY_FOR_SECONDS: '999999999',
        JOBQL_WEBHOOK_ATTEMPT_TIMEOUT_MS: 'soon',
      }),
    (error: unknown) => {
      assert.ok(error instanceof WebhookConfigError);
      const text = error.message;
      assert.match(text, /JOBQL_WEBHOOK_SECRET=<redacted>: at least 32 characters/);
      assert.match(text, /"https:\/\/hooks\.example\.com\/x" is not a host or host:port/);
      assert.match(text, /"\*\.example\.com" is not a host/);
      assert.match(text, /JOBQL_WEBHOOK_ALLOW_PRIVATE_NETWORKS="yes"/);
      assert.match(text, /JOBQL_WEBHOOK_RETRY_FOR_SECONDS="999999999": an integer from 0 to 604800/);
      assert.match(text, /JOBQL_WEBHOOK_ATTEMPT_TIMEOUT_MS="soon"/);
      assert.doesNotMatch(text, new RegExp(short));
      return true;
    },
  );
});

test('settings that would do nothing are refused: a secret without hosts, hosts without a secret', () => {
  assert.throws(() => webhookConfigFromEnv({ JOBQL_WEBHOOK_SECRET: SECRET }), /JOBQL_WEBHOOK_ALLOWED_HOSTS is required/);
  assert.throws(() => webhookConfigFromEnv({ JOBQL_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com' }), /JOBQL_WEBHOOK_SECRET is not set/);
  assert.throws(() => webhookConfigFromEnv({ JOBQL_WEBHOOK_SECRET_PREVIOUS: SECRET }), /JOBQL_WEBHOOK_SECRET is not set/);
  assert.throws(
    () =>
      webhookConfigFromEnv({
        JOBQL_WEBHOOK_SECRET: SECRET,
        JOBQL_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com',
        JOBQL_WEBHOOK_INITIAL_BACKOFF_MS: '5000',
        JOBQL_WEBHOOK_MAX_BACKOFF_MS: '1000',
      }),
    /MAX_BACKOFF_MS must not be below/,
  );
});
