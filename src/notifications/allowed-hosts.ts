import { isIP } from 'node:net';

/**
 * The entries of JOBQL_WEBHOOK_ALLOWED_HOSTS: `host` or `host:port`, where host is a DNS name,
 * an IPv4 address or a bracketed IPv6 address. Hosts are compared in the WHATWG URL parser's
 * canonical form (lower case, punycode, IPv4 in dotted decimal, IPv6 compressed), so
 * `http://0x7f.1/` cannot slip past an entry by spelling 127.0.0.1 differently.
 *
 * An entry without a port allows only the scheme's default port (80 for http, 443 for https).
 */
export interface AllowedHost {
  /** Canonical, as `URL.hostname` spells it (IPv6 in brackets). */
  hostname: string;
  /** null: the default port of the URL's scheme. */
  port: number | null;
  kind: HostKind;
}

/**
 * How an address for the host is judged (address-policy.ts): an IP literal names the address
 * itself; `localhost` names the loopback interface; any other name is resolved.
 */
export type HostKind = 'ip' | 'localhost' | 'name';

const ENTRY = /^(\[[0-9a-fA-F:.]+\]|[^\s:/?#@[\]\\*]+)(?::(\d{1,5}))?$/;

/** Parses one entry; null when it is not a `host` or `host:port`. */
export function parseAllowedHost(entry: string): AllowedHost | null {
  const match = ENTRY.exec(entry.trim());
  if (!match) return null;
  const [, host = '', portText] = match;
  let hostname: string;
  try {
    hostname = new URL(`http://${host}/`).hostname;
  } catch {
    return null;
  }
  if (hostname === '') return null;
  const port = portText === undefined ? null : Number(portText);
  if (port !== null && (port < 1 || port > 65535)) return null;
  return { hostname, port, kind: hostKind(hostname) };
}

/** The kind of a canonical `URL.hostname`. */
export function hostKind(hostname: string): HostKind {
  if (isIP(bareHostname(hostname)) !== 0) return 'ip';
  return hostname === 'localhost' ? 'localhost' : 'name';
}

/** A hostname without the brackets of an IPv6 literal, as sockets and DNS want it. */
export function bareHostname(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

export function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80;
}

/** The port a URL connects to. */
export function portOf(url: URL): number {
  return url.port === '' ? defaultPort(url.protocol) : Number(url.port);
}

/** Whether some entry allows `url`'s host and port. */
export function isAllowedHost(url: URL, entries: readonly AllowedHost[]): boolean {
  const port = portOf(url);
  return entries.some((e) => e.hostname === url.hostname && (e.port ?? defaultPort(url.protocol)) === port);
}
