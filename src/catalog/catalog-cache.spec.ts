import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClickHouseQueryError } from '../clickhouse/clickhouse-error.js';
import {
  CatalogCache,
  type CatalogCacheOptions,
  CatalogDiscoveryDeniedError,
  CatalogDiscoverySaturatedError,
  CatalogDiscoveryTimeoutError,
  DISCOVERY_DENIED_MESSAGE,
  DISCOVERY_SATURATED_MESSAGE,
  DISCOVERY_TIMEOUT_MS,
  JANITOR_INTERVAL_MS,
  MAX_CONCURRENT_DISCOVERIES,
  NEGATIVE_EVICTION_THRESHOLD,
} from './catalog-cache.js';
import { catalogFullKey, catalogKey } from './catalog-key.js';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;

function denied516(): ClickHouseQueryError {
  return new ClickHouseQueryError({ kind: 'auth_failed', code: 516, httpStatus: 401, serverMessage: 'Code: 516. DB::Exception: x', userMessage: 'refused' });
}

/** A promise plus its resolvers, to hold a discovery open. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('CatalogCache', () => {
  let now: number;
  const caches: CatalogCache<unknown>[] = [];
  const make = <T = string[]>(options: Partial<CatalogCacheOptions> = {}): CatalogCache<T> => {
    const cache = new CatalogCache<T>({
      maxEntries: 10_000,
      positiveTtlMs: 15 * MIN,
      negativeTtlMs: MIN,
      discoveryWaitMs: 1_000,
      now: () => now,
      ...options,
    });
    caches.push(cache as CatalogCache<unknown>);
    return cache;
  };

  beforeEach(() => {
    now = T0;
  });
  afterEach(() => {
    for (const cache of caches.splice(0)) cache.close();
    vi.useRealTimers();
  });

  it('pins altinity-mcp constants: 16 slots, 3 s discovery timeout, 60 s janitor, 0.7 threshold', () => {
    expect([MAX_CONCURRENT_DISCOVERIES, DISCOVERY_TIMEOUT_MS, JANITOR_INTERVAL_MS, NEGATIVE_EVICTION_THRESHOLD]).toEqual([16, 3_000, 60_000, 0.7]);
    expect(DISCOVERY_DENIED_MESSAGE).toBe('multicluster: catalog discovery denied (cached)');
    expect(DISCOVERY_SATURATED_MESSAGE).toBe('multicluster: discovery concurrency saturated');
  });

  it('a first call misses and discovers, the second hits without discovering (vector 71 HitOK)', async () => {
    const cache = make();
    const discover = vi.fn(async () => ['t1']);
    const key = catalogFullKey(catalogKey('aaa'), 'otel');
    const first = await cache.lookup(key, discover);
    expect(first).toMatchObject({ outcome: 'miss', value: ['t1'] });
    expect(cache.stats()).toMatchObject({ misses: 1, hits_ok: 0, entries: 1 });
    const second = await cache.lookup(key, discover);
    expect(second).toEqual({ outcome: 'hit_ok', value: ['t1'] });
    expect(discover).toHaveBeenCalledTimes(1);
    expect(cache.stats()).toMatchObject({ misses: 1, hits_ok: 1 });
  });

  it('keys apart: another cluster or another bearer discovers again', async () => {
    const cache = make();
    const discover = vi.fn(async () => ['t']);
    await cache.lookup(catalogFullKey(catalogKey('aaa'), 'otel'), discover);
    await cache.lookup(catalogFullKey(catalogKey('aaa'), 'antalya'), discover);
    await cache.lookup(catalogFullKey(catalogKey('aab'), 'otel'), discover);
    expect(discover).toHaveBeenCalledTimes(3);
    expect(cache.stats().entries).toBe(3);
  });

  it('8 concurrent misses on one key → 1 discovery (vector 71 singleflight), all 8 get the catalog', async () => {
    const cache = make();
    const gate = deferred<string[]>();
    const discover = vi.fn(() => gate.promise);
    const lookups = Array.from({ length: 8 }, () => cache.lookup('k\u0000c', discover));
    await Promise.resolve();
    gate.resolve(['shared']);
    const results = await Promise.all(lookups);
    expect(discover).toHaveBeenCalledTimes(1);
    expect(results.map((r) => r.outcome)).toEqual(Array(8).fill('miss'));
    expect(results.every((r) => 'value' in r && r.value[0] === 'shared')).toBe(true);
    expect(cache.stats()).toMatchObject({ misses: 8, entries: 1 });
  });

  it('16 busy slots → the 17th key is saturated after discovery_wait and counted; a freed slot serves the next', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const cache = make({ discoveryWaitMs: 50 });
    const gates = Array.from({ length: 16 }, () => deferred<string[]>());
    const busy = gates.map((gate, i) => cache.lookup(`busy${i}`, () => gate.promise));
    await vi.advanceTimersByTimeAsync(0);
    expect(cache.saturated).toBe(true);
    const discover17 = vi.fn(async () => ['never']);
    const blocked = cache.lookup('seventeenth', discover17);
    await vi.advanceTimersByTimeAsync(49);
    let settled = false;
    void blocked.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false); // still waiting inside the 50 ms bound
    await vi.advanceTimersByTimeAsync(1);
    const result = await blocked;
    expect(result.outcome).toBe('saturated');
    expect((result as { error: unknown }).error).toBeInstanceOf(CatalogDiscoverySaturatedError);
    expect(discover17).not.toHaveBeenCalled();
    expect(cache.stats().discovery_saturate).toBe(1);

    // A waiter within its bound gets the slot a finishing discovery frees.
    const waiting = cache.lookup('eighteenth', async () => ['got it']);
    await vi.advanceTimersByTimeAsync(10);
    gates[0]!.resolve(['done']);
    await expect(waiting).resolves.toMatchObject({ outcome: 'miss', value: ['got it'] });
    for (const gate of gates.slice(1)) gate.resolve([]);
    await Promise.all(busy);
    expect(cache.saturated).toBe(false);
  });

  it('discovery_wait 0 answers saturated at once; the caller going away ends its wait early', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const noWait = make({ discoveryWaitMs: 0, maxConcurrentDiscoveries: 1 });
    const gate = deferred<string[]>();
    const running = noWait.lookup('a', () => gate.promise);
    await vi.advanceTimersByTimeAsync(0);
    await expect(noWait.lookup('b', async () => [])).resolves.toMatchObject({ outcome: 'saturated' });

    const longWait = make({ discoveryWaitMs: 10_000, maxConcurrentDiscoveries: 1 });
    const gate2 = deferred<string[]>();
    const running2 = longWait.lookup('a', () => gate2.promise);
    await vi.advanceTimersByTimeAsync(0);
    const caller = new AbortController();
    const waiting = longWait.lookup('b', async () => [], { signal: caller.signal });
    await vi.advanceTimersByTimeAsync(100);
    caller.abort();
    await expect(waiting).resolves.toMatchObject({ outcome: 'saturated' });
    expect(longWait.stats().discovery_saturate).toBe(1);
    gate.resolve([]);
    gate2.resolve([]);
    await Promise.all([running, running2]);
  });

  it('a shared discovery outlives the caller that started it: a joiner still gets the catalog when a slot frees', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const cache = make({ discoveryWaitMs: 10_000, maxConcurrentDiscoveries: 1 });
    const gate = deferred<string[]>();
    const running = cache.lookup('busy', () => gate.promise);
    await vi.advanceTimersByTimeAsync(0);
    const first = new AbortController();
    const discover = vi.fn(async () => ['shared']);
    const leaving = cache.lookup('k', discover, { signal: first.signal });
    const staying = cache.lookup('k', discover);
    await vi.advanceTimersByTimeAsync(100);
    first.abort();
    await expect(leaving).resolves.toMatchObject({ outcome: 'saturated' });
    gate.resolve([]);
    await expect(staying).resolves.toMatchObject({ outcome: 'miss', value: ['shared'] });
    expect(discover).toHaveBeenCalledTimes(1);
    expect(cache.stats().discovery_saturate).toBe(1);
    await running;
  });

  it('an auth refusal (code 516) is cached: the next call returns denied without discovering (HitsDenied=1)', async () => {
    const cache = make();
    const discover = vi.fn(async () => {
      throw denied516();
    });
    const first = await cache.lookup('k', discover);
    expect(first.outcome).toBe('auth_error');
    const second = await cache.lookup('k', discover);
    expect(second.outcome).toBe('hit_denied');
    expect((second as { error: unknown }).error).toBeInstanceOf(CatalogDiscoveryDeniedError);
    expect(((second as { error: CatalogDiscoveryDeniedError }).error).errorClass).toBe('code_516');
    expect(discover).toHaveBeenCalledTimes(1);
    expect(cache.stats()).toMatchObject({ hits_denied: 1, discovery_auth_err: 1, denied_entries: 1 });
  });

  it('the denied entry lives catalog_negative_ttl, then discovery runs again', async () => {
    const cache = make({ negativeTtlMs: 60_000 });
    const discover = vi.fn(async () => {
      throw denied516();
    });
    await cache.lookup('k', discover);
    now += 59_999;
    expect((await cache.lookup('k', discover)).outcome).toBe('hit_denied');
    now += 1;
    expect((await cache.lookup('k', discover)).outcome).toBe('auth_error');
    expect(discover).toHaveBeenCalledTimes(2);
  });

  it('transient errors are not cached: three calls → three discoveries, no auth error counted', async () => {
    const cache = make();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1 (connection refused)'), { code: 'ECONNREFUSED' });
    const discover = vi.fn(async () => {
      throw refused;
    });
    for (let i = 0; i < 3; i++) expect((await cache.lookup('k', discover)).outcome).toBe('transient_error');
    expect(discover).toHaveBeenCalledTimes(3);
    expect(cache.stats()).toMatchObject({ discovery_auth_err: 0, discovery_transient_err: 3, entries: 0 });
  });

  it('classifies by structure, not text: a message quoting "code: 516" or "401" is transient', async () => {
    const cache = make();
    const quoting = new ClickHouseQueryError({ kind: 'other', code: 62, httpStatus: 400, serverMessage: "Syntax error near 'code: 516 401 Unauthorized'", userMessage: 'x' });
    const plain = new Error('http 401 Unauthorized, code: 516');
    expect((await cache.lookup('a', async () => Promise.reject(quoting))).outcome).toBe('transient_error');
    expect((await cache.lookup('b', async () => Promise.reject(plain))).outcome).toBe('transient_error');
    const forbidden = new ClickHouseQueryError({ kind: 'auth_failed', httpStatus: 403, serverMessage: 'Forbidden', userMessage: 'x' });
    expect((await cache.lookup('c', async () => Promise.reject(forbidden))).outcome).toBe('auth_error');
  });

  it('a discovery past 3 s is abandoned as transient, and its signal fires', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const cache = make();
    let seen: AbortSignal | undefined;
    const pending = cache.lookup('k', (signal) => {
      seen = signal;
      return new Promise<string[]>(() => undefined);
    });
    await vi.advanceTimersByTimeAsync(2_999);
    expect(seen?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const result = await pending;
    expect(result.outcome).toBe('transient_error');
    expect((result as { error: unknown }).error).toBeInstanceOf(CatalogDiscoveryTimeoutError);
    expect(seen?.aborted).toBe(true);
    expect(cache.saturated).toBe(false); // the slot came back
  });

  it('positive TTL = min(fallback, credential exp) (TestCatalogCache_BearerExpBoundsTTL)', async () => {
    const cache = make({ positiveTtlMs: 60 * MIN });
    const discover = vi.fn(async () => ['t']);
    await cache.lookup('k', discover, { expiresAtMs: T0 + 5_000 });
    now = T0 + 4_999;
    expect((await cache.lookup('k', discover)).outcome).toBe('hit_ok');
    now = T0 + 5_000;
    expect((await cache.lookup('k', discover)).outcome).toBe('miss');
    expect(discover).toHaveBeenCalledTimes(2);
  });

  it('without an exp the fallback TTL applies; an exp in the past makes an immediately stale entry', async () => {
    const cache = make({ positiveTtlMs: 15 * MIN });
    const discover = vi.fn(async () => ['t']);
    await cache.lookup('k', discover);
    now = T0 + 15 * MIN - 1;
    expect((await cache.lookup('k', discover)).outcome).toBe('hit_ok');
    now = T0 + 15 * MIN;
    expect((await cache.lookup('k', discover)).outcome).toBe('miss');

    await cache.lookup('expired', discover, { expiresAtMs: now - 1 });
    expect((await cache.lookup('expired', discover)).outcome).toBe('miss');
  });

  it('threshold: with max 10 and 7 positives, 20 denied inserts leave all 7 positives', async () => {
    const cache = make({ maxEntries: 10 });
    for (let i = 0; i < 7; i++) await cache.lookup(`ok${i}`, async () => [`t${i}`]);
    for (let i = 0; i < 20; i++) await cache.lookup(`bad${i}`, async () => Promise.reject(denied516()));
    for (let i = 0; i < 7; i++) expect((await cache.lookup(`ok${i}`, async () => ['new'])).outcome).toBe('hit_ok');
    // From 70 % full each insert first evicts a random denied entry: the cache settles at 7 + 1, not at 10.
    expect(cache.stats()).toMatchObject({ entries: 8, denied_entries: 1, full_drops_ok: 0, full_drops_denied: 0 });
  });

  it('a full cache of positives drops a denied insert (full_drops_denied)', async () => {
    const cache = make({ maxEntries: 3 });
    for (let i = 0; i < 3; i++) await cache.lookup(`ok${i}`, async () => ['t']);
    await cache.lookup('bad', async () => Promise.reject(denied516()));
    expect(cache.stats()).toMatchObject({ entries: 3, denied_entries: 0, full_drops_denied: 1 });
  });

  it('positives are bounded too: past max the least recently used positive goes (full_drops_ok)', async () => {
    const cache = make({ maxEntries: 5 });
    for (let i = 0; i < 5; i++) await cache.lookup(`ok${i}`, async () => [`t${i}`]);
    await cache.lookup('ok0', async () => ['unused']); // ok0 becomes the most recently used
    for (let i = 5; i < 50; i++) await cache.lookup(`ok${i}`, async () => [`t${i}`]);
    const stats = cache.stats();
    expect(stats.entries).toBe(5);
    expect(stats.full_drops_ok).toBe(45);
    expect((await cache.lookup('ok1', async () => ['again'])).outcome).toBe('miss'); // evicted long ago
  });

  it('the janitor sweeps expired entries every 60 s; close() stops it and is idempotent', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const cache = make({ positiveTtlMs: MIN, negativeTtlMs: 10_000 });
    await cache.lookup('ok', async () => ['t']);
    await cache.lookup('bad', async () => Promise.reject(denied516()));
    expect(cache.stats()).toMatchObject({ entries: 2, denied_entries: 1 });
    now = T0 + MIN;
    await vi.advanceTimersByTimeAsync(JANITOR_INTERVAL_MS - 1);
    expect(cache.stats().entries).toBe(2); // expired, not yet swept (counted, as altinity-mcp does)
    await vi.advanceTimersByTimeAsync(1);
    expect(cache.stats()).toMatchObject({ entries: 0, denied_entries: 0 });
    cache.close();
    cache.close();
    expect(cache.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('clear() drops entries and a discovery started before it inserts nothing', async () => {
    const cache = make();
    await cache.lookup('a', async () => ['t']);
    const gate = deferred<string[]>();
    const inFlight = cache.lookup('b', () => gate.promise);
    await Promise.resolve();
    cache.clear();
    gate.resolve(['old generation']);
    await expect(inFlight).resolves.toMatchObject({ outcome: 'miss' });
    expect(cache.stats().entries).toBe(0);
    expect(cache.stats().misses).toBe(2);
  });

  it('discover throwing synchronously is a transient error, not a crash', async () => {
    const cache = make();
    const result = await cache.lookup('k', () => {
      throw new Error('boom');
    });
    expect(result.outcome).toBe('transient_error');
  });

  it('reports miss durations from the caller clock', async () => {
    const cache = make();
    const result = await cache.lookup('k', async () => {
      now += 250;
      return ['t'];
    });
    expect(result).toMatchObject({ outcome: 'miss', discoveryMs: 250 });
  });
});
