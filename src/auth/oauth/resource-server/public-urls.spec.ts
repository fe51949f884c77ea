import { describe, expect, it } from 'vitest';
import {
  authorizationServerBaseUrl,
  canonicalResourceUrl,
  joinUrlPath,
  normalizeUrl,
  normalizedPath,
  pathFromConfiguredUrl,
  protectedResourceMetadataUrl,
  resourceBaseUrl,
  schemeAndHost,
  suffixPrefix,
  type PublicRequestView,
  type PublicServerView,
  type PublicUrlOAuthConfig,
} from './public-urls.js';

const server: PublicServerView = { address: '0.0.0.0', port: 8080, tlsEnabled: false, openapiTls: false };
const oauth = (overrides: Partial<PublicUrlOAuthConfig> = {}): PublicUrlOAuthConfig => ({
  public_resource_url: '',
  public_auth_server_url: '',
  audience: '',
  issuer: '',
  broker: false,
  ...overrides,
});
const request = (overrides: Partial<PublicRequestView> = {}): PublicRequestView => ({
  host: 'mcp.example.com',
  encrypted: false,
  path: '/mcp',
  ...overrides,
});

describe('SDK URL helpers (ported by behaviour)', () => {
  it('normalizeUrl trims whitespace and every trailing slash', () => {
    expect(normalizeUrl('  https://h/x///  ')).toBe('https://h/x');
    expect(normalizeUrl('')).toBe('');
  });

  it('canonicalResourceUrl adds exactly one trailing slash; "" stays ""', () => {
    expect(canonicalResourceUrl('https://h')).toBe('https://h/');
    expect(canonicalResourceUrl(' https://h/mcp// ')).toBe('https://h/mcp/');
    expect(canonicalResourceUrl('   ')).toBe('');
  });

  it('normalizedPath: fallback when blank, leading slash, "/" stays, trailing slash stripped', () => {
    expect(normalizedPath('', '/oauth/authorize')).toBe('/oauth/authorize');
    expect(normalizedPath('authorize/')).toBe('/authorize');
    expect(normalizedPath('/')).toBe('/');
    expect(normalizedPath('', '')).toBe('');
    expect(normalizedPath('//')).toBe('/');
  });

  it('joinUrlPath: "" or "/" returns the normalised base', () => {
    expect(joinUrlPath('https://h/', '/oauth/token')).toBe('https://h/oauth/token');
    expect(joinUrlPath('https://h/', '/')).toBe('https://h');
    expect(joinUrlPath('https://h//', '')).toBe('https://h');
  });

  it('suffixPrefix is a plain string-prefix test and needs a non-empty remainder', () => {
    expect(suffixPrefix('/.well-known/oauth-protected-resource/mcp/otel/', '/.well-known/oauth-protected-resource')).toBe(
      '/mcp/otel',
    );
    expect(suffixPrefix('/apistuff', '/api')).toBe('/stuff');
    expect(suffixPrefix('/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource')).toBe('');
    expect(suffixPrefix('/.well-known/oauth-protected-resource/', '/.well-known/oauth-protected-resource')).toBe('');
  });

  it('pathFromConfiguredUrl: the path without trailing slash; "" for a non-URL', () => {
    expect(pathFromConfiguredUrl('https://h/realms/mcp/')).toBe('/realms/mcp');
    expect(pathFromConfiguredUrl('clickhouse-mcp')).toBe('');
    expect(pathFromConfiguredUrl('')).toBe('');
  });
});

describe('schemeAndHost', () => {
  it('https iff TLS on the request, server.tls or openapi.tls; X-Forwarded-Proto is not an input', () => {
    expect(schemeAndHost(request(), server)).toBe('http://mcp.example.com');
    expect(schemeAndHost(request({ encrypted: true }), server)).toBe('https://mcp.example.com');
    expect(schemeAndHost(request(), { ...server, tlsEnabled: true })).toBe('https://mcp.example.com');
    expect(schemeAndHost(request(), { ...server, openapiTls: true })).toBe('https://mcp.example.com');
  });

  it('falls back to address:port for an empty or hostile Host', () => {
    for (const host of [undefined, '', 'a/b', 'a<b', 'a"b', "a'b", 'a\\b', 'evil@host', 'h?x', 'h#x', 'h x', 'h\r\nX: y', 'hé', 'a:b', '[::1', 'a:99999']) {
      expect(schemeAndHost(request({ host }), server), String(host)).toBe('http://0.0.0.0:8080');
    }
    expect(schemeAndHost(request({ host: 'h:9000' }), server)).toBe('http://h:9000');
    expect(schemeAndHost(request({ host: '[::1]:8443' }), server)).toBe('http://[::1]:8443');
  });
});

