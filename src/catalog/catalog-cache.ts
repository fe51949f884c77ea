import { LRUCache } from 'lru-cache';
import type { CatalogLookupOutcome } from '../common/request-context.js';
import { discoveryErrorClass, isAuthDiscoveryError } from './discovery-error.js';
import type { CatalogCacheCounters } from '../metrics/altinity-metrics.js';

/** altinity-mcp's constants (auth spec §4.5). */
export const MAX_CONCURRENT_DISCOVERIES = 16;
export const DISCOVERY_TIMEOUT_MS = 3_000;
export const JANITOR_INTERVAL_MS = 60_000;
/** Fill ratio from which every insert first evicts one random denied entry (positives are never displaced by it). */
export const NEGATIVE_EVICTION_THRESHOLD = 0.7;

/** altinity-mcp's error texts, kept for logs (`err` field). */
export const DISCOVERY_DENIED_MESSAGE = 'multicluster: catalog discovery denied (cached)';
export const DISCOVERY_SATURATED_MESSAGE = 'multicluster: discovery concurrency saturated';

export class CatalogDiscoveryDeniedError extends Error {
  override readonly name = 'CatalogDiscoveryDeniedError';
  constructor(readonly errorClass: string) {
    super(DISCOVERY_DENIED_MESSAGE);
  }
}

export class CatalogDiscoverySaturatedError extends Error {
  override readonly name = 'CatalogDiscoverySaturatedError';
  constructor() {
    super(DISCOVERY_SATURATED_MESSAGE);
  }
}

export class CatalogDiscoveryTimeoutError extends Error {
  override readonly name = 'CatalogDiscoveryTimeoutError';
  constructor(ms: number) {
    super(`catalog discovery timed out after ${ms / 1000} s`);
  }
}

export interface CatalogCacheOptions {
  /** `multicluster.catalog_cache_max`: a hard bound on all entries, positive and denied. */
  maxEntries: number;
  /** `multicluster.catalog_ttl_fallback` (ms): positive lifetime unless the credential expires earlier. */
  positiveTtlMs: number;
  /** `multicluster.catalog_negative_ttl` (ms): how long a refused credential is answered from the cache. */
  negativeTtlMs: number;
  /** `multicluster.discovery_wait` (ms): longest wait for a free discovery slot; 0 = none. */
  discoveryWaitMs: number;
  maxConcurrentDiscoveries?: number;
  discoveryTimeoutMs?: number;
  janitorIntervalMs?: number;
  /** Clock (ms since the epoch); tests pass a fake one. */
  now?: () => number;
  /** Uniform in [0, 1): picks the denied entry to evict. */
  random?: () => number;
  /** Which discovery errors are cached as denied (default: by structure, see `isAuthDiscoveryError`). */
  isAuthError?: (err: unknown) => boolean;
}

/**
 * altinity-mcp's `/health` `catalog_cache` object (auth spec §4.4), with its names: the same numbers the metrics
 * module's catalog-cache families mirror, so one type serves both. `full_drops_ok` is ours in effect: positives
 * displaced (least recently used first) because the cache was full; Go's can never move.
 */
export type CatalogCacheStats = CatalogCacheCounters;

export interface CatalogLookupOptions {
  /** When the credential expires (ms since the epoch): a positive entry never outlives it. */
  expiresAtMs?: number;
  /** The caller's cancellation: stops its wait for a discovery slot (not a discovery others share). */
  signal?: AbortSignal;
}

/** The answer of one lookup; `outcome` is what the request records. Errors are returned, never thrown. */
export type CatalogLookup<T> =
  | { outcome: 'hit_ok'; value: T }
  | { outcome: 'miss'; value: T; discoveryMs: number }
  | { outcome: 'hit_denied'; error: CatalogDiscoveryDeniedError }
  | { outcome: 'saturated'; error: CatalogDiscoverySaturatedError }
  | { outcome: 'auth_error' | 'transient_error'; error: unknown; discoveryMs: number };

