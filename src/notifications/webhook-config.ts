import { parseAllowedHost } from './allowed-hosts.ts';

/**
 * The completion-webhook settings. Built by `webhookConfigFromEnv` from the JOBQL_WEBHOOK_*
 * variables (or by hand in tests). Webhooks are off unless a secret is set.
 */
export interface WebhookConfig {
  /** JOBQL_WEBHOOK_SECRET, the HMAC key (its UTF-8 text); null: webhooks are off, submit refuses `notify`. */
  secret: string | null;
  /** JOBQL_WEBHOOK_SECRET_PREVIOUS: during a rotation deliveries carry a signature by each key. */
  previousSecret: string | null;
  /** JOBQL_WEBHOOK_ALLOWED_HOSTS: `host` or `host:port` entries (allowed-hosts.ts). */
  allowedHosts: readonly string[];
  /**
   * JOBQL_WEBHOOK_ALLOW_PRIVATE_NETWORKS: a host name on the list may resolve to an RFC 1918 or
   * fc00::/7 address. Never loopback, link-local, carrier-grade NAT or metadata addresses: only
   * an IP literal entry (or `localhost`) reaches those.
   */
  allowPrivateNetworks: boolean;
  /** How long after its first attempt a delivery is retried; then it is given up. */
  retryForMs: number;
  /** One attempt, DNS lookup, connect and response headers together. */
  attemptTimeoutMs: number;
  /** Exponential backoff with full jitter: the wait after attempt n is random in [0, min(max, initial·2^(n-1))). */
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * Defaults. 24 hours of retries is the default result lifetime (JOBQL_RESULT_TTL_SECONDS): a
 * notification later than that announces a result that is already gone. A 30-minute cap on the
 * wait keeps a dead receiver to about a hundred attempts (and store writes) a day per job,
 * while one that comes back hears within 15 minutes on average.
 */
export const WEBHOOK_DEFAULTS = {
  retryForMs: 24 * 3600_000,
  attemptTimeoutMs: 10_000,
  initialBackoffMs: 1_000,
  maxBackoffMs: 30 * 60_000,
} as const;

/** HMAC-SHA256 keys shorter than this are guessable offline from one signed delivery. */
export const MIN_SECRET_LENGTH = 32;

export class WebhookConfigError extends Error {}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and validates JOBQL_WEBHOOK_*; throws WebhookConfigError listing every problem (secrets never shown). */
export function webhookConfigFromEnv(env: Env): WebhookConfig {
  const problems: string[] = [];
  const text = (name: string): string | null => {
    const value = env[name]?.trim();
    return value ? value : null;
  };
  const secretOf = (name: string): string | null => {
    const value = text(name);
    if (value !== null && value.length < MIN_SECRET_LENGTH) {
      problems.push(`${name}=<redacted>: at least ${MIN_SECRET_LENGTH} characters, e.g. \`openssl rand -hex 32\``);
    }
    return value;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const value = text(name);
    if (value === null) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}=${JSON.stringify(value)}: an integer from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };

  const secret = secretOf('JOBQL_WEBHOOK_SECRET');
  const previousSecret = secretOf('JOBQL_WEBHOOK_SECRET_PREVIOUS');
  const hostsText = text('JOBQL_WEBHOOK_ALLOWED_HOSTS') ?? '';
  const allowedHosts: string[] = [];
  for (const entry of hostsText.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const host = parseAllowedHost(entry);
    if (!host) {
      problems.push(`JOBQL_WEBHOOK_ALLOWED_HOSTS: ${JSON.stringify(entry)} is not a host or host:port (no scheme, path or wildcard)`);
    } else {
      allowedHosts.push(host.port === null ? host.hostname : `${host.hostname}:${host.port}`);
    }
  }
  const privateText = text('JOBQL_WEBHOOK_ALLOW_PRIVATE_NETWORKS') ?? 'false';
  if (!['true', 'false', '1', '0'].includes(privateText)) {
    problems.push(`JOBQL_WEBHOOK_ALLOW_PRIVATE_NETWORKS=${JSON.stringify(privateText)}: true or false`);
  }
  const retryForSeconds = int('JOBQL_WEBHOOK_RETRY_FOR_SECONDS', WEBHOOK_DEFAULTS.retryForMs / 1000, 0, 7 * 86_400);
  const attemptTimeoutMs = int('JOBQL_WEBHOOK_ATTEMPT_TIMEOUT_MS', WEBHOOK_DEFAULTS.attemptTimeoutMs, 100, 60_000);
  const initialBackoffMs = int('JOBQL_WEBHOOK_INITIAL_BACKOFF_MS', WEBHOOK_DEFAULTS.initialBackoffMs, 1, 3_600_000);
  const maxBackoffMs = int('JOBQL_WEBHOOK_MAX_BACKOFF_MS', WEBHOOK_DEFAULTS.maxBackoffMs, 1, 6 * 3_600_000);

  if (maxBackoffMs < initialBackoffMs) problems.push('JOBQL_WEBHOOK_MAX_BACKOFF_MS must not be below JOBQL_WEBHOOK_INITIAL_BACKOFF_MS');
  // Settings that would silently do nothing are mistakes: say so at start.
  if (secret !== null && allowedHosts.length === 0 && hostsText === '') {
    problems.push('JOBQL_WEBHOOK_ALLOWED_HOSTS is required with JOBQL_WEBHOOK_SECRET: the hosts webhooks may be sent to');
  }
  if (secret === null && (hostsText !== '' || previousSecret !== null)) {
    problems.push('JOBQL_WEBHOOK_SECRET is not set, so webhooks are off: set it, or unset the other JOBQL_WEBHOOK_* variables');
  }
  if (problems.length > 0) throw new WebhookConfigError(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return {
    secret,
    previousSecret,
    allowedHosts,
    allowPrivateNetworks: privateText === 'true' || privateText === '1',
    retryForMs: retryForSeconds * 1000,
    attemptTimeoutMs,
    initialBackoffMs,
    maxBackoffMs,
  };
}