describe('resourceBaseUrl', () => {
  it('public_resource_url wins, trailing slashes removed', () => {
    expect(resourceBaseUrl(request(), server, oauth({ public_resource_url: ' https://mcp.example.com/mcp/ ' }))).toBe(
      'https://mcp.example.com/mcp',
    );
  });

  it('otherwise the serving origin plus the suffix after a well-known marker', () => {
    const prm = request({ path: '/.well-known/oauth-protected-resource/mcp/otel' });
    expect(resourceBaseUrl(prm, server, oauth())).toBe('http://mcp.example.com/mcp/otel');
  });

  it('fix: the audience path is used only when the audience is an absolute URL (Go gave http://hostclickhouse-mcp)', () => {
    expect(resourceBaseUrl(request(), server, oauth({ audience: 'clickhouse-mcp' }))).toBe('http://mcp.example.com');
    expect(resourceBaseUrl(request(), server, oauth({ audience: 'https://mcp.example.com/ch/' }))).toBe(
      'http://mcp.example.com/ch',
    );
  });
});

describe('authorizationServerBaseUrl', () => {
  it('public_auth_server_url wins', () => {
    expect(authorizationServerBaseUrl(request(), server, oauth({ public_auth_server_url: 'https://as.example.com/' }))).toBe(
      'https://as.example.com',
    );
  });

  it('fix: never falls back to the path of the upstream issuer (Go gave …/realms/mcp/oauth/authorize)', () => {
    const keycloak = oauth({ broker: true, issuer: 'https://keycloak.example.com/realms/mcp' });
    expect(authorizationServerBaseUrl(request(), server, keycloak)).toBe('http://mcp.example.com');
  });

  it('keeps the suffix after the AS / OIDC well-known marker', () => {
    const alias = request({ path: '/.well-known/oauth-authorization-server/oauth' });
    expect(authorizationServerBaseUrl(alias, server, oauth())).toBe('http://mcp.example.com/oauth');
    const oidc = request({ path: '/.well-known/openid-configuration/tenant' });
    expect(authorizationServerBaseUrl(oidc, server, oauth())).toBe('http://mcp.example.com/tenant');
  });
});

describe('protectedResourceMetadataUrl', () => {
  it('root resource: byte-identical to Go (vector 28)', () => {
    expect(
      protectedResourceMetadataUrl(request(), server, oauth({ public_resource_url: 'https://mcp.example.com/' })),
    ).toBe('https://mcp.example.com/.well-known/oauth-protected-resource');
  });

  it('resource with a path: the RFC 9728 path-aware location (deliberately not Go\'s …/mcp/.well-known/…)', () => {
    expect(
      protectedResourceMetadataUrl(request(), server, oauth({ public_resource_url: 'https://mcp.example.com/mcp' })),
    ).toBe('https://mcp.example.com/.well-known/oauth-protected-resource/mcp');
  });

  it('multicluster (vector 26): serving host, upgraded to https when the resource is https', () => {
    const multi = request({ host: 'multi-mcp.example.com', path: '/mcp/otel', encrypted: true });
    const cfg = oauth({ public_resource_url: 'https://otel-mcp.example.com/' });
    expect(protectedResourceMetadataUrl(multi, server, cfg, 'otel')).toBe(
      'https://multi-mcp.example.com/mcp/otel/.well-known/oauth-protected-resource',
    );
    expect(protectedResourceMetadataUrl({ ...multi, encrypted: false }, server, cfg, 'otel')).toBe(
      'https://multi-mcp.example.com/mcp/otel/.well-known/oauth-protected-resource',
    );
    expect(protectedResourceMetadataUrl(multi, server, cfg)).toBe(
      'https://otel-mcp.example.com/.well-known/oauth-protected-resource',
    );
  });

  it('derived from the request when public_resource_url is unset', () => {
    expect(protectedResourceMetadataUrl(request(), server, oauth())).toBe(
      'http://mcp.example.com/.well-known/oauth-protected-resource',
    );
  });
});
