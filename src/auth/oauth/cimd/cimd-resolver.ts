import { SafeFetchError, SsrfBlockedError, SsrfSafeFetcher, type SafeFetchResponse, type SsrfSafeFetchOptions } from '../ssrf/ssrf-safe-fetcher.js';
import { CIMD_CACHE_CAPACITY, CIMD_NEGATIVE_TTL_MS, ExpiringFifoCache, cacheTtlFromHeader } from './cimd-cache.js';
import { parseCimdDocument, type CimdClient } from './cimd-document.js';
import { CimdError } from './cimd-errors.js';
import { clientIdUrlViolation } from './cimd-url.js';

export const CIMD_MAX_BODY_BYTES = 5120;
export const CIMD_FETCH_TIMEOUT_MS = 3000;

/** The fetch settings §2.7 fixes for CIMD documents; `resolver`/`testOnly` are for tests. */
export function createCimdFetcher(overrides: Pick<SsrfSafeFetchOptions, 'resolver' | 'testOnly'> = {}): SsrfSafeFetcher {
  return new SsrfSafeFetcher({
    maxBodyBytes: CIMD_MAX_BODY_BYTES,
    timeoutMs: CIMD_FETCH_TIMEOUT_MS,
    acceptedMediaTypes: ['application/json'],
    ...overrides,
  });
}

export interface DocumentFetcher {
  fetch(url: string): Promise<SafeFetchResponse>;
}

export interface CimdResolverOptions {
  readonly fetcher?: DocumentFetcher;
  readonly now?: () => number;
  readonly capacity?: number;
}

/**
 * Resolves a CIMD `client_id` URL to its validated client (§2.7). Differences from Go, deliberate (§6.2 item 11):
 * - Invalid URLs are refused without touching the cache (the check costs less than a lookup, and caching them
 *   let any caller evict real clients with junk strings).
 * - Negative entries live in their own bounded FIFO, so failures can never evict or shadow a cached client.
 * - Concurrent misses for one URL share a single fetch.
 * Fetch failures (`fetch`) are never negative-cached; `invalid_metadata` and `ssrf_blocked` are, for 30 s.
 */
export class CimdResolver {
  private readonly fetcher: DocumentFetcher;
  private readonly positive: ExpiringFifoCache<CimdClient>;
  private readonly negative: ExpiringFifoCache<CimdError>;
  private readonly inFlight = new Map<string, Promise<CimdClient>>();

  constructor(options: CimdResolverOptions = {}) {
    this.fetcher = options.fetcher ?? createCimdFetcher();
    const now = options.now ?? Date.now;
    this.positive = new ExpiringFifoCache(options.capacity ?? CIMD_CACHE_CAPACITY, now);
    this.negative = new ExpiringFifoCache(options.capacity ?? CIMD_CACHE_CAPACITY, now);
  }

  async resolve(clientId: string): Promise<CimdClient> {
    const violation = clientIdUrlViolation(clientId);
    if (violation !== undefined) throw new CimdError('invalid_url', violation);
    const cached = this.positive.get(clientId);
    if (cached) return cached;
    const failed = this.negative.get(clientId);
    if (failed) throw failed;
    let pending = this.inFlight.get(clientId);
    if (!pending) {
      pending = this.load(clientId).finally(() => this.inFlight.delete(clientId));
      this.inFlight.set(clientId, pending);
    }
    return pending;
  }

  /** Remaining positive-cache lifetime in ms (0 = not cached). */
  cachedTtl(clientId: string): number {
    return this.positive.ttlOf(clientId);
  }

  isNegativelyCached(clientId: string): boolean {
    return this.negative.get(clientId) !== undefined;
  }

  private async load(clientId: string): Promise<CimdClient> {
    let response: SafeFetchResponse;
    try {
      response = await this.fetcher.fetch(clientId);
    } catch (error) {
      if (error instanceof SsrfBlockedError) {
        // The address stays out of the text: telling a caller what an internal name resolves to is an oracle.
        throw this.remember(clientId, new CimdError('ssrf_blocked', 'the host resolves to an address that may not be fetched', { cause: error }));
      }
      const detail = error instanceof SafeFetchError ? error.message : 'unexpected fetch failure';
      throw new CimdError('fetch', detail, { cause: error });
    }
    let body: string;
    try {
      body = new TextDecoder('utf-8', { fatal: true }).decode(response.body);
    } catch {
      throw this.remember(clientId, new CimdError('invalid_metadata', 'document is not valid UTF-8'));
    }
    let client: CimdClient;
    try {
      client = parseCimdDocument(clientId, body);
    } catch (error) {
      throw error instanceof CimdError ? this.remember(clientId, error) : error;
    }
    const cacheControl = response.headers['cache-control'];
    this.positive.set(clientId, client, cacheTtlFromHeader(Array.isArray(cacheControl) ? cacheControl.join(',') : cacheControl));
    this.negative.delete(clientId);
    return client;
  }

  private remember(clientId: string, error: CimdError): CimdError {
    this.negative.set(clientId, error, CIMD_NEGATIVE_TTL_MS);
    return error;
  }
}
