/** Cache shape and TTL rules of altinity-mcp's CIMD cache (§2.7 "Cache"); the JWKS cache (§2.8) reuses both. */

export const CIMD_CACHE_CAPACITY = 1024;
export const CIMD_DEFAULT_TTL_MS = 5 * 60_000;
export const CIMD_MAX_TTL_MS = 60 * 60_000;
export const CIMD_NEGATIVE_TTL_MS = 30_000;

/**
 * Positive TTL from a `Cache-Control` value: absent/empty or only unknown directives → 5 min; a `no-store` or
 * `no-cache` directive → 0 (do not cache); `max-age=N` → N s, N ≤ 0 → 0, N > 3600 → 1 h; a malformed
 * `max-age` is ignored.
 */
export function cacheTtlFromHeader(cacheControl: string | undefined): number {
  let ttl = CIMD_DEFAULT_TTL_MS;
  for (const raw of (cacheControl ?? '').split(',')) {
    const directive = raw.trim().toLowerCase();
    if (directive === 'no-store' || directive === 'no-cache') return 0;
    const maxAge = /^max-age=(-?\d+)$/.exec(directive);
    if (maxAge) {
      const seconds = Number(maxAge[1]); // huge values become large numbers or Infinity; both clamp below
      ttl = seconds <= 0 ? 0 : seconds > CIMD_MAX_TTL_MS / 1000 ? CIMD_MAX_TTL_MS : seconds * 1000;
    }
  }
  return ttl;
}

interface Entry<V> {
  readonly value: V;
  readonly expiresAt: number;
}

/**
 * Bounded map with per-entry expiry: FIFO eviction of the oldest insert, `get` neither promotes nor returns an
 * expired entry (it drops it). Re-inserting a key moves it to the back.
 */
export class ExpiringFifoCache<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(
    readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Remaining lifetime in ms, for tests and diagnostics; 0 when absent or expired. */
  ttlOf(key: string): number {
    const entry = this.entries.get(key);
    return entry ? Math.max(0, entry.expiresAt - this.now()) : 0;
  }

  set(key: string, value: V, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.entries.delete(key);
    while (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
