/**
 * How each ClickHouse endpoint takes an OAuth bearer, learnt by probing (spec auth §2.12): `bearer` when it
 * validates JWTs itself (Antalya `token_processors`), `basic` when a ch-jwt-verify sidecar does (user name +
 * the JWT as password). Keyed by the logical `host:port` (the template-expanded host, never `connect_host`).
 *
 * Unlike altinity-mcp, whose map is only emptied by a config reload, an entry expires after a TTL so that a
 * ClickHouse which gains or loses token support is re-probed without a restart; and the map is bounded, since
 * in multicluster mode without an allowlist the host comes from the request path.
 */
export type ClickHouseAuthMethod = 'bearer' | 'basic';

export interface AuthMethodCacheOptions {
  /** How long a learnt method is trusted before the next request probes again (ms). */
  ttlMs?: number;
  /** Most endpoints remembered; the oldest entry makes room. */
  maxEntries?: number;
  /** Injectable clock (ms since the epoch). */
  now?: () => number;
}

export const DEFAULT_AUTH_METHOD_TTL_MS = 10 * 60 * 1000;
export const DEFAULT_AUTH_METHOD_MAX_ENTRIES = 1024;

export function endpointKey(host: string, port: number): string {
  return `${host}:${port}`;
}

export class AuthMethodCache {
  private readonly entries = new Map<string, { method: ClickHouseAuthMethod; expiresAt: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: AuthMethodCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_AUTH_METHOD_TTL_MS;
    this.maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_AUTH_METHOD_MAX_ENTRIES);
    this.now = options.now ?? Date.now;
  }

  get(endpoint: string): ClickHouseAuthMethod | undefined {
    const entry = this.entries.get(endpoint);
    if (!entry) return undefined;
    if (this.now() >= entry.expiresAt) {
      this.entries.delete(endpoint);
      return undefined;
    }
    return entry.method;
  }

  set(endpoint: string, method: ClickHouseAuthMethod): void {
    this.entries.delete(endpoint);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(endpoint, { method, expiresAt: this.now() + this.ttlMs });
  }

  /** Forget an endpoint, e.g. when its cached method was refused (the server changed under us). */
  delete(endpoint: string): void {
    this.entries.delete(endpoint);
  }

  get size(): number {
    return this.entries.size;
  }
}
