import { describe, expect, it } from 'vitest';
import { ExpiringFifoCache, cacheTtlFromHeader } from './cimd-cache.js';

const MINUTE = 60_000;

describe('cacheTtlFromHeader (spec §5 vector 53)', () => {
  it.each<[string | undefined, number]>([
    [undefined, 5 * MINUTE],
    ['', 5 * MINUTE],
    ['no-store', 0],
    ['no-cache', 0],
    ['NO-STORE', 0],
    ['public, no-store', 0],
    ['max-age=0', 0],
    ['max-age=-5', 0],
    ['max-age=300, no-store', 0],
    ['no-cache, max-age=300', 0],
    ['max-age=300', 5 * MINUTE],
    ['public, max-age=120', 2 * MINUTE],
    ['max-age=1', 1000],
    ['max-age=3600', 60 * MINUTE],
    ['max-age=3601', 60 * MINUTE],
    ['max-age=999999999', 60 * MINUTE],
    ['max-age=9999999999', 60 * MINUTE],
    ['max-age=9223372036854775807', 60 * MINUTE],
    ['max-age=99999999999999999999999999999999', 60 * MINUTE],
    ['private', 5 * MINUTE],
    ['x-custom-no-storage', 5 * MINUTE],
    ['no-storage', 5 * MINUTE],
    ['max-age=banana', 5 * MINUTE],
    ['max-age=1.5', 5 * MINUTE],
    ['max-age="60"', 5 * MINUTE],
  ])('%j → %i ms', (header, ttl) => {
    expect(cacheTtlFromHeader(header)).toBe(ttl);
  });
});

describe('ExpiringFifoCache', () => {
  function clockedCache(capacity: number) {
    let now = 1_000_000;
    const cache = new ExpiringFifoCache<string>(capacity, () => now);
    return { cache, advance: (ms: number) => (now += ms) };
  }

  it('returns an entry until its TTL passes, then drops it', () => {
    const { cache, advance } = clockedCache(4);
    cache.set('a', 'A', 1000);
    advance(999);
    expect(cache.get('a')).toBe('A');
    advance(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('does not store a zero TTL (no-store)', () => {
    const { cache } = clockedCache(4);
    cache.set('a', 'A', 0);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('evicts the oldest insert when full; reading does not promote', () => {
    const { cache } = clockedCache(3);
    cache.set('a', 'A', 60_000);
    cache.set('b', 'B', 60_000);
    cache.set('c', 'C', 60_000);
    expect(cache.get('a')).toBe('A'); // a read: 'a' stays the oldest insert
    cache.set('d', 'D', 60_000);
    expect(cache.get('a')).toBeUndefined();
    expect([cache.get('b'), cache.get('c'), cache.get('d')]).toEqual(['B', 'C', 'D']);
    expect(cache.size).toBe(3);
  });

  it('a re-insert moves the key to the back of the queue', () => {
    const { cache } = clockedCache(2);
    cache.set('a', 'A', 60_000);
    cache.set('b', 'B', 60_000);
    cache.set('a', 'A2', 60_000);
    cache.set('c', 'C', 60_000);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('A2');
  });

  it('stays bounded under a flood of distinct keys', () => {
    const { cache } = clockedCache(1024);
    for (let index = 0; index < 10_000; index += 1) cache.set(`k${index}`, 'v', 60_000);
    expect(cache.size).toBe(1024);
    expect(cache.get('k9999')).toBe('v');
    expect(cache.get('k8975')).toBeUndefined();
  });
});
