import { of, lastValueFrom } from 'rxjs';
import type { ExecutionContext } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { oauthIdentity, tokenDigest } from '../auth/oauth/resource-server/oauth-resource-server.service.js';
import { QueryEvents } from '../common/events/query-events.js';
import { RequestObservers } from '../common/http/request-observers.js';
import { getRequestContext, type RequestConnectionContext, setRequestContext, STATIC_IDENTITY } from '../common/request-context.js';
import { ShutdownState } from '../common/shutdown/shutdown.state.js';
import { parseArgs } from '../config/config.cli.js';
import { loadConfig } from '../config/config.loader.js';
import { ConfigStore } from '../config/config.store.js';
import type { GatewayConfig } from '../config/config.types.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { catalogFullKey, catalogKey, credentialCatalogKey } from './catalog-key.js';
import { CatalogDiscoveryInterceptor } from './catalog-discovery.interceptor.js';
import { CatalogService, MISSING_CREDENTIAL } from './catalog.service.js';

const services: CatalogService[] = [];

/** A CatalogService over a config object built here (multicluster is refused at boot until routing lands). */
function build(options: { flags?: string[]; edit?: (cfg: GatewayConfig) => void } = {}) {
  const args = parseArgs(['--transport', 'http', ...(options.flags ?? [])]);
  const loaded = loadConfig({ args, env: {} });
  options.edit?.(loaded.config);
  const config = new ConfigStore({ input: { args, env: {} }, loaded });
  const metrics = new MetricsService(config, new RequestObservers(), new ShutdownState(), new QueryEvents());
  const catalog = new CatalogService(config, metrics);
  services.push(catalog);
  return { catalog, metrics, config };
}

const multicluster = (allowlist: string[] = ['otel', 'antalya']) => (cfg: GatewayConfig) => {
  cfg.multicluster.enabled = true;
  cfg.multicluster.cluster_allowlist = allowlist;
};

const ctx = (identity: RequestConnectionContext['identity'], cluster?: string): RequestConnectionContext => ({
  requestId: 'r1',
  identity,
  clickhouse: {},
  ...(cluster ? { cluster } : {}),
});

