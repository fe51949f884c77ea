import { isIP } from 'node:net';

/**
 * The address policy for outbound fetches whose target a client chooses (CIMD documents, client JWKS): anything
 * that is not a plain public unicast address is refused. Spec: auth-oauth-multicluster §2.7 (Go's list) plus the
 * gaps §6.2 item 12 names (6to4, Teredo, IPv4-compatible) and the IPv6 space outside global unicast.
 */

interface Ipv4Range {
  readonly base: number;
  readonly prefix: number;
  readonly reason: string;
}

const IPV4_BLOCKED: readonly Ipv4Range[] = [
  ['0.0.0.0', 8, 'this-network / unspecified'],
  ['10.0.0.0', 8, 'private (RFC 1918)'],
  ['100.64.0.0', 10, 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (incl. cloud metadata 169.254.169.254)'],
  ['172.16.0.0', 12, 'private (RFC 1918)'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation (TEST-NET-1)'],
  ['192.88.99.0', 24, '6to4 relay anycast (deprecated)'],
  ['192.168.0.0', 16, 'private (RFC 1918)'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation (TEST-NET-2)'],
  ['203.0.113.0', 24, 'documentation (TEST-NET-3)'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved / broadcast'],
].map(([address, prefix, reason]) => ({
  base: ipv4ToNumber(address as string)!,
  prefix: prefix as number,
  reason: reason as string,
}));

interface Ipv6Range {
  readonly base: bigint;
  readonly prefix: number;
  readonly reason: string;
}

/** Checked in order; the first match names the reason. Everything outside 2000::/3 is refused after these. */
const IPV6_BLOCKED: readonly Ipv6Range[] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['64:ff9b::', 96, 'NAT64 (RFC 6052), reaches IPv4 through a translator'],
  ['64:ff9b:1::', 48, 'local-use NAT64 (RFC 8215)'],
  ['100::', 64, 'discard-only (RFC 6666)'],
  ['2001::', 32, 'Teredo tunnelling (RFC 4380)'],
  ['2001::', 23, 'IETF protocol assignments'],
  ['2001:db8::', 32, 'documentation'],
  ['3fff::', 20, 'documentation (RFC 9637)'],
  ['5f00::', 16, 'SRv6 SIDs'],
  ['fc00::', 7, 'unique local (ULA)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local (deprecated)'],
  ['ff00::', 8, 'multicast'],
].map(([address, prefix, reason]) => ({
  base: ipv6ToBigInt(address as string)!,
  prefix: prefix as number,
  reason: reason as string,
}));

const GLOBAL_UNICAST: Ipv6Range = { base: ipv6ToBigInt('2000::')!, prefix: 3, reason: '' };
const IPV4_MAPPED: Ipv6Range = { base: ipv6ToBigInt('::ffff:0:0')!, prefix: 96, reason: '' };
const IPV4_COMPATIBLE: Ipv6Range = { base: 0n, prefix: 96, reason: '' };
const SIX_TO_FOUR: Ipv6Range = { base: ipv6ToBigInt('2002::')!, prefix: 16, reason: '' };

/**
 * Why `address` (an IPv4 or IPv6 literal, as a resolver returns it) must not be dialled, or `undefined` when it is
 * a public unicast address. Text that is not an IP address is refused too: the caller must never dial it.
 */
export function blockedAddressReason(address: string): string | undefined {
  const literal = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const family = isIP(literal);
  if (family === 4) return ipv4Reason(ipv4ToNumber(literal)!);
  if (family === 6) {
    // A zone index (fe80::1%eth0) only exists for scoped, non-global addresses.
    if (literal.includes('%')) return 'scoped address with a zone index';
    const value = ipv6ToBigInt(literal);
    if (value === undefined) return 'not an IP address';
    return ipv6Reason(value);
  }
  return 'not an IP address';
}

export function isBlockedAddress(address: string): boolean {
  return blockedAddressReason(address) !== undefined;
}

function ipv4Reason(value: number): string | undefined {
  for (const range of IPV4_BLOCKED) {
    if (inIpv4Range(value, range)) return range.reason;
  }
  return undefined;
}

function ipv6Reason(value: bigint): string | undefined {
  // Addresses that carry an IPv4 address are judged by it (a TS port must normalise these explicitly, §2.7).
  if (inIpv6Range(value, IPV4_MAPPED)) {
    const embedded = ipv4Reason(Number(value & 0xffff_ffffn));
    return embedded === undefined ? undefined : `IPv4-mapped ${embedded}`;
  }
  if (value > 1n && inIpv6Range(value, IPV4_COMPATIBLE)) return 'IPv4-compatible IPv6 (deprecated)';
  if (inIpv6Range(value, SIX_TO_FOUR)) {
    const embedded = ipv4Reason(Number((value >> 80n) & 0xffff_ffffn));
    if (embedded !== undefined) return `6to4 embedding ${embedded}`;
  }
  for (const range of IPV6_BLOCKED) {
    if (inIpv6Range(value, range)) return range.reason;
  }
  if (!inIpv6Range(value, GLOBAL_UNICAST)) return 'outside IPv6 global unicast (2000::/3)';
  return undefined;
}

function inIpv4Range(value: number, range: Ipv4Range): boolean {
  if (range.prefix === 0) return true;
  const shift = 32 - range.prefix;
  return value >>> shift === range.base >>> shift;
}

function inIpv6Range(value: bigint, range: Ipv6Range): boolean {
  const shift = BigInt(128 - range.prefix);
  return value >> shift === range.base >> shift;
}

/** Dotted-quad only (what resolvers and the WHATWG URL parser produce); anything else is `undefined`. */
export function ipv4ToNumber(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/** Parses an IPv6 literal (with `::` and an optional trailing dotted quad) into its 128-bit value. */
export function ipv6ToBigInt(text: string): bigint | undefined {
  let head = text;
  let tailGroups: number[] = [];
  const lastColon = head.lastIndexOf(':');
  if (head.slice(lastColon + 1).includes('.')) {
    const v4 = ipv4ToNumber(head.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tailGroups = [v4 >>> 16, v4 & 0xffff];
    head = head.slice(0, lastColon + 1);
    // "::1.2.3.4" leaves "::"; "64:ff9b::1.2.3.4" leaves "64:ff9b::"; "a:b:c:d:e:f:1.2.3.4" leaves a trailing ':'.
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const groups: number[] = [];
    for (const group of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
      groups.push(parseInt(group, 16));
    }
    return groups;
  };
  const left = parseGroups(halves[0]!);
  const right = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (left === undefined || right === undefined) return undefined;
  const explicit = left.length + right.length + tailGroups.length;
  let groups: number[];
  if (halves.length === 2) {
    if (explicit > 7) return undefined;
    groups = [...left, ...new Array<number>(8 - explicit).fill(0), ...right, ...tailGroups];
  } else {
    if (explicit !== 8) return undefined;
    groups = [...left, ...tailGroups];
  }
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(group), 0n);
}
