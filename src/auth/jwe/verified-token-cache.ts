/**
 * A bounded cache of tokens already verified, keyed by a hash of the token (never the token itself), so a
 * client that sends the same token on every MCP request pays for the decryption once. An entry is never
 * served past the token's `exp`, nor past `maxAgeMs` (so a change on disk under `tls_material_dir`, e.g. a
 * symlink re-pointed out of it, is seen again within that time), and the whole cache is dropped when the
 * secrets or the connection rules change (`generation`). Failures are not cached: an attacker sending random
 * tokens must not be able to evict the good ones, and refusals are cheap.
 */
export class VerifiedTokenCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAtMs: number }>();
  private generation = '';

  constructor(
    private readonly maxEntries = 1024,
    private readonly maxAgeMs = 60_000,
  ) {}

  /** Drops every entry when `generation` (a fingerprint of the secrets and rules in force) changes. */
  useGeneration(generation: string): void {
    if (generation === this.generation) return;
    this.generation = generation;
    this.entries.clear();
  }

  get(key: string, nowMs: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (nowMs >= entry.expiresAtMs) {
      this.entries.delete(key);
      return undefined;
    }
    // Least recently used goes first: re-insert to move this one to the back.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** `tokenExpiresAt` in Unix seconds: the token stays valid through that whole second (`now > exp` refuses). */
  set(key: string, value: V, nowMs: number, tokenExpiresAt?: number): void {
    let expiresAtMs = nowMs + this.maxAgeMs;
    if (tokenExpiresAt !== undefined) expiresAtMs = Math.min(expiresAtMs, (tokenExpiresAt + 1) * 1000);
    if (expiresAtMs <= nowMs) return;
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expiresAtMs });
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