const fakeJwt = (payload: Record<string, unknown>): string =>
  `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;

afterEach(() => {
  for (const s of services.splice(0)) s.onApplicationShutdown();
});

describe('CatalogService: whose catalog a request reads', () => {
  it('no JWE/OAuth: one shared static catalog', () => {
    const { catalog } = build();
    expect(catalog.scope(ctx(STATIC_IDENTITY))).toEqual({ ok: true, mode: 'static', fullKey: 'static\u0000singlecluster', cluster: 'singlecluster' });
  });

  it('JWE or OAuth on: a request without a credential gets no catalog (static credentials never discover)', () => {
    const { catalog } = build({ edit: (cfg) => void (cfg.server.oauth.enabled = true) });
    expect(catalog.scope(ctx(STATIC_IDENTITY))).toEqual({ ok: false, reason: MISSING_CREDENTIAL });
    expect(MISSING_CREDENTIAL).toBe('missing usable authentication token');
  });

  it('JWE: the identity key (CacheKey("jwe\\0"+token)) + \\0singlecluster, bounded by the token exp', () => {
    const { catalog } = build();
    const key = credentialCatalogKey('jwe', 'same-token');
    expect(catalog.scope(ctx({ kind: 'jwe', cacheKey: key, expiresAt: 4_102_444_800 }))).toEqual({
      ok: true,
      mode: 'credential',
      fullKey: catalogFullKey(key, 'singlecluster'),
      cluster: 'singlecluster',
      expiresAtMs: 4_102_444_800_000,
    });
  });

  it('OAuth single cluster: CacheKey("oauth\\0"+bearer), the OAuth key of X differs from the JWE key of X', () => {
    const { catalog } = build();
    const bearer = fakeJwt({ sub: 'alice', exp: 4_102_444_800 });
    const identity = oauthIdentity(tokenDigest(bearer), { ok: true, kind: 'opaque', clickhouseToken: bearer, claims: {}, scopes: [] }, bearer);
    const scope = catalog.scope(ctx(identity));
    expect(scope).toMatchObject({ ok: true, mode: 'credential', fullKey: catalogFullKey(credentialCatalogKey('oauth', bearer)), expiresAtMs: 4_102_444_800_000 });
    expect(credentialCatalogKey('oauth', bearer)).not.toBe(credentialCatalogKey('jwe', bearer));
    expect(JSON.stringify(identity)).not.toContain(bearer);
  });

  it('multicluster: CacheKey(bearer) + \\0 + cluster; the verified exp wins over the unverified one', () => {
    const { catalog } = build({ edit: multicluster() });
    const bearer = fakeJwt({ sub: 'alice', exp: 4_102_444_800 });
    const identity = oauthIdentity(tokenDigest(bearer), { ok: true, kind: 'jwt', clickhouseToken: bearer, claims: {}, scopes: [], expiresAt: 2_000_000_000 }, bearer);
    expect(catalog.scope(ctx(identity, 'otel'))).toEqual({
      ok: true,
      mode: 'multicluster',
      fullKey: `${catalogKey(bearer)}\u0000otel`,
      cluster: 'otel',
      expiresAtMs: 2_000_000_000_000,
    });
    expect(catalog.scope(ctx(STATIC_IDENTITY, 'otel'))).toEqual({ ok: false, reason: MISSING_CREDENTIAL });
  });

  it('cluster labels are bounded: allowlisted names, singlecluster without multicluster, else other', () => {
    expect(build().catalog.clusterLabel('anything')).toBe('singlecluster');
    const mc = build({ edit: multicluster(['otel']) }).catalog;
    expect(mc.clusterLabel('otel')).toBe('otel');
    expect(mc.clusterLabel('evil-cluster')).toBe('other');
    expect(mc.clusterLabel(undefined)).toBe('other');
  });
});

describe('CatalogService: generations, health, shutdown', () => {
  it('an effective configuration change drops the entries; a reload that changed nothing keeps them', async () => {
    const { catalog, config } = build();
    const scope = catalog.scope(ctx(STATIC_IDENTITY));
    if (!scope.ok) throw new Error('unreachable');
    const first = config.current;
    await catalog.lookup(first, scope, async () => ['t']);
    const sameContent = structuredClone(first);
    expect((await catalog.lookup(sameContent, scope, async () => ['other'])).outcome).toBe('hit_ok');
    const changed = structuredClone(first);
    changed.server.tools = [{ type: 'read', view_regexp: 'x\\..*' }] as GatewayConfig['server']['tools'];
    expect((await catalog.lookup(changed, scope, async () => ['new'])).outcome).toBe('miss');
    // A request still holding the old generation does not wipe the new one.
    expect((await catalog.lookup(first, scope, async () => ['stale'])).outcome).toBe('hit_ok');
  });

  it('multicluster: the per-cluster request configs (their own clickhouse host) are one generation, not a reload each', async () => {
    const { catalog, config } = build({ edit: multicluster(['a', 'b']) });
    const perCluster = (host: string): GatewayConfig => ({ ...config.current, clickhouse: { ...config.current.clickhouse, host } });
    const forA = perCluster('chi-a.example');
    const forB = perCluster('chi-b.example');
    const identity = { kind: 'oauth' as const, cacheKey: 'oauth:x', bearerCatalogKey: 'tok:abc' };
    const scopeA = catalog.scope(ctx(identity, 'a'));
    const scopeB = catalog.scope(ctx(identity, 'b'));
    if (!scopeA.ok || !scopeB.ok) throw new Error('unreachable');
    expect((await catalog.lookup(forA, scopeA, async () => ['a-tools'])).outcome).toBe('miss');
    expect((await catalog.lookup(forB, scopeB, async () => ['b-tools'])).outcome).toBe('miss');
    expect(await catalog.lookup(forA, scopeA, async () => ['again'])).toMatchObject({ outcome: 'hit_ok', value: ['a-tools'] });
  });

  it('/health catalog_cache only in multicluster mode, with altinity-mcp names and the configured max', () => {
    expect(build().catalog.healthSnapshot()).toBeUndefined();
    const snapshot = build({ edit: multicluster() }).catalog.healthSnapshot();
    expect(snapshot).toEqual({
      entries: 0,
      denied_entries: 0,
      max: 10_000,
      hits_ok: 0,
      hits_denied: 0,
      misses: 0,
      full_drops_ok: 0,
      full_drops_denied: 0,
      discovery_saturate: 0,
      discovery_auth_err: 0,
      discovery_transient_err: 0,
    });
  });

  it('reads the boot multicluster values (max, TTLs, discovery_wait) into the cache', async () => {
    const { catalog } = build({
      edit: (cfg) => {
        multicluster()(cfg);
        cfg.multicluster.catalog_cache_max = 100;
      },
    });
    expect(catalog.healthSnapshot()?.max).toBe(100);
  });

  it('shutdown stops the janitor', () => {
    const { catalog } = build();
    expect(catalog.cache.closed).toBe(false);
    catalog.onApplicationShutdown();
    catalog.onApplicationShutdown();
    expect(catalog.cache.closed).toBe(true);
  });
});

describe('catalog metrics', () => {
  const FAMILIES = [
    ['entries', 'gauge'],
    ['denied_entries', 'gauge'],
    ['max_entries', 'gauge'],
    ['hits_ok_total', 'counter'],
    ['hits_denied_total', 'counter'],
    ['misses_total', 'counter'],
    ['full_drops_ok_total', 'counter'],
    ['full_drops_denied_total', 'counter'],
    ['discovery_saturated_total', 'counter'],
    ['discovery_auth_errors_total', 'counter'],
    ['discovery_transient_errors_total', 'counter'],
  ] as const;

  it('multicluster with metrics on: the 11 altinity_mcp_catalog_cache_* families mirror the /health snapshot', async () => {
    const { catalog, metrics, config } = build({ edit: multicluster() });
    const scope = catalog.scope(ctx({ kind: 'oauth', cacheKey: 'oauth:x', bearerCatalogKey: catalogKey('b') }, 'otel'));
    if (!scope.ok) throw new Error('unreachable');
    await catalog.lookup(config.current, scope, async () => ['t']);
    await catalog.lookup(config.current, scope, async () => ['t']);
    const body = (await metrics.render()).body;
    for (const [suffix, type] of FAMILIES) {
      expect(body).toContain(`# HELP altinity_mcp_catalog_cache_${suffix} Catalog cache ${suffix}.`);
      expect(body).toContain(`# TYPE altinity_mcp_catalog_cache_${suffix} ${type}`);
    }
    expect(body).toContain('altinity_mcp_catalog_cache_entries 1');
    expect(body).toContain('altinity_mcp_catalog_cache_max_entries 10000');
    expect(body).toContain('altinity_mcp_catalog_cache_misses_total 1');
    expect(body).toContain('altinity_mcp_catalog_cache_hits_ok_total 1');
    // Scraping twice does not double a counter (each scrape mirrors the cache's totals).
    expect((await metrics.render()).body).toContain('altinity_mcp_catalog_cache_hits_ok_total 1');
  });

  it('no catalog-cache families without multicluster, nor with metrics off', async () => {
    expect((await build().metrics.render()).body).not.toContain('altinity_mcp_catalog_cache_');
    const off = build({ flags: ['--metrics-enabled=false'], edit: multicluster() });
    expect((await off.metrics.render()).body.trim()).toBe('');
  });

  it('the interceptor records one lookup per request with a bounded cluster label, and the miss duration', async () => {
    const { catalog, metrics } = build({ edit: multicluster(['otel']) });
    const interceptor = new CatalogDiscoveryInterceptor(catalog, metrics);
    const run = async (cluster: string, record?: RequestConnectionContext['catalogLookup']) => {
      const req = { headers: {} } as never;
      setRequestContext(req, { ...ctx({ kind: 'oauth', cacheKey: 'oauth:x' }, cluster) });
      const http = { switchToHttp: () => ({ getRequest: () => req, getResponse: () => ({ getHeader: () => undefined }) }), getType: () => 'http' };
      await lastValueFrom(
        interceptor.intercept(http as unknown as ExecutionContext, {
          handle: () => {
            if (record) getRequestContext(req)!.catalogLookup = record;
            return of(undefined);
          },
        }),
      );
      return getRequestContext(req)!;
    };
    const after = await run('otel', { outcome: 'miss', discoveryMs: 1_500 });
    expect(after.catalogLookup).toBeUndefined(); // consumed
    await run('evil-name', { outcome: 'hit_denied' });
    await run('otel'); // looked nothing up: nothing recorded
    const body = (await metrics.render()).body;
    expect(body).toContain('mcp_catalog_discovery_total{cluster="otel",outcome="miss"} 1');
    expect(body).toContain('mcp_catalog_discovery_total{cluster="other",outcome="hit_denied"} 1');
    expect(body).not.toContain('evil-name');
    expect(body).toContain('mcp_catalog_discovery_duration_seconds_bucket{le="2",cluster="otel"} 1');
    expect(body).toContain('mcp_catalog_discovery_duration_seconds_bucket{le="1",cluster="otel"} 0');
    expect(body).toContain('mcp_catalog_discovery_duration_seconds_count{cluster="otel"} 1');
    expect(body).not.toContain('mcp_catalog_discovery_duration_seconds_count{cluster="other"}');
  });

  it('the interceptor gives a request without a context the static one, shared with the handler', async () => {
    const { catalog, metrics } = build();
    const interceptor = new CatalogDiscoveryInterceptor(catalog, metrics);
    const req = { headers: {} } as never;
    const http = { switchToHttp: () => ({ getRequest: () => req, getResponse: () => ({ getHeader: () => 'rid-7' }) }), getType: () => 'http' };
    let seen: RequestConnectionContext | undefined;
    await lastValueFrom(
      interceptor.intercept(http as unknown as ExecutionContext, {
        handle: () => {
          seen = getRequestContext(req);
          seen!.catalogLookup = { outcome: 'hit_ok' };
          return of(undefined);
        },
      }),
    );
    expect(seen).toMatchObject({ requestId: 'rid-7', identity: STATIC_IDENTITY, clickhouse: {} });
    expect((await metrics.render()).body).toContain('mcp_catalog_discovery_total{cluster="singlecluster",outcome="hit_ok"} 1');
  });
});

