import { lookup } from 'node:dns/promises';
import { type AddressClass, classifyAddress } from './address-class.ts';
import { bareHostname, type HostKind } from './allowed-hosts.ts';

/** Every address a host name has. */
export type Resolver = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

/** The system's resolver (getaddrinfo: /etc/hosts, then DNS), every address, in its order. */
export const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true, order: 'verbatim' });

export type AddressChoice = { ok: true; address: string; family: 4 | 6 } | { ok: false; reason: string };

/**
 * The SSRF rule: which address a delivery to `url` may connect to, decided afresh before each
 * attempt. Every address the name has must pass, not only the one used, so a name cannot mix a
 * public address with an internal one; the request then connects to the address checked here
 * (never resolving again), so a rebinding DNS answer cannot swap it.
 *
 *   an IP literal on the allow-list    that address, unless it is unroutable (multicast, ...):
 *                                      the operator named it
 *   `localhost` on the allow-list      loopback addresses only
 *   any other name                     public addresses only; with allowPrivateNetworks also
 *                                      RFC 1918 and fc00::/7, never loopback, link-local,
 *                                      carrier-grade NAT or metadata addresses
 */
export async function chooseAddress(
  url: URL,
  kind: HostKind,
  allowPrivateNetworks: boolean,
  resolve: Resolver,
): Promise<AddressChoice> {
  const host = bareHostname(url.hostname);
  const addresses = kind === 'ip' ? [{ address: host, family: host.includes(':') ? 6 : 4 }] : await resolve(host);
  const first = addresses[0];
  if (!first) return { ok: false, reason: `${host} has no address` };
  for (const { address } of addresses) {
    const info = classifyAddress(address);
    if (!info) return { ok: false, reason: `${host} resolved to ${address}, which is not an IP address` };
    if (!permitted(kind, info.class, allowPrivateNetworks)) {
      const what = kind === 'ip' ? address : `${host} resolves to ${address}`;
      return { ok: false, reason: `${what} (${info.description}), which webhooks may not reach` };
    }
  }
  return { ok: true, address: first.address, family: first.family === 6 ? 6 : 4 };
}

function permitted(kind: HostKind, cls: AddressClass, allowPrivateNetworks: boolean): boolean {
  switch (kind) {
    case 'ip':
      return cls !== 'unroutable';
    case 'localhost':
      return cls === 'loopback';
    case 'name':
      return cls === 'public' || (allowPrivateNetworks && cls === 'private');
  }
}
