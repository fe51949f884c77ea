import { describe, expect, it } from 'vitest';
import {
  checkOAuthConfig,
  httpsUrlIssue,
  PUBLIC_RESOURCE_URL_UNSET_WARNING,
  removedKeyWarnings,
  type OAuthCheckInput,
} from './oauth-config-checks.js';

type OAuthFields = OAuthCheckInput['server']['oauth'];

const SECRET_32 = 'abcdefghijklmnopqrstuvwxyz012345';

/** Spec §5 vector 59: the broker=false base that passes. */
function resourceServer(overrides: Partial<OAuthFields> = {}, protocol = 'http'): OAuthCheckInput {
  return {
    clickhouse: { protocol },
    server: {
      oauth: {
        enabled: true,
        broker: false,
        issuer: 'https://example.us.auth0.com/',
        jwks_url: '',
        audience: 'https://example-mcp.test/',
        public_resource_url: 'https://example-mcp.test/',
        client_id: '',
        client_secret: '',
        auth_url: '',
        token_url: '',
        signing_secret: '',
        role_filter: '',
        ...overrides,
      },
    },
  };
}

/** Spec §5 vector 60: the Google broker base that passes. */
function googleBroker(overrides: Partial<OAuthFields> = {}): OAuthCheckInput {
  return resourceServer({
    broker: true,
    issuer: 'https://accounts.google.com',
    audience: '',
    client_id: 'client.apps.googleusercontent.com',
    client_secret: 'upstream-secret',
    auth_url: 'https://accounts.google.com/o/oauth2/v2/auth',
    token_url: 'https://oauth2.googleapis.com/token',
    signing_secret: SECRET_32,
    ...overrides,
  });
}

describe('checkOAuthConfig (§2.3)', () => {
  it('accepts the resource-server and Google broker bases without issue or warning', () => {
    expect(checkOAuthConfig(resourceServer())).toEqual({ issues: [], warnings: [] });
    expect(checkOAuthConfig(googleBroker())).toEqual({ issues: [], warnings: [] });
  });

  it('checks nothing when OAuth is off, however broken the keys are', () => {
    const cfg = resourceServer({ enabled: false, issuer: 'http://evil.example', audience: '', role_filter: '([' }, 'embedded');
    expect(checkOAuthConfig(cfg)).toEqual({ issues: [], warnings: [] });
  });

  it('refuses an issuer over plain http on a remote host, with the key-injection reason', () => {
    const { issues } = checkOAuthConfig(resourceServer({ issuer: 'http://keycloak:8080/realms/mcp' }));
    expect(issues).toEqual([
      'oauth.issuer must use https:// (got "http://keycloak:8080/realms/mcp") — http on a remote host lets a network attacker inject signing keys and forge any bearer',
    ]);
  });

  it('refuses a jwks_url that is not a URL, or has another scheme', () => {
    expect(checkOAuthConfig(resourceServer({ jwks_url: 'not a url' })).issues).toEqual([
      'oauth.jwks_url is not a valid URL: "not a url"',
    ]);
    expect(checkOAuthConfig(resourceServer({ jwks_url: 'ftp://idp.example/jwks' })).issues).toEqual([
      'oauth.jwks_url must use https:// (got scheme "ftp" in "ftp://idp.example/jwks")',
    ]);
  });

  it('allows http on loopback names only (localhost, 127.0.0.1, ::1), and trims before checking', () => {
    expect(httpsUrlIssue('oauth.issuer', 'http://localhost:8080/')).toBeUndefined();
    expect(httpsUrlIssue('oauth.issuer', ' http://127.0.0.1:9/realms/x ')).toBeUndefined();
    expect(httpsUrlIssue('oauth.issuer', 'http://[::1]:9/')).toBeUndefined();
    expect(httpsUrlIssue('oauth.issuer', '')).toBeUndefined();
    expect(httpsUrlIssue('oauth.issuer', 'http://127.0.0.2/')).toMatch(/must use https:\/\/ \(got "http:\/\/127\.0\.0\.2\/"\)/);
    expect(httpsUrlIssue('oauth.issuer', 'http://localhost.evil.example/')).toMatch(/must use https/);
    expect(httpsUrlIssue('oauth.issuer', 'https://')).toBe('oauth.issuer is not a valid URL: "https://"');
  });

  it('requires the http ClickHouse protocol', () => {
    expect(checkOAuthConfig(resourceServer({}, 'embedded')).issues).toEqual(['oauth requires clickhouse protocol http']);
  });

  it('broker=true names every missing upstream field, in Go order, whitespace counting as missing', () => {
    const { issues } = checkOAuthConfig(googleBroker({ client_id: '', client_secret: '  ', token_url: '' }));
    expect(issues).toEqual(['oauth: broker=true requires upstream IdP fields: client_id, client_secret, token_url']);
    expect(checkOAuthConfig(googleBroker({ auth_url: '' })).issues).toEqual([
      'oauth: broker=true requires upstream IdP fields: auth_url',
    ]);
  });

  it('broker=true requires a signing secret', () => {
    expect(checkOAuthConfig(googleBroker({ signing_secret: '   ' })).issues).toEqual([
      'oauth signing_secret is required when oauth.broker=true',
    ]);
  });

  it('broker=true refuses a signing secret under 32 bytes after trimming, giving the trimmed length', () => {
    expect(checkOAuthConfig(googleBroker({ signing_secret: '  too-short  ' })).issues).toEqual([
      'oauth signing_secret must be at least 32 bytes (got 9) — short secrets weaken JWE key wrapping; generate with `openssl rand -base64 32` or similar',
    ]);
    // 31 ASCII characters fail; 16 two-byte characters (32 bytes) pass: the floor is on bytes.
    expect(checkOAuthConfig(googleBroker({ signing_secret: SECRET_32.slice(1) })).issues[0]).toMatch(/got 31/);
    expect(checkOAuthConfig(googleBroker({ signing_secret: 'é'.repeat(16) })).issues).toEqual([]);
  });

  it('broker=false requires the issuer, then the audience', () => {
    expect(checkOAuthConfig(resourceServer({ issuer: ' ', audience: '' })).issues).toEqual([
      'oauth: broker=false requires oauth.issuer (the external AS, e.g. https://your-tenant.us.auth0.com/ or https://accounts.google.com)',
      'oauth: broker=false requires oauth.audience — it must byte-equal the MCP public resource URL (RFC 8707)',
    ]);
  });

  it('broker=true does not need issuer or audience', () => {
    expect(checkOAuthConfig(googleBroker({ issuer: '', audience: '' })).issues).toEqual([]);
  });

  it('refuses a role_filter RE2 cannot compile, with the RE2 reason; an absent filter is fine', () => {
    const { issues } = checkOAuthConfig(resourceServer({ role_filter: '([' }));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^oauth: role_filter is not a valid regex: error parsing regexp: missing closing \]/);
    // Look-ahead is JS-only syntax: RE2 refuses it, as Go would.
    expect(checkOAuthConfig(resourceServer({ role_filter: '^(?=mcp)' })).issues[0]).toMatch(/role_filter is not a valid regex/);
    expect(checkOAuthConfig(resourceServer({ role_filter: '_mcp$' })).issues).toEqual([]);
  });

  it('lists every issue in Go order, so the first is the one altinity-mcp would stop on', () => {
    const cfg = resourceServer({ issuer: 'http://idp.example', jwks_url: 'gopher://x', audience: '', role_filter: '(' }, 'embedded');
    const { issues } = checkOAuthConfig(cfg);
    expect(issues.map((i) => i.slice(0, 40))).toEqual([
      'oauth.issuer must use https:// (got "htt',
      'oauth.jwks_url must use https:// (got sc',
      'oauth requires clickhouse protocol http',
      'oauth: broker=false requires oauth.audie',
      'oauth: role_filter is not a valid regex:',
    ]);
  });

  it('warns when public_resource_url is unset, without refusing', () => {
    expect(checkOAuthConfig(resourceServer({ public_resource_url: '  ' }))).toEqual({
      issues: [],
      warnings: [PUBLIC_RESOURCE_URL_UNSET_WARNING],
    });
    expect(PUBLIC_RESOURCE_URL_UNSET_WARNING).toContain('set MCP_OAUTH_PUBLIC_RESOURCE_URL');
  });
});

