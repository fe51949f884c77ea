import { describe, expect, it } from 'vitest';
import { safeUpstreamErrorFields } from './upstream-idp.js';
import {
  brokerUpstreamAudience,
  chooseClientToken,
  clientFacingAuthorizationError,
  goValuesEncode,
  isGoogleIssuer,
  normalizeUpstreamScopeForClient,
  upstreamAuthorizeUrl,
  type UpstreamTokens,
} from './upstream-rules.js';

const NOW = 1_800_000_000;
const jwt = (claims: Record<string, unknown>) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
const tokens = (over: Partial<UpstreamTokens>): UpstreamTokens => ({ accessToken: '', idToken: '', tokenType: '', expiresIn: 0, scope: '', refreshToken: '', ...over });

describe('Google detection and the upstream audience (vector 42)', () => {
  it('detects Google by issuer host only', () => {
    expect(isGoogleIssuer('https://accounts.google.com')).toBe(true);
    expect(isGoogleIssuer('https://ACCOUNTS.GOOGLE.COM/')).toBe(true);
    expect(isGoogleIssuer('www.google.com/x')).toBe(true);
    expect(isGoogleIssuer('https://accounts.google.com.evil.example')).toBe(false);
    expect(isGoogleIssuer('https://acme.auth0.com/')).toBe(false);
  });

  it.each([
    [true, 'https://acme.auth0.com/', 'https://api.example.com', 'https://api.example.com'],
    [true, 'https://acme.auth0.com/', '', ''],
    [true, 'https://accounts.google.com', 'https://api.example.com', ''],
    [false, 'https://acme.auth0.com/', 'https://api.example.com', ''],
  ])('broker=%s issuer=%s audience=%s → %s', (broker, issuer, audience, expected) => {
    expect(brokerUpstreamAudience({ broker, issuer, audience })).toBe(expected);
  });
});

describe('upstream authorization URL (vector 40, sorted query)', () => {
  const base = { broker: true, audience: '', client_id: 'up-client', scopes: [], upstream_force_consent: false };
  const query = (issuer: string, offline: boolean, extra: Partial<typeof base> = {}) =>
    new URL(upstreamAuthorizeUrl('https://idp.example/authorize', { ...base, ...extra, issuer, upstream_offline_access: offline }, { redirectUri: 'https://mcp.example.com/oauth/callback', state: 's', codeChallenge: 'c' })).searchParams;

  it.each([
    ['https://accounts.google.com', true, 'offline', null, false],
    ['https://accounts.google.com', false, null, null, false],
    ['https://acme.auth0.com/', true, null, null, true],
    ['https://acme.auth0.com/', false, null, null, false],
  ])('%s offline=%s → access_type=%s prompt=%s offline_access=%s', (issuer, offline, accessType, prompt, offlineScope) => {
    const params = query(issuer, offline);
    expect(params.get('access_type')).toBe(accessType);
    expect(params.get('prompt')).toBe(prompt);
    expect(params.get('scope')!.split(' ').includes('offline_access')).toBe(offlineScope);
    expect(params.get('scope')!.startsWith('openid email')).toBe(true);
  });

  it('Google with forced consent gets prompt=consent; never audience', () => {
    const params = query('https://accounts.google.com', true, { upstream_force_consent: true, audience: 'https://api.example.com' });
    expect(params.get('prompt')).toBe('consent');
    expect(params.get('audience')).toBeNull();
  });

  it('forced consent without offline access changes nothing; non-Google never gets prompt', () => {
    expect(query('https://accounts.google.com', false, { upstream_force_consent: true }).get('prompt')).toBeNull();
    expect(query('https://acme.auth0.com/', true, { upstream_force_consent: true }).get('prompt')).toBeNull();
  });

  it('non-Google with an audience sends it; the query is sorted with Go escaping', () => {
    const url = upstreamAuthorizeUrl('https://idp.example/authorize', { ...base, issuer: 'https://acme.auth0.com/', upstream_offline_access: false, audience: 'https://api.example.com' }, { redirectUri: 'https://mcp/cb', state: 'st', codeChallenge: 'ch' });
    const keys = [...new URL(url).searchParams.keys()];
    expect(keys).toEqual([...keys].sort());
    expect(new URL(url).searchParams.get('audience')).toBe('https://api.example.com');
    expect(goValuesEncode({ b: "a b!'()*", a: '1' })).toBe('a=1&b=a+b%21%27%28%29%2A');
  });
});

describe('scope normalisation (vector 45)', () => {
  it.each([
    ['openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile', 'openid email profile'],
    ['email https://www.googleapis.com/auth/userinfo.email', 'email'],
    ['profile https://www.googleapis.com/auth/userinfo.email openid', 'profile email openid'],
    ['  custom:scope   openid ', 'custom:scope openid'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeUpstreamScopeForClient(input)).toBe(expected);
  });
});

describe('token choice and expires_in (§2.9, vector 39)', () => {
  const auth0 = { broker: true, issuer: 'https://acme.auth0.com/', audience: 'https://api.example.com' };
  const plain = { broker: true, issuer: 'https://acme.auth0.com/', audience: '' };

  it('API audience: the access token, expires_in from its unverified exp', () => {
    const chosen = chooseClientToken(tokens({ accessToken: jwt({ exp: NOW + 600 }), idToken: 'id' }), auth0, NOW + 3600, NOW);
    expect(chosen.kind).toBe('access_token');
    expect(chosen.expiresIn).toBe(600);
  });

  it('default: the id_token with its validated exp', () => {
    const chosen = chooseClientToken(tokens({ accessToken: 'opaque', idToken: 'id', expiresIn: 100 }), plain, NOW + 1800, NOW);
    expect(chosen).toMatchObject({ kind: 'id_token', token: 'id', expiresIn: 1800, expiresAt: NOW + 1800 });
  });

  it('no id_token: the access token with the upstream expires_in; computed 0 becomes 3600, negative clamps first', () => {
    expect(chooseClientToken(tokens({ accessToken: 'opaque', expiresIn: 120 }), plain, undefined, NOW).expiresIn).toBe(120);
    expect(chooseClientToken(tokens({ accessToken: 'opaque' }), plain, undefined, NOW).expiresIn).toBe(3600);
    expect(chooseClientToken(tokens({ accessToken: jwt({ exp: NOW - 50 }) }), plain, undefined, NOW).expiresIn).toBe(3600);
  });
});

describe('upstream errors shown to clients and to logs', () => {
  it('passes only OAuth authorization error codes (vector: callback ?error=)', () => {
    expect(clientFacingAuthorizationError('access_denied')).toBe('access_denied');
    expect(clientFacingAuthorizationError('login_required')).toBe('login_required');
    expect(clientFacingAuthorizationError('<script>')).toBe('server_error');
    expect(clientFacingAuthorizationError('')).toBe('server_error');
  });

  it('SafeUpstreamErrorFields: the code and the length, never the body (vector 46)', () => {
    expect(safeUpstreamErrorFields('{"error":"invalid_grant","error_description":"secret stuff"}')).toEqual({ error: 'invalid_grant', length: 60 });
    expect(safeUpstreamErrorFields('<html>oops</html>')).toEqual({ error: '', length: 17 });
  });
});
