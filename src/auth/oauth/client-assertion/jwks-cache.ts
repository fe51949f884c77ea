import type { JWK } from 'jose';
import { CIMD_CACHE_CAPACITY, ExpiringFifoCache, cacheTtlFromHeader } from '../cimd/cimd-cache.js';
import type { DocumentFetcher } from '../cimd/cimd-resolver.js';
import { SsrfSafeFetcher, type SsrfSafeFetchOptions } from '../ssrf/ssrf-safe-fetcher.js';

export const JWKS_MAX_BODY_BYTES = 64 * 1024;
export const JWKS_FETCH_TIMEOUT_MS = 3000;

/** The fetch settings §2.8 fixes for a client's `jwks_uri`; `resolver`/`testOnly` are for tests. */
export function createJwksFetcher(overrides: Pick<SsrfSafeFetchOptions, 'resolver' | 'testOnly'> = {}): SsrfSafeFetcher {
  return new SsrfSafeFetcher({
    maxBodyBytes: JWKS_MAX_BODY_BYTES,
    timeoutMs: JWKS_FETCH_TIMEOUT_MS,
    acceptedMediaTypes: ['application/json'],
    ...overrides,
  });
}

/** The key set could not be had; transient by nature, so never cached. The detail never echoes fetched bytes. */
export class JwksFetchError extends Error {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`jwks fetch failed: ${detail}`, options);
    this.name = 'JwksFetchError';
  }
}

export interface JwksCacheOptions {
  readonly fetcher?: DocumentFetcher;
  readonly now?: () => number;
  readonly capacity?: number;
}

/**
 * Client key sets by `jwks_uri`, shaped like the CIMD cache (§2.8 step 3): TTL from `Cache-Control` with the
 * CIMD rules, 1024 entries FIFO, failures never cached, concurrent misses share one fetch.
 */
export class JwksCache {
  private readonly fetcher: DocumentFetcher;
  private readonly entries: ExpiringFifoCache<readonly JWK[]>;
  private readonly inFlight = new Map<string, Promise<readonly JWK[]>>();

  constructor(options: JwksCacheOptions = {}) {
    this.fetcher = options.fetcher ?? createJwksFetcher();
    this.entries = new ExpiringFifoCache(options.capacity ?? CIMD_CACHE_CAPACITY, options.now ?? Date.now);
  }

  async get(jwksUri: string): Promise<readonly JWK[]> {
    const cached = this.entries.get(jwksUri);
    if (cached) return cached;
    let pending = this.inFlight.get(jwksUri);
    if (!pending) {
      pending = this.load(jwksUri).finally(() => this.inFlight.delete(jwksUri));
      this.inFlight.set(jwksUri, pending);
    }
    return pending;
  }

  invalidate(jwksUri: string): void {
    this.entries.delete(jwksUri);
  }

  cachedTtl(jwksUri: string): number {
    return this.entries.ttlOf(jwksUri);
  }

  private async load(jwksUri: string): Promise<readonly JWK[]> {
    let response;
    try {
      response = await this.fetcher.fetch(jwksUri);
    } catch (error) {
      // The fetcher's texts name no resolved address for blocked hosts beyond what the SSRF error says; keep
      // the public detail generic so an internal name's address is not disclosed to the client.
      throw new JwksFetchError('the key set could not be fetched', { cause: error });
    }
    let document: unknown;
    try {
      document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(response.body));
    } catch {
      throw new JwksFetchError('the key set is not valid JSON');
    }
    const keys = (document as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys) || keys.length === 0) throw new JwksFetchError('the key set has no keys');
    const usable = keys.filter((key): key is JWK => typeof key === 'object' && key !== null && !Array.isArray(key));
    const cacheControl = response.headers['cache-control'];
    this.entries.set(jwksUri, usable, cacheTtlFromHeader(Array.isArray(cacheControl) ? cacheControl.join(',') : cacheControl));
    return usable;
  }
}