describe('removed-key warnings (§2.13)', () => {
  const allNine = {
    clickhouse: { cluster_secret: 's', cluster_name: 'c' },
    server: {
      oauth: {
        mode: 'forward',
        broker_upstream: true,
        claims_to_headers: { email: 'X-Email' },
        clickhouse_header_name: 'X-CH',
        allowed_email_domains: ['example.com'],
        allowed_hosted_domains: ['example.com'],
        allow_unverified_email: false,
      },
    },
  };

  it('gives one warning per removed key present, with its hint', () => {
    const warnings = removedKeyWarnings(allNine);
    expect(warnings).toHaveLength(9);
    expect(warnings[0]).toBe(
      'config key "clickhouse.cluster_secret" is no longer honored (silently dropped on unmarshal). Use broker:false with the ch-jwt-verify sidecar (github.com/altinity/altinity-oauth-helper). Drop cluster_secret + cluster_name from helm values and bind users with IDENTIFIED WITH http SERVER \'ch_jwt_verify\' SCHEME \'BASIC\'.',
    );
    expect(warnings).toContain(
      'config key "server.oauth.allow_unverified_email" is no longer honored (silently dropped on unmarshal). Moved (inverted) to the ch-jwt-verify sidecar\'s identity.require_email_verified.',
    );
    expect(warnings).toContain(
      'config key "server.oauth.mode" is no longer honored (silently dropped on unmarshal). Removed — use server.oauth.broker: true or false.',
    );
  });

  it('counts a key whose value is null or false as present', () => {
    expect(removedKeyWarnings({ server: { oauth: { mode: null } } })).toHaveLength(1);
  });

  it('says nothing for a clean file, a non-object file or no file', () => {
    expect(removedKeyWarnings({ server: { oauth: { enabled: true } }, clickhouse: { host: 'h' } })).toEqual([]);
    expect(removedKeyWarnings('just a string')).toEqual([]);
    expect(removedKeyWarnings(undefined)).toEqual([]);
    expect(removedKeyWarnings({ server: 'oops' })).toEqual([]);
  });

  it('are given whether or not OAuth is on, ahead of the OAuth warnings', () => {
    const off = resourceServer({ enabled: false });
    expect(checkOAuthConfig(off, { server: { oauth: { mode: 'gating' } } }).warnings).toHaveLength(1);
    const on = resourceServer({ public_resource_url: '' });
    const { warnings } = checkOAuthConfig(on, { server: { oauth: { broker_upstream: true } } });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^config key "server\.oauth\.broker_upstream"/);
    expect(warnings[1]).toBe(PUBLIC_RESOURCE_URL_UNSET_WARNING);
  });
});
