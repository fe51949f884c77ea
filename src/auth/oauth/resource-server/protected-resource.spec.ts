import { describe, expect, it } from 'vitest';
import {
  authFailureResponse,
  bearerChallenge,
  challengeScopeHint,
  goQuote,
  oidcScopesForAdvertisement,
  protectedResourceMetadata,
  type PrmOAuthConfig,
} from './protected-resource.js';
import type { PublicRequestView, PublicServerView } from './public-urls.js';

const server: PublicServerView = { address: '127.0.0.1', port: 8080, tlsEnabled: true, openapiTls: false };
const prmRequest: PublicRequestView = { host: 'mcp.example.com', encrypted: true, path: '/.well-known/oauth-protected-resource' };
const config = (overrides: Partial<PrmOAuthConfig> = {}): PrmOAuthConfig => ({
  public_resource_url: 'https://mcp.example.com',
  public_auth_server_url: '',
  audience: 'https://mcp.example.com',
  issuer: 'https://tenant.us.auth0.com/',
  broker: false,
  scopes: ['openid', 'email', 'https://www.googleapis.com/auth/userinfo.email', 'email', 'offline_access'],
  ...overrides,
});
const PRM_URL = 'https://mcp.example.com/.well-known/oauth-protected-resource';

describe('PRM document (RFC 9728)', () => {
  it('resource server: canonical resource with one trailing slash, the issuer as configured, allowlisted scopes', () => {
    expect(protectedResourceMetadata(prmRequest, server, config())).toEqual({
      resource: 'https://mcp.example.com/',
      authorization_servers: ['https://tenant.us.auth0.com/'],
      scopes_supported: ['openid', 'email', 'offline_access'],
      bearer_methods_supported: ['header'],
    });
  });

  it('broker: the authorization server is this gateway (no trailing slash)', () => {
    const doc = protectedResourceMetadata(prmRequest, server, config({ broker: true, public_auth_server_url: 'https://mcp.example.com/' }));
    expect(doc.authorization_servers).toEqual(['https://mcp.example.com']);
  });

  it('path-aware variant without public_resource_url: the resource carries the path after the marker', () => {
    const pathAware = { ...prmRequest, path: '/.well-known/oauth-protected-resource/mcp' };
    const doc = protectedResourceMetadata(pathAware, server, config({ public_resource_url: '', audience: '' }));
    expect(doc.resource).toBe('https://mcp.example.com/mcp/');
  });

  it('scopes_supported is [] when no configured scope is in the OIDC allowlist', () => {
    expect(oidcScopesForAdvertisement(['clickhouse:read'])).toEqual([]);
    expect(oidcScopesForAdvertisement([' openid ', 'profile', 'openid'])).toEqual(['openid', 'profile']);
  });
});

describe('challenge (spec §2.10)', () => {
  it('vector 28: the exact default challenge string', () => {
    expect(
      bearerChallenge({
        error: 'invalid_token',
        errorDescription: 'Authentication required',
        resourceMetadata: PRM_URL,
        scope: 'openid email',
      }),
    ).toBe(
      'Bearer error="invalid_token", error_description="Authentication required", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", scope="openid email"',
    );
  });

  it('vector 27: another error code keeps the shape; scope omitted when empty', () => {
    const header = bearerChallenge({ error: 'invalid_client', errorDescription: 'unknown OAuth client', resourceMetadata: PRM_URL });
    expect(header).toContain('Bearer ');
    expect(header).toContain('error="invalid_client"');
    expect(header).toContain('error_description="unknown OAuth client"');
    expect(header).not.toContain('scope=');
  });

  it("quotes like Go's %q and never emits a character Node would refuse in a header", () => {
    expect(goQuote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(goQuote('x\r\ny\t\u0001')).toBe('"x\\r\\ny\\t\\x01"');
    expect(goQuote('é😀')).toBe('"\\u00e9\\U0001f600"');
    expect(goQuote('é😀')).toMatch(/^[\x20-\x7e]+$/);
  });

  it('scope hint: required_scopes, else scopes, each through the OIDC allowlist', () => {
    expect(challengeScopeHint({ required_scopes: ['openid', 'clickhouse:read'], scopes: ['email'] })).toBe('openid');
    expect(challengeScopeHint({ required_scopes: ['clickhouse:read'], scopes: ['openid', 'email'] })).toBe('openid email');
    expect(challengeScopeHint({ required_scopes: [], scopes: [] })).toBe('');
  });
});

describe('authFailureResponse', () => {
  const context = { resourceMetadataUrl: PRM_URL, oauth: { required_scopes: [], scopes: ['openid', 'email'] } };

  it('vectors 21/25: a missing token → 401 invalid_token with resource_metadata and the JSON body', () => {
    const response = authFailureResponse('missing', context);
    expect(response.status).toBe(401);
    expect(response.headers['WWW-Authenticate']).toBe(
      `Bearer error="invalid_token", error_description="Authentication required", resource_metadata="${PRM_URL}", scope="openid email"`,
    );
    expect(response.headers['Content-Type']).toBe('application/json');
    expect(response.body).toEqual({ error: 'invalid_token', error_description: 'Authentication required' });
  });

  it('vector 24: an expired token → error_description="OAuth token expired"', () => {
    const response = authFailureResponse('expired', context);
    expect(response.status).toBe(401);
    expect(response.headers['WWW-Authenticate']).toContain('error_description="OAuth token expired"');
  });

  it('every refusal reason of the verifier has a 401 with a readable description, except scope and key outages', () => {
    for (const reason of ['not_yet_valid', 'bad_signature', 'wrong_issuer', 'wrong_audience', 'unknown_kid', 'malformed', 'opaque'] as const) {
      const response = authFailureResponse(reason, context);
      expect(response.status, reason).toBe(401);
      expect(response.headers['WWW-Authenticate'], reason).toMatch(/^Bearer error="invalid_token", error_description="[^"]+", resource_metadata=/);
      expect(response.body.error_description.length, reason).toBeGreaterThan(10);
    }
  });

  it('insufficient scope → 403 with every required scope (custom ones too) for step-up', () => {
    const response = authFailureResponse('insufficient_scope', {
      resourceMetadataUrl: PRM_URL,
      oauth: { required_scopes: ['openid', 'clickhouse:read'], scopes: [] },
    });
    expect(response.status).toBe(403);
    expect(response.headers['WWW-Authenticate']).toBe(
      `Bearer error="insufficient_scope", error_description="Insufficient OAuth scopes", resource_metadata="${PRM_URL}", scope="openid clickhouse:read"`,
    );
    expect(response.body).toEqual({ error: 'insufficient_scope', error_description: 'Insufficient OAuth scopes' });
  });
});
