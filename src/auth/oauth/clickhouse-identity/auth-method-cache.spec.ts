import { describe, expect, it } from 'vitest';
import { AuthMethodCache, DEFAULT_AUTH_METHOD_TTL_MS, endpointKey } from './auth-method-cache.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('AuthMethodCache', () => {
  it('keys by host:port', () => {
    expect(endpointKey('chi-otel.demo', 8443)).toBe('chi-otel.demo:8443');
    expect(endpointKey('::1', 8123)).toBe('::1:8123');
  });

  it('remembers a method until the TTL, then forgets it so the next request re-probes', () => {
    const c = clock();
    const cache = new AuthMethodCache({ ttlMs: 1000, now: c.now });
    cache.set('h:1', 'basic');
    c.advance(999);
    expect(cache.get('h:1')).toBe('basic');
    c.advance(1);
    expect(cache.get('h:1')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('defaults to a ten-minute TTL', () => {
    const c = clock();
    const cache = new AuthMethodCache({ now: c.now });
    cache.set('h:1', 'bearer');
    c.advance(DEFAULT_AUTH_METHOD_TTL_MS - 1);
    expect(cache.get('h:1')).toBe('bearer');
    c.advance(1);
    expect(cache.get('h:1')).toBeUndefined();
    expect(DEFAULT_AUTH_METHOD_TTL_MS).toBe(600_000);
  });

  it('keeps endpoints apart, and a re-set restarts the TTL', () => {
    const c = clock();
    const cache = new AuthMethodCache({ ttlMs: 100, now: c.now });
    cache.set('a:1', 'bearer');
    cache.set('a:2', 'basic');
    c.advance(60);
    cache.set('a:1', 'bearer');
    c.advance(60);
    expect(cache.get('a:1')).toBe('bearer');
    expect(cache.get('a:2')).toBeUndefined();
  });

  it('is bounded: the oldest endpoint makes room', () => {
    const cache = new AuthMethodCache({ maxEntries: 2 });
    cache.set('a:1', 'bearer');
    cache.set('b:1', 'basic');
    cache.set('c:1', 'bearer');
    expect(cache.size).toBe(2);
    expect(cache.get('a:1')).toBeUndefined();
    expect(cache.get('b:1')).toBe('basic');
    expect(cache.get('c:1')).toBe('bearer');
  });

  it('forgets an endpoint on delete', () => {
    const cache = new AuthMethodCache();
    cache.set('a:1', 'basic');
    cache.delete('a:1');
    expect(cache.get('a:1')).toBeUndefined();
  });
});
