import { Inject, Injectable, type OnApplicationShutdown, Optional } from '@nestjs/common';
import type { RequestConnectionContext } from '../common/request-context.js';
import { ConfigStore } from '../config/config.store.js';
import type { GatewayConfig } from '../config/config.types.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { CatalogCache, type CatalogCacheOptions, type CatalogCacheStats, type CatalogLookup } from './catalog-cache.js';
import { catalogFullKey, SINGLE_CLUSTER, STATIC_CATALOG_KEY } from './catalog-key.js';

/** Test hook: overrides of the cache options (clock, slots, timeouts). Production passes none. */
export const CATALOG_CACHE_OPTIONS = Symbol('CATALOG_CACHE_OPTIONS');

/** upstream D.2: an auth-mode request without a usable credential gets no catalog. */
export const MISSING_CREDENTIAL = 'missing usable authentication token';

/** Where a request's catalog lives: how it is keyed decides who shares it. */
export type CatalogScope =
  | {
      ok: true;
      /** `static`: the one shared catalog (no JWE/OAuth); `credential`: per token (D.2); `multicluster`: per (bearer, cluster). */
      mode: 'static' | 'credential' | 'multicluster';
      fullKey: string;
      cluster: string;
      /** When the credential expires (ms since the epoch). */
      expiresAtMs?: number;
    }
  | { ok: false; reason: typeof MISSING_CREDENTIAL };

/** The cluster label of gateway-wide metrics: bounded by the allowlist, whatever a caller puts in the path. */
export const OTHER_CLUSTER = 'other';

/**
 * Owns the one catalog cache of the process (auth spec §3.5: built once, from the boot `multicluster.*` values,
 * which are restart-only) and decides the key of each request's catalog:
 *  - no JWE/OAuth: one shared catalog discovered with the static credentials (core behaviour);
 *  - JWE or OAuth, single cluster: one per credential, `tok:`+sha256(`jwe\0`/`oauth\0`+token) (upstream D.2);
 *  - multicluster: one per (bearer, cluster), `tok:`+sha256(bearer) + `\0` + cluster (auth §4.1).
 * A configuration reload that takes effect starts a new generation: entries are dropped so no catalog mixes
 * the rules of two generations (upstream D.2); counters carry on.
 */
@Injectable()
export class CatalogService implements OnApplicationShutdown {
  readonly cache: CatalogCache<unknown>;
  /** Boot value (restart-only). */
  readonly multicluster: boolean;
  private readonly allowlist: ReadonlySet<string>;
  private readonly generations = new WeakSet<GatewayConfig>();
  private generationFingerprint: string | undefined;

  constructor(
    private readonly config: ConfigStore,
    metrics: MetricsService,
    @Optional() @Inject(CATALOG_CACHE_OPTIONS) overrides?: Partial<CatalogCacheOptions>,
  ) {
    const mc = config.boot.multicluster;
    this.multicluster = mc.enabled;
    this.allowlist = new Set(mc.cluster_allowlist.map((name) => name.trim()).filter(Boolean));
    this.cache = new CatalogCache<unknown>({
      maxEntries: mc.catalog_cache_max,
      positiveTtlMs: mc.catalog_ttl_fallback,
      negativeTtlMs: mc.catalog_negative_ttl,
      discoveryWaitMs: mc.discovery_wait,
      ...overrides,
    });
    // altinity-mcp exports the cache only in multicluster mode (the single-cluster cache of D.2 is not exported).
    if (this.multicluster) metrics.registerCatalogCache(() => this.cache.stats());
  }

  /** The catalog this request reads, or why it has none. */
  scope(connection: RequestConnectionContext): CatalogScope {
    const { identity } = connection;
    const expiresAtMs = identity.expiresAt !== undefined && Number.isFinite(identity.expiresAt) ? identity.expiresAt * 1000 : undefined;
    const withExpiry = expiresAtMs === undefined ? {} : { expiresAtMs };
    if (this.multicluster) {
      const cluster = connection.cluster ?? SINGLE_CLUSTER;
      if (identity.kind === 'static') return { ok: false, reason: MISSING_CREDENTIAL };
      const key = identity.bearerCatalogKey ?? identity.catalogKey ?? identity.cacheKey;
      return { ok: true, mode: 'multicluster', fullKey: catalogFullKey(key, cluster), cluster, ...withExpiry };
    }
    if (identity.kind === 'static') {
      const { jwe, oauth } = this.config.current.server;
      // With JWE or OAuth on, the static credentials never discover (D.2); the guards make this unreachable.
      if (jwe.enabled || oauth.enabled) return { ok: false, reason: MISSING_CREDENTIAL };
      return { ok: true, mode: 'static', fullKey: catalogFullKey(STATIC_CATALOG_KEY), cluster: SINGLE_CLUSTER };
    }
    const key = identity.catalogKey ?? identity.cacheKey;
    return { ok: true, mode: 'credential', fullKey: catalogFullKey(key), cluster: SINGLE_CLUSTER, ...withExpiry };
  }

  /** Looks the scope's catalog up under the configuration generation `cfg` (see the class comment). */
  lookup<T>(
    cfg: GatewayConfig,
    scope: Extract<CatalogScope, { ok: true }>,
    discover: (signal: AbortSignal) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<CatalogLookup<T>> {
    this.enterGeneration(cfg);
    return (this.cache as CatalogCache<T>).lookup(scope.fullKey, discover, {
      ...(scope.expiresAtMs !== undefined ? { expiresAtMs: scope.expiresAtMs } : {}),
      ...(signal ? { signal } : {}),
    });
  }

  /** The metric label of a request's cluster: an allowlisted name, `singlecluster` without multicluster, else `other`. */
  clusterLabel(cluster: string | undefined): string {
    if (!this.multicluster) return SINGLE_CLUSTER;
    return cluster !== undefined && this.allowlist.has(cluster) ? cluster : OTHER_CLUSTER;
  }

  /** altinity-mcp's `/health` `catalog_cache` object: multicluster mode only. */
  healthSnapshot(): CatalogCacheStats | undefined {
    return this.multicluster ? this.cache.stats() : undefined;
  }

  onApplicationShutdown(): void {
    this.cache.close();
  }

  /**
   * A configuration object not seen before whose effective content differs from the last generation's: the old
   * entries go. A reload that changed nothing effective (upstream: "preserving catalog generation") keeps them.
   */
  private enterGeneration(cfg: GatewayConfig): void {
    if (this.generations.has(cfg)) return;
    this.generations.add(cfg);
    const { reload_time: _ignored, ...effective } = cfg;
    // Multicluster: each cluster's request config differs only in `clickhouse` (the cluster's frozen copy of the
    // boot values, restart-only), so `clickhouse` is not part of the generation; otherwise switching clusters
    // would look like a reload and empty the cache.
    const fingerprint = JSON.stringify(this.multicluster ? { ...effective, clickhouse: undefined } : effective);
    if (this.generationFingerprint !== undefined && fingerprint !== this.generationFingerprint) this.cache.clear();
    this.generationFingerprint = fingerprint;
  }
}
