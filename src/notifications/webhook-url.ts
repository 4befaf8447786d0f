import { type HostKind, hostKind, isAllowedHost, parseAllowedHost, type AllowedHost } from './allowed-hosts.ts';
import type { WebhookConfig } from './webhook-config.ts';

/** Longer URLs are refused: a receiver needs no more, and the URL is stored with the job. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

export type WebhookUrlCheck = { ok: true; url: URL; kind: HostKind } | { ok: false; reason: string };

/**
 * Whether `url` may receive a job's webhook, checked at submit time (and again before each
 * delivery, so a host taken off the list stops receiving). `reason` is safe to show the caller:
 * it never lists the allow-list. Where the host's addresses may point is decided at delivery
 * (address-policy.ts), since DNS can change between the two.
 */
export function checkWebhookUrl(url: string, config: Pick<WebhookConfig, 'secret' | 'allowedHosts'>): WebhookUrlCheck {
  if (config.secret === null) return { ok: false, reason: 'webhooks are not enabled on this server' };
  if (url.length > MAX_WEBHOOK_URL_LENGTH) {
    return { ok: false, reason: `the webhook URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters` };
  }
  const parsed = URL.parse(url);
  if (!parsed) return { ok: false, reason: 'the webhook URL is not a valid absolute URL' };
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return { ok: false, reason: 'the webhook URL must be http or https' };
  }
  // Credentials in a URL end up in logs and stores; receivers authenticate us by the signature.
  if (parsed.username !== '' || parsed.password !== '') {
    return { ok: false, reason: 'the webhook URL must not contain a user name or password' };
  }
  if (!isAllowedHost(parsed, allowList(config.allowedHosts))) {
    return { ok: false, reason: `the webhook host ${parsed.host} is not allowed on this server` };
  }
  // Never sent anyway; dropped so the stored URL is what is requested.
  parsed.hash = '';
  return { ok: true, url: parsed, kind: hostKind(parsed.hostname) };
}

/** Entries that do not parse allow nothing (webhookConfigFromEnv refuses them at start). */
function allowList(entries: readonly string[]): AllowedHost[] {
  return entries.map(parseAllowedHost).filter((e): e is AllowedHost => e !== null);
}