describe('/health catalog_cache', () => {
  const fakeRes = () => {
    const res = { statusCode: 0, headers: {} as Record<string, unknown>, body: '', setHeader: (k: string, v: unknown) => void (res.headers[k] = v), end: (t: string) => void (res.body = t) };
    return res;
  };

  it('multicluster: /health carries catalog_cache with the live counters; single cluster: no such key', async () => {
    const { HealthController } = await import('../health/health.controller.js');
    const { createGatewayConfigService } = await import('../config/config.module.js');
    for (const mode of ['multicluster', 'single'] as const) {
      const { catalog, metrics, config } = build({
        edit: (cfg) => {
          cfg.server.oauth.enabled = true; // multicluster needs OAuth; /health then does not ping
          if (mode === 'multicluster') multicluster()(cfg);
        },
      });
      const scope = catalog.scope(ctx({ kind: 'oauth', cacheKey: 'oauth:x', bearerCatalogKey: catalogKey('b'), catalogKey: credentialCatalogKey('oauth', 'b') }, 'otel'));
      if (!scope.ok) throw new Error('unreachable');
      await catalog.lookup(config.current, scope, async () => Promise.reject(Object.assign(new Error('refused'), { httpStatus: 401 })));
      await catalog.lookup(config.current, scope, async () => ['never']);
      const controller = new HealthController({} as never, {} as never, createGatewayConfigService(config) as never, new ShutdownState(), metrics, catalog);
      const res = fakeRes();
      await controller.healthCheck({ method: 'GET' } as never, res as never);
      const body = JSON.parse(res.body) as Record<string, unknown>;
      expect(res.statusCode).toBe(200);
      if (mode === 'single') {
        expect(body).not.toHaveProperty('catalog_cache');
        continue;
      }
      expect(Object.keys(body)).toEqual(['auth', 'catalog_cache', 'status', 'timestamp', 'version']);
      expect(body.catalog_cache).toEqual({
        entries: 1,
        denied_entries: 1,
        max: 10_000,
        hits_ok: 0,
        hits_denied: 1,
        misses: 1,
        full_drops_ok: 0,
        full_drops_denied: 0,
        discovery_saturate: 0,
        discovery_auth_err: 1,
        discovery_transient_err: 0,
      });
    }
  });
});
