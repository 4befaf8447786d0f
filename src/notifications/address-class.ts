import { isIPv4, isIPv6 } from 'node:net';

/**
 * What kind of destination an IP address is, for the SSRF rules of address-policy.ts. Only
 * `public` addresses are reachable by a host name on the allow-list; the others need the
 * allow-list to name the address itself (or `localhost`, or the private-network opt-in).
 *
 *   public      globally routable unicast
 *   private     RFC 1918, IPv6 unique local (fc00::/7)
 *   shared      carrier-grade NAT (100.64.0.0/10): another party's network, and home of some
 *               cloud metadata services, so the private-network opt-in does not cover it
 *   loopback    127.0.0.0/8, ::1
 *   link-local  169.254.0.0/16 (cloud metadata at 169.254.169.254), fe80::/10
 *   metadata    a cloud metadata address outside the ranges above (AWS fd00:ec2::254)
 *   special     not global: documentation, benchmarking, protocol assignments, deprecated ranges
 *   unroutable  unspecified, multicast, broadcast, reserved: never a webhook receiver
 */
export type AddressClass =
  | 'public'
  | 'private'
  | 'shared'
  | 'loopback'
  | 'link-local'
  | 'metadata'
  | 'special'
  | 'unroutable';

export interface AddressInfo {
  class: AddressClass;
  /** For messages: the range's name, and the IPv4 address an IPv6 form embeds. */
  description: string;
}

interface Range {
  bytes: readonly number[];
  prefix: number;
  class: AddressClass;
  name: string;
}

const v4 = (text: string, prefix: number, cls: AddressClass, name: string): Range => ({
  bytes: ipv4Bytes(text)!,
  prefix,
  class: cls,
  name,
});
const v6 = (text: string, prefix: number, cls: AddressClass, name: string): Range => ({
  bytes: ipv6Bytes(text)!,
  prefix,
  class: cls,
  name,
});

/** IANA's special-purpose registries, trimmed to what matters for a destination; longest prefix wins. */
const IPV4_RANGES: readonly Range[] = [
  v4('0.0.0.0', 8, 'unroutable', 'unspecified, "this network"'),
  v4('10.0.0.0', 8, 'private', 'private, RFC 1918'),
  v4('100.64.0.0', 10, 'shared', 'carrier-grade NAT, RFC 6598'),
  v4('127.0.0.0', 8, 'loopback', 'loopback'),
  v4('169.254.0.0', 16, 'link-local', 'link-local, where cloud metadata lives'),
  v4('172.16.0.0', 12, 'private', 'private, RFC 1918'),
  v4('192.0.0.0', 24, 'special', 'IETF protocol assignments'),
  v4('192.0.2.0', 24, 'special', 'documentation, TEST-NET-1'),
  v4('192.88.99.0', 24, 'special', 'deprecated 6to4 relay'),
  v4('192.168.0.0', 16, 'private', 'private, RFC 1918'),
  v4('198.18.0.0', 15, 'special', 'benchmarking'),
  v4('198.51.100.0', 24, 'special', 'documentation, TEST-NET-2'),
  v4('203.0.113.0', 24, 'special', 'documentation, TEST-NET-3'),
  v4('224.0.0.0', 4, 'unroutable', 'multicast'),
  v4('240.0.0.0', 4, 'unroutable', 'reserved or broadcast'),
];

const IPV6_RANGES: readonly Range[] = [
  v6('::', 128, 'unroutable', 'unspecified'),
  v6('::1', 128, 'loopback', 'loopback'),
  // The rest of ::/8 is reserved; ::ffff:0:0/96 (IPv4-mapped) is handled before this table.
  v6('::', 8, 'unroutable', 'reserved, incl. IPv4-compatible'),
  v6('64:ff9b:1::', 48, 'special', 'local-use NAT64'),
  v6('100::', 64, 'special', 'discard-only'),
  v6('2001::', 23, 'special', 'IETF protocol assignments, incl. Teredo'),
  v6('2001:db8::', 32, 'special', 'documentation'),
  v6('3fff::', 20, 'special', 'documentation'),
  v6('5f00::', 16, 'special', 'segment routing'),
  v6('fc00::', 7, 'private', 'unique local, fc00::/7'),
  v6('fd00:ec2::254', 128, 'metadata', 'cloud metadata, AWS'),
  v6('fe80::', 10, 'link-local', 'link-local'),
  v6('fec0::', 10, 'special', 'deprecated site-local'),
  v6('ff00::', 8, 'unroutable', 'multicast'),
];

/** IPv6 forms that carry an IPv4 address, which then decides: where its four bytes sit. */
const EMBEDDING_V4: readonly { range: Range; offset: number }[] = [
  { range: v6('::ffff:0:0', 96, 'special', 'IPv4-mapped'), offset: 12 },
  { range: v6('64:ff9b::', 96, 'special', 'NAT64'), offset: 12 },
  { range: v6('2002::', 16, 'special', '6to4'), offset: 2 },
];

/** Classifies an IPv4 or IPv6 address in text form (an IPv6 zone, `%eth0`, is ignored); null if not one. */
export function classifyAddress(address: string): AddressInfo | null {
  const four = ipv4Bytes(address);
  if (four) return lookupRange(four, IPV4_RANGES);
  const six = ipv6Bytes(address);
  if (!six) return null;
  for (const { range, offset } of EMBEDDING_V4) {
    if (!inRange(six, range)) continue;
    const embedded = six.slice(offset, offset + 4);
    const inner = lookupRange(embedded, IPV4_RANGES);
    return { class: inner.class, description: `${range.name} form of ${embedded.join('.')}, ${inner.description}` };
  }
  return lookupRange(six, IPV6_RANGES);
}

function lookupRange(bytes: readonly number[], ranges: readonly Range[]): AddressInfo {
  let best: Range | null = null;
  for (const range of ranges) {
    if (inRange(bytes, range) && (!best || range.prefix > best.prefix)) best = range;
  }
  return best ? { class: best.class, description: best.name } : { class: 'public', description: 'public' };
}

function inRange(bytes: readonly number[], range: Range): boolean {
  if (bytes.length !== range.bytes.length) return false;
  for (let bit = 0; bit < range.prefix; bit += 8) {
    const take = Math.min(8, range.prefix - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    const i = bit / 8;
    if (((bytes[i] ?? 0) & mask) !== ((range.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

function ipv4Bytes(text: string): number[] | null {
  if (!isIPv4(text)) return null;
  return text.split('.').map(Number);
}

/** The 16 bytes of an IPv6 address (`::` and a dotted IPv4 tail allowed, a zone dropped). */
function ipv6Bytes(text: string): number[] | null {
  const zone = text.indexOf('%');
  let address = zone === -1 ? text : text.slice(0, zone);
  if (!isIPv6(address)) return null;
  // A dotted tail (::ffff:1.2.3.4) becomes two hex groups, so only groups remain.
  const lastColon = address.lastIndexOf(':');
  const tail = address.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    address = `${address.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = address.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const front = groups(head);
  const back = rest === undefined ? [] : groups(rest);
  const zeros = 8 - front.length - back.length;
  const all = [...front, ...Array<string>(rest === undefined ? 0 : zeros).fill('0'), ...back];
  if (all.length !== 8) return null;
  return all.flatMap((group) => {
    const value = Number.parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });
}
