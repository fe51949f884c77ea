import { describe, expect, it } from 'vitest';
import { parseArgs } from './config.cli.js';
import { ConfigError, loadConfig } from './config.loader.js';
import { MULTICLUSTER_NO_PLACEHOLDER_WARNING } from './config.validation.js';

/** A multicluster config that is valid: OAuth resource server, http transport, a templated host. */
const VALID_ENV: Record<string, string> = {
  MCP_MULTICLUSTER_ENABLED: 'true',
  MCP_MULTICLUSTER_CLUSTER_ALLOWLIST: 'otel,antalya',
  CLICKHOUSE_HOST: 'chi-{cluster}-{cluster}-0-0.demo',
  MCP_OAUTH_ENABLED: 'true',
  MCP_OAUTH_ISSUER: 'https://idp.example.com',
  MCP_OAUTH_AUDIENCE: 'https://mcp.example.com',
  MCP_OAUTH_PUBLIC_RESOURCE_URL: 'https://mcp.example.com',
};

function issuesOf(env: Record<string, string>, args: string[] = ['--transport', 'http']): string[] {
  try {
    loadConfig({ args: parseArgs(args), env: { ...VALID_ENV, ...env } });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

describe('multicluster validation (auth spec §3.2, vector 67)', () => {
  it('a valid configuration loads without warnings', () => {
    const loaded = loadConfig({ args: parseArgs(['--transport', 'http']), env: VALID_ENV });
    expect(loaded.config.multicluster.enabled).toBe(true);
    expect(loaded.warnings).toEqual([]);
  });

  it('JWE → "JWE is incompatible", under server.jwe.enabled, exact text', () => {
    expect(issuesOf({ MCP_ALLOW_JWE_AUTH: 'true', MCP_JWE_SECRET_KEY: 'k' })).toEqual([
      'server.jwe.enabled: multicluster: JWE is incompatible with multicluster mode (JWE claims carry their own host — bypass cluster routing). Disable server.jwe.enabled or server.multicluster.enabled',
    ]);
  });

  it('OAuth off → "requires OAuth"', () => {
    expect(issuesOf({ MCP_OAUTH_ENABLED: 'false' })).toEqual([
      'server.oauth.enabled: multicluster: requires OAuth (server.oauth.enabled=true) — multicluster relies on per-bearer cache keying and per-cluster PRM advertisement',
    ]);
  });

  it('OpenAPI → "OpenAPI must be disabled"', () => {
    expect(issuesOf({}, ['--transport', 'http', '--openapi', 'http'])).toEqual([
      'server.openapi.enabled: multicluster: OpenAPI must be disabled in v1 (server.openapi.enabled=false) — per-cluster OpenAPI schema is deferred to v2',
    ]);
  });

  it.each(['sse', 'stdio'])('transport %s → refused, http only', (transport) => {
    expect(issuesOf({}, ['--transport', transport])).toContain(
      `server.transport: multicluster mode requires transport: http (got "${transport}") — stdio/sse cannot carry per-cluster routing`,
    );
  });

  it('catalog_cache_max 50, catalog_ttl_fallback 30s, catalog_negative_ttl 10m → Go\'s texts, in §3.2 order after the mode rules', () => {
    expect(
      issuesOf({
        MCP_OAUTH_ENABLED: 'false',
        MCP_MULTICLUSTER_CATALOG_CACHE_MAX: '50',
        MCP_MULTICLUSTER_CATALOG_TTL_FALLBACK: '30s',
        MCP_MULTICLUSTER_CATALOG_NEGATIVE_TTL: '10m',
        MCP_MULTICLUSTER_CLUSTER_ALLOWLIST: 'good,Bad-Caps',
      }),
    ).toEqual([
      'server.oauth.enabled: multicluster: requires OAuth (server.oauth.enabled=true) — multicluster relies on per-bearer cache keying and per-cluster PRM advertisement',
      'multicluster.catalog_cache_max: multicluster: catalog_cache_max=50 is too small (min 100) — the cache would thrash under any meaningful number of concurrent users',
      'multicluster.catalog_ttl_fallback: multicluster: catalog_ttl_fallback=30s must be between 1m and 24h',
      'multicluster.catalog_negative_ttl: multicluster: catalog_negative_ttl=10m0s must be between 10s and 5m',
      'multicluster.cluster_allowlist: multicluster: cluster_allowlist entry "Bad-Caps" is not a valid RFC 1123 DNS label',
    ]);
  });

  it('a host without {cluster} is no error, only altinity-mcp\'s warning', () => {
    const loaded = loadConfig({ args: parseArgs(['--transport', 'http']), env: { ...VALID_ENV, CLICKHOUSE_HOST: 'ch.example' } });
    expect(loaded.warnings).toEqual([MULTICLUSTER_NO_PLACEHOLDER_WARNING]);
    expect(MULTICLUSTER_NO_PLACEHOLDER_WARNING).toMatch(/^multicluster: clickhouse\.host does not contain the \{cluster\} placeholder — all clusters will route to the same host\./);
  });

  it('the OAuth rules apply too (an audience is required)', () => {
    expect(issuesOf({ MCP_OAUTH_AUDIENCE: '' }).join('\n')).toMatch(/oauth: broker=false requires oauth\.audience/);
  });

  it('with multicluster off, the mode rules stay silent but a bad cache size is still refused (deliberately stricter than Go)', () => {
    expect(issuesOf({ MCP_MULTICLUSTER_ENABLED: 'false', MCP_OAUTH_ENABLED: 'false' }, ['--transport', 'sse'])).toEqual([]);
    expect(issuesOf({ MCP_MULTICLUSTER_ENABLED: 'false', MCP_MULTICLUSTER_CATALOG_CACHE_MAX: '-1' })).toEqual([
      'multicluster.catalog_cache_max: multicluster: catalog_cache_max=-1 is too small (min 100) — the cache would thrash under any meaningful number of concurrent users',
    ]);
  });
});
