import type { ClickHouseConfig, GatewayConfig } from '../config/config.types.js';
import { CLUSTER_PLACEHOLDER, isValidClusterName } from './cluster-name.js';

/**
 * Multicluster routing (auth spec §3.3, upstream §C): which `{cluster}` names exist and the ClickHouse config of
 * each. Built once from the boot configuration — routing and per-cluster configs are restart-only (§3.5) — and
 * pure: no HTTP, no ClickHouse.
 *
 * A cluster's config is an independent copy of the boot `clickhouse.*` with every `{cluster}` in `host` replaced;
 * port, TLS, `connect_host`, credentials and caps are shared. The copy is deep-frozen, so no request can change
 * what the next one (or another cluster) gets, and the same object serves every request of a cluster (the
 * ClickHouse module builds and hashes its connection once per config object).
 */
export type ClusterLookup =
  | { ok: true; cluster: string; clickhouse: Readonly<ClickHouseConfig> }
  /** `malformed`: not an RFC 1123 label; `not_allowed`: a valid label outside the allowlist. */
  | { ok: false; reason: 'malformed' | 'not_allowed' };

/** Per-cluster configs kept at once: bounded, because an empty allowlist admits any label a caller sends. */
const MAX_MEMOIZED = 256;

export class ClusterRouter {
  private readonly allowlist: ReadonlySet<string> | undefined;
  private readonly base: Readonly<ClickHouseConfig>;
  private readonly memo = new Map<string, Readonly<ClickHouseConfig>>();
  /** Request configs: the configuration in force with `clickhouse` replaced by a cluster's, per (config, cluster). */
  private readonly requestConfigs = new WeakMap<GatewayConfig, Map<string, GatewayConfig>>();

  constructor(boot: Pick<GatewayConfig, 'clickhouse' | 'multicluster'>) {
    const names = boot.multicluster.cluster_allowlist.map((name) => name.trim()).filter((name) => name !== '');
    for (const name of names) {
      if (!isValidClusterName(name)) throw new Error(`multicluster: cluster_allowlist entry ${JSON.stringify(name)} is not a valid RFC 1123 DNS label`);
    }
    // An empty allowlist admits any valid label (altinity-mcp); the host template still confines it to one label.
    this.allowlist = names.length > 0 ? new Set(names) : undefined;
    this.base = deepFreeze(structuredClone(boot.clickhouse));
  }

  /** The allowlist as configured (empty: any valid name). */
  get allowed(): readonly string[] {
    return this.allowlist ? [...this.allowlist] : [];
  }

  /** Whether `clickhouse.host` names a per-cluster host at all (otherwise every cluster reaches the same one). */
  get templated(): boolean {
    return this.base.host.includes(CLUSTER_PLACEHOLDER);
  }

  lookup(name: string): ClusterLookup {
    if (!isValidClusterName(name)) return { ok: false, reason: 'malformed' };
    if (this.allowlist && !this.allowlist.has(name)) return { ok: false, reason: 'not_allowed' };
    return { ok: true, cluster: name, clickhouse: this.clickhouseFor(name) };
  }

  /** The configuration a request to `cluster` runs under: `current` with the cluster's ClickHouse config. */
  requestConfig(current: GatewayConfig, cluster: string, clickhouse: Readonly<ClickHouseConfig>): GatewayConfig {
    let byCluster = this.requestConfigs.get(current);
    if (!byCluster) {
      byCluster = new Map();
      this.requestConfigs.set(current, byCluster);
    }
    let config = byCluster.get(cluster);
    if (!config || config.clickhouse !== clickhouse) {
      config = Object.freeze({ ...current, clickhouse: clickhouse as ClickHouseConfig });
      if (byCluster.size >= MAX_MEMOIZED) byCluster.clear();
      byCluster.set(cluster, config);
    }
    return config;
  }

  private clickhouseFor(cluster: string): Readonly<ClickHouseConfig> {
    const known = this.memo.get(cluster);
    if (known) return known;
    const copy = structuredClone(this.base) as ClickHouseConfig;
    copy.host = copy.host.split(CLUSTER_PLACEHOLDER).join(cluster);
    const frozen = deepFreeze(copy);
    if (this.memo.size >= MAX_MEMOIZED) this.memo.delete(this.memo.keys().next().value!);
    this.memo.set(cluster, frozen);
    return frozen;
  }
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}
