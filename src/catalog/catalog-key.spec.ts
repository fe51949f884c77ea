import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ClickHouseQueryError } from '../clickhouse/clickhouse-error.js';
import { bearerExp, catalogFullKey, catalogKey, credentialCatalogKey, SINGLE_CLUSTER, STATIC_CATALOG_KEY } from './catalog-key.js';
import { discoveryErrorClass, isAuthDiscoveryError } from './discovery-error.js';

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const fakeJwt = (payload: Record<string, unknown>): string => `${b64({ alg: 'RS256' })}.${b64(payload)}.sig`;

describe('catalog keys (vector 68, upstream D.2)', () => {
  it('CacheKey("aaa") is tok: + lowercase hex SHA-256, stable, and differs from "aab"', () => {
    expect(catalogKey('aaa')).toBe('tok:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0');
    expect(catalogKey('aaa')).toBe(catalogKey('aaa'));
    expect(catalogKey('aab')).not.toBe(catalogKey('aaa'));
  });

  it('two JWTs with the same email and different sub get different keys (bound to the bytes, not claims)', () => {
    const a = fakeJwt({ email: 'x@example.com', sub: '1' });
    const b = fakeJwt({ email: 'x@example.com', sub: '2' });
    expect(catalogKey(a)).not.toBe(catalogKey(b));
  });

  it('single-cluster keys hash the kind with the token: JWE key of X ≠ OAuth key of X ≠ bare key of X', () => {
    expect(credentialCatalogKey('jwe', 'same-token')).toBe(`tok:${createHash('sha256').update('jwe\0same-token').digest('hex')}`);
    expect(credentialCatalogKey('oauth', 'same-token')).toBe(`tok:${createHash('sha256').update('oauth\0same-token').digest('hex')}`);
    const keys = new Set([credentialCatalogKey('jwe', 'same-token'), credentialCatalogKey('oauth', 'same-token'), catalogKey('same-token')]);
    expect(keys.size).toBe(3);
  });

  it('the full key is <key>\\x00<cluster>, singlecluster by default; the static key cannot collide with a token key', () => {
    expect(catalogFullKey('tok:ab', 'otel')).toBe('tok:ab\u0000otel');
    expect(catalogFullKey('tok:ab')).toBe(`tok:ab\u0000${SINGLE_CLUSTER}`);
    expect(SINGLE_CLUSTER).toBe('singlecluster');
    expect(STATIC_CATALOG_KEY.startsWith('tok:')).toBe(false);
  });
});

describe('bearerExp (vector 69)', () => {
  const now = Math.floor(Date.now() / 1000);

  it('reads an integer exp exactly', () => {
    expect(bearerExp(fakeJwt({ exp: now + 45 * 60 }))).toBe(now + 45 * 60);
  });

  it('truncates a float exp and accepts a numeric string', () => {
    expect(bearerExp(fakeJwt({ exp: now + 60 + 0.5 }))).toBe(now + 60);
    expect(bearerExp(fakeJwt({ exp: String(now + 90) }))).toBe(now + 90);
  });

  it.each([['opaque-token'], [''], ['not.a.jwt'], [fakeJwt({ sub: 'no exp' })], [fakeJwt({ exp: 0 })], [fakeJwt({ exp: -5 })], [fakeJwt({ exp: 'soon' })], [`a.${Buffer.from('[1]').toString('base64url')}.c`]])(
    '%s → none',
    (token) => {
      expect(bearerExp(token)).toBeUndefined();
    },
  );
});

describe('isAuthDiscoveryError (vector 70, by structure)', () => {
  const chError = (init: { code?: number; httpStatus?: number; text?: string }) =>
    new ClickHouseQueryError({ kind: 'other', serverMessage: init.text ?? '', userMessage: init.text ?? 'x', code: init.code, httpStatus: init.httpStatus });

  it('auth: HTTP 401, HTTP 403, codes 516, 519, 497 (and 18.16 192/193/194)', () => {
    expect(isAuthDiscoveryError(chError({ httpStatus: 401 }))).toBe(true);
    expect(isAuthDiscoveryError(chError({ httpStatus: 403 }))).toBe(true);
    for (const code of [516, 519, 497, 192, 193, 194]) expect(isAuthDiscoveryError(chError({ code, httpStatus: 500 }))).toBe(true);
  });

  it('not auth: nothing, a deadline, HTTP 500, connection refused, and texts that merely mention the markers', () => {
    expect(isAuthDiscoveryError(undefined)).toBe(false);
    expect(isAuthDiscoveryError(null)).toBe(false);
    expect(isAuthDiscoveryError(new DOMException('timed out', 'TimeoutError'))).toBe(false);
    expect(isAuthDiscoveryError(chError({ httpStatus: 500, text: 'oops' }))).toBe(false);
    expect(isAuthDiscoveryError(Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isAuthDiscoveryError(new Error('http 401 Unauthorized'))).toBe(false);
    expect(isAuthDiscoveryError(chError({ code: 62, httpStatus: 400, text: 'Syntax error: code: 516 403 Forbidden' }))).toBe(false);
  });

  it('names a class from the structure, never the message', () => {
    expect(discoveryErrorClass(chError({ code: 516, httpStatus: 401, text: 'secret-ish text' }))).toBe('code_516');
    expect(discoveryErrorClass(chError({ httpStatus: 403 }))).toBe('http_403');
    expect(discoveryErrorClass(new Error('x'))).toBe('unknown');
  });
});
