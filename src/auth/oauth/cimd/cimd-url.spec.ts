import { describe, expect, it } from 'vitest';
import { CIMD_MAX_URL_LENGTH, clientIdUrlViolation, jwksUriViolation } from './cimd-url.js';

describe('clientIdUrlViolation', () => {
  // Spec §5 vector 50.
  it.each([
    'https://claude.ai/oauth/mcp-oauth-client-metadata',
    'https://chatgpt.com/.well-known/oauth-client-id',
    'https://example.com:443/x.json',
    'https://example.com/oauth/cimd/',
    'https://xn--80ak6aa92e.com/client.json',
    'https://8.8.8.8/client.json',
    'https://a-b.example/c~d/e_f.json',
  ])('accepts %s', (url) => {
    expect(clientIdUrlViolation(url)).toBeUndefined();
  });

  it('accepts exactly 2048 characters and refuses 2049', () => {
    const prefix = 'https://example.com/';
    const atLimit = prefix + 'a'.repeat(CIMD_MAX_URL_LENGTH - prefix.length);
    expect(atLimit).toHaveLength(2048);
    expect(clientIdUrlViolation(atLimit)).toBeUndefined();
    expect(clientIdUrlViolation(`${atLimit}a`)).toMatch(/length/);
  });

  // Spec §5 vector 51, one row per rule, plus the spellings a WHATWG parser would otherwise rewrite.
  it.each([
    ['', /length/],
    ['http://example.com/x.json', /scheme must be https/],
    ['ftp://example.com/x.json', /scheme must be https/],
    ['HTTPS://example.com/x.json', /scheme must be https/],
    ['data:application/json,{}', /scheme must be https/],
    ['javascript:alert(1)', /scheme must be https/],
    ['file:///etc/passwd', /scheme must be https/],
    ['https:example.com/x.json', /absolute/],
    ['https:///x.json', /host must not be empty/],
    ['https://example.com', /path must name a document/],
    ['https://example.com/', /path must name a document/],
    ['https://example.com/x.json?a=1', /query/],
    ['https://example.com/x.json?', /query/],
    ['https://example.com/x.json#frag', /fragment/],
    ['https://example.com/x.json#', /fragment/],
    ['https://user:pw@example.com/x.json', /userinfo/],
    ['https://user@example.com/x.json', /userinfo/],
    ['https://example.com:8443/x.json', /port/],
    ['https://example.com:/x.json', /port/],
    ['https://example.com:0443/x.json', /port/],
    ['https://[::1]/x.json', /IPv6/],
    ['https://Example.com/x.json', /lowercase ASCII/],
    ['https://EXAMPLE.COM/x.json', /lowercase ASCII/],
    ['https://ex\u0430mple.com/x.json', /characters/], // Cyrillic а
    ['https://example.com./x.json', /lowercase ASCII/],
    ['https://2130706433/x.json', /canonical/],
    ['https://0x7f.1/x.json', /canonical/],
    ['https://example.com/./x.json', /normalised/],
    ['https://example.com/a/../x.json', /normalised/],
    ['https://example.com/a/..', /normalised/],
    ['https://example.com/%2e/x.json', /normalised/],
    ['https://example.com/%2E/x.json', /normalised/],
    ['https://example.com/%2e%2e/x.json', /normalised/],
    ['https://example.com/a/.%2e/x.json', /normalised/],
    ['https://example.com/a//x.json', /normalised/],
    ['https://example.com/x.json//', /normalised/],
    ['https://example.com/a%2fb.json', /encoded slashes/],
    ['https://example.com/a%2Fb.json', /encoded slashes/],
    ['https://example.com/a%5cb.json', /encoded slashes/],
    ['https://example.com/a%5Cb.json', /encoded slashes/],
    ['https://example.com/a%zzb.json', /percent-encoding/],
    ['https://example.com/a%c3.json', /percent-encoding/],
    ['https://example.com\\@evil.example/x.json', /characters/],
    ['https://example.com/x .json', /characters/],
    ['https://example.com/x\t.json', /characters/],
    ['https://example.com/x\n.json', /characters/],
    [' https://example.com/x.json', /scheme/],
    ['https://example.com/x"y.json', /characters/],
    ['https://exa_mple.com/x.json', /lowercase ASCII/],
  ])('refuses %j', (url, reason) => {
    expect(clientIdUrlViolation(url)).toMatch(reason);
  });

  it('refuses a host label over 63 characters', () => {
    expect(clientIdUrlViolation(`https://${'a'.repeat(64)}.example/x.json`)).toMatch(/lowercase ASCII/);
  });
});

describe('jwksUriViolation', () => {
  // Spec §5 vector 57: loopback passes the parse (SSRF is a dial-time check); a query is allowed here.
  it.each(['https://127.0.0.1/jwks.json', 'https://chatgpt.com/oauth/jwks.json', 'https://x.example/jwks?v=2', 'https://x.example/'])(
    'accepts %s',
    (url) => {
      expect(jwksUriViolation(url)).toBeUndefined();
    },
  );

  it.each([
    ['http://x/jwks.json', /https/],
    ['https://u:p@x/jwks.json', /userinfo/],
    ['', /length/],
    ['https://x.example/jwks.json#k', /fragment/],
    ['https://x.example:8443/jwks.json', /port/],
    ['https://X.example/jwks.json', /lowercase/],
    ['https://x.example/a/../jwks.json', /normalised/],
    ['https://x.example/a%2fjwks.json', /encoded slashes/],
    [`https://x.example/${'j'.repeat(2048)}`, /length/],
  ])('refuses %j', (url, reason) => {
    expect(jwksUriViolation(url)).toMatch(reason);
  });
});