/** What a discovery flight settles with, shared by every caller that joined it. */
type FlightResult<T> =
  | { outcome: 'miss'; value: T }
  | { outcome: 'saturated'; error: CatalogDiscoverySaturatedError }
  | { outcome: 'auth_error' | 'transient_error'; error: unknown };

interface PositiveEntry<T> {
  value: T;
  expiresAt: number;
}

interface DeniedEntry {
  expiresAt: number;
  errorClass: string;
}

/**
 * Discovery slots: at most N discoveries talk to ClickHouse at once. Unlike altinity-mcp, whose wait ends only
 * with the request, a waiter gives up after `discovery_wait` (or when its caller goes away), so a storm of
 * cold catalogs turns into static-tool answers instead of piling up requests.
 */
class DiscoverySlots {
  private free: number;
  private readonly waiters: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  get busy(): boolean {
    return this.free === 0;
  }

  acquire(waitMs: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(true);
    }
    if (waitMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const grant = (): void => {
        cleanup();
        resolve(true);
      };
      const giveUp = (): void => {
        const at = this.waiters.indexOf(grant);
        if (at >= 0) this.waiters.splice(at, 1);
        cleanup();
        resolve(false);
      };
      const timer = setTimeout(giveUp, waitMs);
      timer.unref?.();
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
      };
      signal?.addEventListener('abort', giveUp, { once: true });
      this.waiters.push(grant);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else this.free++;
  }
}

/**
 * The dynamic-tool catalog cache (altinity-mcp `catalog_cache.go`, auth spec §4; upstream §D.2 for single-cluster
 * auth modes): one catalog per full key (`<credential key>\x00<cluster>`), found again for `positiveTtlMs` or until
 * the credential expires. Concurrent misses on one key share one discovery; at most 16 discoveries run at once,
 * each for at most 3 s. A credential ClickHouse refused (by HTTP status or exception code, never by text) is
 * remembered for `negativeTtlMs`; transient failures are not cached.
 *
 * Capacity, as in altinity-mcp: from 70 % full every insert first evicts one random denied entry; when full, a
 * denied insert is dropped (`full_drops_denied`). Unlike altinity-mcp, positives cannot grow past the bound
 * either: a positive insert into a cache full of positives displaces the least recently used one
 * (`full_drops_ok`), so memory stays bounded whatever a token issuer mints.
 */
export class CatalogCache<T> {
  private readonly positive: LRUCache<string, PositiveEntry<T>>;
  private readonly denied = new Map<string, DeniedEntry>();
  /** Keys of denied entries for O(1) random eviction; stale keys are skipped and cleaned lazily. */
  private deniedKeys: string[] = [];
  private readonly flights = new Map<string, Promise<FlightResult<T>>>();
  private readonly slots: DiscoverySlots;
  private readonly counters = {
    hits_ok: 0,
    hits_denied: 0,
    misses: 0,
    full_drops_ok: 0,
    full_drops_denied: 0,
    discovery_saturate: 0,
    discovery_auth_err: 0,
    discovery_transient_err: 0,
  };
  /** Bumped by `clear()`: a discovery started before it does not insert its result. */
  private epoch = 0;
  private janitor: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly isAuthError: (err: unknown) => boolean;
  private readonly discoveryTimeoutMs: number;

