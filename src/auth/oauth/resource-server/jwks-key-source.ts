import type { JSONWebKeySet } from 'jose';

/**
 * Where the issuer's signing keys come from: `jwks_url`, or the `jwks_uri` of the issuer's RFC 8414 / OIDC metadata.
 * Keys are cached for `jwks_cache_ttl` (±10 % jitter, so replicas do not refetch in step); a token with an unknown
 * `kid` may force one refetch, at most once per `unknownKidCooldownMs`, so random `kid`s cannot turn the gateway
 * into a request amplifier against the IdP.
 *
 * Every fetch goes through `DocumentFetcher`. The default one allows https, and http only on loopback (§2.3), with
 * no redirects, a time and a size cap; the wiring session may pass the SSRF-safe fetcher of `../ssrf` instead.
 */

export interface FetchedDocument {
  status: number;
  contentType: string;
  body: string;
}

export type DocumentFetcher = (url: string, limits: { timeoutMs: number; maxBytes: number }) => Promise<FetchedDocument>;

export class KeySourceError extends Error {}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** https anywhere, http only on loopback: an http JWKS on a remote host lets a network attacker forge any bearer. */
export function assertFetchableUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new KeySourceError(`${what} is not a valid URL`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return url;
  throw new KeySourceError(`${what} must use https://`);
}

/** Plain `fetch` with the caps; no redirects (a redirect could point the key fetch anywhere). */
export const defaultDocumentFetcher: DocumentFetcher = async (url, { timeoutMs, maxBytes }) => {
  assertFetchableUrl(url, 'the key or metadata URL');
  const signal = AbortSignal.timeout(timeoutMs);
  const response = await fetch(url, { redirect: 'error', signal, headers: { accept: 'application/json' } });
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new KeySourceError(`document larger than ${maxBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let received = 0;
  if (response.body) {
    for await (const chunk of response.body) {
      received += chunk.byteLength;
      if (received > maxBytes) {
        await response.body.cancel().catch(() => undefined);
        throw new KeySourceError(`document larger than ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
  }
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    body: Buffer.concat(chunks).toString('utf8'),
  };
};

export interface JwksKeySourceOptions {
  issuer: string;
  jwksUrl: string;
  /** Seconds; 0 means 5 minutes (Go's default). */
  cacheTtlSeconds: number;
  fetcher?: DocumentFetcher;
  timeoutMs?: number;
  maxBytes?: number;
  unknownKidCooldownMs?: number;
  /** After a failed fetch: how long stale keys are kept, or how long callers fail fast when there are none. */
  failureBackoffMs?: number;
  now?: () => number;
  random?: () => number;
}

interface CachedKeys {
  keys: JSONWebKeySet;
  expiresAt: number;
}

const DEFAULT_TTL_SECONDS = 300;

export class JwksKeySource {
  private readonly fetcher: DocumentFetcher;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly unknownKidCooldownMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private cached: CachedKeys | undefined;
  private inFlight: Promise<JSONWebKeySet> | undefined;
  private lastForcedRefetchAt = Number.NEGATIVE_INFINITY;
  private failedUntil = Number.NEGATIVE_INFINITY;
  private readonly failureBackoffMs: number;
  private discoveredJwksUrl: { url: string; expiresAt: number } | undefined;
  /** Fetches made (JWKS and metadata), for tests and metrics. */
  fetchCount = 0;

  constructor(private readonly options: JwksKeySourceOptions) {
    this.fetcher = options.fetcher ?? defaultDocumentFetcher;
    this.timeoutMs = options.timeoutMs ?? 3_000;
    this.maxBytes = options.maxBytes ?? 1024 * 1024;
    this.unknownKidCooldownMs = options.unknownKidCooldownMs ?? 30_000;
    this.failureBackoffMs = options.failureBackoffMs ?? 5_000;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    if (options.jwksUrl.trim() === '' && options.issuer.trim() === '') {
      throw new KeySourceError('OAuth token verification needs oauth.jwks_url or oauth.issuer');
    }
  }

  /** The cached key set, fetched when absent or stale. */
  async keys(): Promise<JSONWebKeySet> {
    if (this.cached && this.cached.expiresAt > this.now()) return this.cached.keys;
    if (!this.cached && this.failedUntil > this.now()) throw new KeySourceError('the issuer keys are unavailable');
    return this.refetch();
  }

  /**
   * One refetch for a token whose `kid` is not in the cached set. Returns undefined when a forced refetch happened
   * too recently (the caller then answers `unknown_kid` from the set it has).
   */
  async refetchForUnknownKid(): Promise<JSONWebKeySet | undefined> {
    const now = this.now();
    if (now - this.lastForcedRefetchAt < this.unknownKidCooldownMs) return undefined;
    this.lastForcedRefetchAt = now;
    return this.refetch();
  }

