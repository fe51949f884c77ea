import { describe, expect, it } from 'vitest';
import { blockedAddressReason, ipv6ToBigInt } from './blocked-addresses.js';

// Spec §5 vector 52 first, then every other range the policy names (one address inside, and edges).
const BLOCKED: ReadonlyArray<[string, RegExp]> = [
  ['127.0.0.1', /loopback/],
  ['127.255.255.254', /loopback/],
  ['10.0.0.1', /private/],
  ['192.168.1.1', /private/],
  ['172.16.0.1', /private/],
  ['172.31.255.255', /private/],
  ['169.254.169.254', /link-local/],
  ['100.64.0.1', /carrier-grade/],
  ['100.127.255.255', /carrier-grade/],
  ['0.0.0.0', /unspecified/],
  ['0.1.2.3', /this-network/],
  ['224.0.0.1', /multicast/],
  ['239.255.255.255', /multicast/],
  ['192.0.0.1', /IETF/],
  ['192.0.2.1', /documentation/],
  ['192.88.99.1', /6to4 relay/],
  ['198.18.0.1', /benchmarking/],
  ['198.19.255.255', /benchmarking/],
  ['198.51.100.1', /documentation/],
  ['203.0.113.1', /documentation/],
  ['240.0.0.1', /reserved/],
  ['255.255.255.255', /reserved/],
  ['::', /unspecified/],
  ['::1', /loopback/],
  ['fe80::1', /link-local/],
  ['febf:ffff::1', /link-local/],
  ['fc00::1', /unique local/],
  ['fd12:3456::1', /unique local/],
  ['fec0::1', /site-local/],
  ['ff02::1', /multicast/],
  ['2001:db8::1', /documentation/],
  ['3fff::1', /documentation/],
  ['64:ff9b::1', /NAT64/],
  ['64:ff9b::8.8.8.8', /NAT64/],
  ['64:ff9b:1::1', /NAT64/],
  ['100::1', /discard/],
  ['2001::1', /Teredo/],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', /Teredo/],
  ['2001:2::1', /IETF/],
  ['5f00::1', /SRv6/],
  // IPv4 inside IPv6: judged by the embedded address.
  ['::ffff:127.0.0.1', /IPv4-mapped loopback/],
  ['::ffff:7f00:1', /IPv4-mapped loopback/],
  ['::ffff:169.254.169.254', /IPv4-mapped link-local/],
  ['::ffff:10.1.2.3', /IPv4-mapped private/],
  ['::127.0.0.1', /IPv4-compatible/],
  ['::8.8.8.8', /IPv4-compatible/],
  ['2002:7f00:1::1', /6to4 embedding loopback/],
  ['2002:a9fe:a9fe::', /6to4 embedding link-local/],
  ['2002:c0a8:0101:1::1', /6to4 embedding private/],
  // Outside 2000::/3 and not named above.
  ['1::1', /outside IPv6 global unicast/],
  ['4000::1', /outside IPv6 global unicast/],
  // Bracketed, zone-indexed and non-addresses.
  ['[::1]', /loopback/],
  ['fe80::1%eth0', /zone index/],
  ['example.com', /not an IP/],
  ['', /not an IP/],
  ['0177.0.0.1', /not an IP/],
];

const ALLOWED = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.216.34',
  '100.63.255.255',
  '100.128.0.0',
  '172.15.255.255',
  '172.32.0.0',
  '169.253.255.255',
  '198.17.255.255',
  '223.255.255.255',
  '2606:4700:4700::1111',
  '2a00:1450:4001:81b::200e',
  '::ffff:8.8.8.8',
  '2002:0808:0808::1',
  '2001:4860:4860::8888',
];

describe('blockedAddressReason', () => {
  it.each(BLOCKED)('refuses %s', (address, reason) => {
    expect(blockedAddressReason(address)).toMatch(reason);
  });

  it.each(ALLOWED)('allows public %s', (address) => {
    expect(blockedAddressReason(address)).toBeUndefined();
  });
});

describe('ipv6ToBigInt', () => {
  it('parses the compressed, full and dotted-tail forms to the same value', () => {
    const expected = (0xffffn << 32n) | 0x7f000001n;
    expect(ipv6ToBigInt('::ffff:127.0.0.1')).toBe(expected);
    expect(ipv6ToBigInt('0:0:0:0:0:ffff:7f00:1')).toBe(expected);
    expect(ipv6ToBigInt('0:0:0:0:0:ffff:127.0.0.1')).toBe(expected);
  });

  it.each(['1:2:3:4:5:6:7:8:9', '1::2::3', 'g::1', '::1.2.3', '12345::', ':1:2:3:4:5:6:7'])('rejects %s', (text) => {
    expect(ipv6ToBigInt(text)).toBeUndefined();
  });
});