  constructor(private readonly options: CatalogCacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) throw new Error(`catalog cache: maxEntries must be a positive integer, got ${options.maxEntries}`);
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.isAuthError = options.isAuthError ?? isAuthDiscoveryError;
    this.discoveryTimeoutMs = options.discoveryTimeoutMs ?? DISCOVERY_TIMEOUT_MS;
    this.slots = new DiscoverySlots(options.maxConcurrentDiscoveries ?? MAX_CONCURRENT_DISCOVERIES);
    this.positive = new LRUCache<string, PositiveEntry<T>>({
      max: options.maxEntries,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.counters.full_drops_ok++;
      },
    });
    const interval = options.janitorIntervalMs ?? JANITOR_INTERVAL_MS;
    this.janitor = setInterval(() => this.sweep(), interval);
    this.janitor.unref();
  }

  /**
   * The catalog for `fullKey`, from the cache or from `discover` (called with a signal that fires at the 3 s
   * timeout). Never throws: failures come back as an outcome with the error.
   */
  async lookup(fullKey: string, discover: (signal: AbortSignal) => Promise<T>, options: CatalogLookupOptions = {}): Promise<CatalogLookup<T>> {
    const cached = this.cached(fullKey);
    if (cached) {
      if (cached.outcome === 'hit_ok') this.counters.hits_ok++;
      else this.counters.hits_denied++;
      return cached;
    }
    this.counters.misses++;
    const started = this.now();
    let flight = this.flights.get(fullKey);
    if (!flight) {
      flight = this.fly(fullKey, discover, options);
      this.flights.set(fullKey, flight);
      const own = flight;
      void own.finally(() => {
        if (this.flights.get(fullKey) === own) this.flights.delete(fullKey);
      });
    }
    // The flight is shared: one caller going away must not fail the others, so each waits on it with its own signal.
    const result = await untilAborted(flight, options.signal);
    const discoveryMs = Math.max(0, this.now() - started);
    if (result === undefined) {
      this.counters.discovery_saturate++;
      return { outcome: 'saturated', error: new CatalogDiscoverySaturatedError() };
    }
    switch (result.outcome) {
      case 'saturated':
        this.counters.discovery_saturate++;
        return result;
      case 'miss':
        return { outcome: 'miss', value: result.value, discoveryMs };
      default:
        return { outcome: result.outcome, error: result.error, discoveryMs };
    }
  }

  /** A live entry, or undefined (an expired one counts as absent and is dropped). */
  private cached(fullKey: string): Extract<CatalogLookup<T>, { outcome: 'hit_ok' | 'hit_denied' }> | undefined {
    const now = this.now();
    const ok = this.positive.get(fullKey);
    if (ok) {
      if (now < ok.expiresAt) return { outcome: 'hit_ok', value: ok.value };
      this.positive.delete(fullKey);
    }
    const denied = this.denied.get(fullKey);
    if (denied) {
      if (now < denied.expiresAt) return { outcome: 'hit_denied', error: new CatalogDiscoveryDeniedError(denied.errorClass) };
      this.denied.delete(fullKey);
    }
    return undefined;
  }

  private async fly(fullKey: string, discover: (signal: AbortSignal) => Promise<T>, options: CatalogLookupOptions): Promise<FlightResult<T>> {
    const epoch = this.epoch;
    // Yield once: the caller registers this flight before any of it runs, so a discover() that throws at once
    // still settles a registered flight (and its cleanup finds it).
    await Promise.resolve();
    // Bounded by discovery_wait only (not by any one caller's signal; see lookup). Counted per caller in lookup.
    if (!(await this.slots.acquire(this.options.discoveryWaitMs))) {
      return { outcome: 'saturated', error: new CatalogDiscoverySaturatedError() };
    }
    try {
      const value = await this.withTimeout(discover);
      if (epoch === this.epoch) this.insertPositive(fullKey, value, options.expiresAtMs);
      return { outcome: 'miss', value };
    } catch (err) {
      if (this.isAuthError(err)) {
        this.counters.discovery_auth_err++;
        if (epoch === this.epoch) this.insertDenied(fullKey, discoveryErrorClass(err));
        return { outcome: 'auth_error', error: err };
      }
      this.counters.discovery_transient_err++;
      return { outcome: 'transient_error', error: err };
    } finally {
      this.slots.release();
    }
  }

  /** Runs one discovery under the timeout: its signal fires, and a discovery that ignores it is abandoned. */
  private withTimeout(discover: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const ms = this.discoveryTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new CatalogDiscoveryTimeoutError(ms);
        controller.abort(err);
        reject(err);
      }, ms);
      timer.unref?.();
      let running: Promise<T>;
      try {
        running = discover(controller.signal);
      } catch (err) {
        running = Promise.reject(err);
      }
      running.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  private insertPositive(fullKey: string, value: T, credentialExpiresAt: number | undefined): void {
    this.forget(fullKey);
    let expiresAt = this.now() + this.options.positiveTtlMs;
    // A credential that has already expired still gets an (immediately stale) entry, as in altinity-mcp.
    if (credentialExpiresAt !== undefined && Number.isFinite(credentialExpiresAt) && credentialExpiresAt < expiresAt) expiresAt = credentialExpiresAt;
    this.makeRoom();
    this.positive.set(fullKey, { value, expiresAt });
  }

  private insertDenied(fullKey: string, errorClass: string): void {
    this.forget(fullKey);
    this.makeRoom();
    if (this.size >= this.options.maxEntries) {
      this.counters.full_drops_denied++;
      return;
    }
    this.denied.set(fullKey, { expiresAt: this.now() + this.options.negativeTtlMs, errorClass });
    this.deniedKeys.push(fullKey);
  }

  /**
   * Before every insert (altinity-mcp `makeRoomLocked`): from 70 % full, or when full, evict one random denied
   * entry. A full cache without denied entries leaves the positive insert to
   * the LRU bound (the least recently used positive goes) and makes the denied insert drop.
   */
  private makeRoom(): void {
    const max = this.options.maxEntries;
    const current = this.size;
    if (current < max && current / max < NEGATIVE_EVICTION_THRESHOLD) return;
    this.evictOneDenied();
  }

  private evictOneDenied(): boolean {
    while (this.deniedKeys.length > 0) {
      const at = Math.min(this.deniedKeys.length - 1, Math.floor(this.random() * this.deniedKeys.length));
      const key = this.deniedKeys[at]!;
      this.deniedKeys[at] = this.deniedKeys[this.deniedKeys.length - 1]!;
      this.deniedKeys.pop();
      if (this.denied.delete(key)) return true;
    }
    return false;
  }

  private forget(fullKey: string): void {
    this.positive.delete(fullKey);
    this.denied.delete(fullKey);
  }

  /** Entries held, expired ones the janitor has not swept yet included (as altinity-mcp counts). */
  get size(): number {
    return this.positive.size + this.denied.size;
  }

  /** The janitor's work: drops expired entries and rebuilds the denied index. */
  sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.positive.entries()) if (now >= entry.expiresAt) this.positive.delete(key);
    for (const [key, entry] of this.denied) if (now >= entry.expiresAt) this.denied.delete(key);
    this.deniedKeys = [...new Set(this.deniedKeys)].filter((key) => this.denied.has(key));
  }

  /** Drops every entry (a new configuration generation); counters stay, discoveries in flight insert nothing. */
  clear(): void {
    this.epoch++;
    this.positive.clear();
    this.denied.clear();
    this.deniedKeys = [];
    this.flights.clear();
  }

  /** Stops the janitor; safe to call twice. Lookups keep working (entries then expire on read only). */
  close(): void {
    if (this.janitor) clearInterval(this.janitor);
    this.janitor = undefined;
  }

  get closed(): boolean {
    return this.janitor === undefined;
  }

  stats(): CatalogCacheStats {
    return { entries: this.size, denied_entries: this.denied.size, max: this.options.maxEntries, ...this.counters };
  }

  /** Whether every discovery slot is taken (diagnostics). */
  get saturated(): boolean {
    return this.slots.busy;
  }
}

/** Outcomes a lookup can report (the request-context field's set). */
export type { CatalogLookupOutcome };

/** The flight's result, or undefined once `signal` aborts first (the caller went away). */
function untilAborted<R>(flight: Promise<R>, signal: AbortSignal | undefined): Promise<R | undefined> {
  if (!signal) return flight;
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<R | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    flight.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