  private refetch(): Promise<JSONWebKeySet> {
    // Concurrent requests share one fetch.
    this.inFlight ??= this.load()
      .catch((err: unknown) => this.afterFailedLoad(err))
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  /**
   * An IdP outage must neither lock everyone out nor make every request wait for a timeout: keys we already had
   * stay in use for another back-off period (they were valid at the last fetch), and without any, callers fail fast
   * for the back-off period instead of each trying the IdP again.
   */
  private afterFailedLoad(err: unknown): JSONWebKeySet {
    const retryAt = this.now() + this.failureBackoffMs;
    if (this.cached) {
      this.cached = { keys: this.cached.keys, expiresAt: retryAt };
      return this.cached.keys;
    }
    this.failedUntil = retryAt;
    throw err;
  }

  private ttlWithJitterMs(): number {
    const ttlSeconds = this.options.cacheTtlSeconds > 0 ? this.options.cacheTtlSeconds : DEFAULT_TTL_SECONDS;
    const jitter = 0.9 + this.random() * 0.2;
    return ttlSeconds * 1000 * jitter;
  }

  private async load(): Promise<JSONWebKeySet> {
    const url = await this.jwksUrl();
    const json = await this.fetchJson(url, 'JWKS');
    if (!isKeySet(json)) throw new KeySourceError('the JWKS document has no "keys" array');
    this.cached = { keys: json, expiresAt: this.now() + this.ttlWithJitterMs() };
    return json;
  }

  private async jwksUrl(): Promise<string> {
    const configured = this.options.jwksUrl.trim();
    if (configured !== '') return assertFetchableUrl(configured, 'oauth.jwks_url').href;
    if (this.discoveredJwksUrl && this.discoveredJwksUrl.expiresAt > this.now()) return this.discoveredJwksUrl.url;
    const url = await this.discoverJwksUrl();
    this.discoveredJwksUrl = { url, expiresAt: this.now() + this.ttlWithJitterMs() };
    return url;
  }

  /**
   * Discovery in Go's order: RFC 8414 path-insert, OIDC path-insert, then OIDC path-append; a 4xx moves on. The
   * metadata `issuer` must equal the configured issuer exactly (RFC 8414 §3.3 / OIDC Discovery §4.3), otherwise a
   * document at a look-alike location could hand us someone else's keys.
   */
  private async discoverJwksUrl(): Promise<string> {
    const issuer = this.options.issuer.trim();
    const base = assertFetchableUrl(issuer, 'oauth.issuer');
    const path = base.pathname.replace(/\/+$/, '');
    const candidates = [
      `${base.origin}/.well-known/oauth-authorization-server${path}`,
      `${base.origin}/.well-known/openid-configuration${path}`,
      `${base.origin}${path}/.well-known/openid-configuration`,
    ];
    for (const candidate of [...new Set(candidates)]) {
      let document: FetchedDocument;
      try {
        this.fetchCount += 1;
        document = await this.fetcher(candidate, { timeoutMs: this.timeoutMs, maxBytes: this.maxBytes });
      } catch (err) {
        throw new KeySourceError(`issuer metadata fetch failed: ${safeMessage(err)}`);
      }
      if (document.status >= 400 && document.status < 500) continue;
      if (document.status !== 200) throw new KeySourceError(`issuer metadata answered HTTP ${document.status}`);
      const metadata = parseJson(document.body, 'issuer metadata') as { issuer?: unknown; jwks_uri?: unknown };
      if (metadata === null || typeof metadata !== 'object') throw new KeySourceError('issuer metadata is not an object');
      if (metadata.issuer !== issuer) throw new KeySourceError('issuer metadata names a different issuer');
      if (typeof metadata.jwks_uri !== 'string' || metadata.jwks_uri === '') {
        throw new KeySourceError('issuer metadata has no jwks_uri');
      }
      return assertFetchableUrl(metadata.jwks_uri, 'the discovered jwks_uri').href;
    }
    throw new KeySourceError('no issuer metadata found (RFC 8414 and OIDC discovery both answered 4xx)');
  }

  private async fetchJson(url: string, what: string): Promise<unknown> {
    let document: FetchedDocument;
    try {
      this.fetchCount += 1;
      document = await this.fetcher(url, { timeoutMs: this.timeoutMs, maxBytes: this.maxBytes });
    } catch (err) {
      throw new KeySourceError(`${what} fetch failed: ${safeMessage(err)}`);
    }
    if (document.status !== 200) throw new KeySourceError(`${what} answered HTTP ${document.status}`);
    return parseJson(document.body, what);
  }
}

function parseJson(body: string, what: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new KeySourceError(`${what} is not JSON`);
  }
}

function isKeySet(value: unknown): value is JSONWebKeySet {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as { keys?: unknown }).keys) &&
    (value as { keys: unknown[] }).keys.every((key) => typeof key === 'object' && key !== null && !Array.isArray(key))
  );
}

/** Error texts of our own making only (never a response body, which an attacker may control). */
function safeMessage(err: unknown): string {
  if (err instanceof KeySourceError) return err.message;
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'timed out';
  return 'network error';
}
