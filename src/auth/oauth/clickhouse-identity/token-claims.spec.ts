import { describe, expect, it } from 'vitest';
import { claimsOf, decodeUnverifiedJwtPayload } from './token-claims.js';

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (payload: unknown): string => `${b64url({ alg: 'RS256' })}.${b64url(payload)}.sig`;

describe('decodeUnverifiedJwtPayload', () => {
  it('reads the payload object of a three-part token', () => {
    expect(decodeUnverifiedJwtPayload(jwt({ email: 'a@example.com' }))).toEqual({ email: 'a@example.com' });
  });

  it('accepts a padded base64url payload (§5 vector 62)', () => {
    const payload = Buffer.from(JSON.stringify({ email: 'x@y.z' })).toString('base64url');
    const padded = payload + '='.repeat((4 - (payload.length % 4)) % 4);
    expect(padded).toMatch(/=$/);
    expect(decodeUnverifiedJwtPayload(`h.${padded}.s`)).toEqual({ email: 'x@y.z' });
  });

  it.each([
    ['an opaque token', 'opaque-access-token'],
    ['two parts', 'only.two'],
    ['five parts (a JWE)', 'a.b.c.d.e'],
    ['an empty payload', 'h..s'],
    ['a payload that is not base64url', 'h.%%%.s'],
    ['a payload that is not JSON', `h.${Buffer.from('not json').toString('base64url')}.s`],
    ['a JSON array payload', jwt(['email'])],
    ['a JSON string payload', jwt('email')],
    ['a null payload', jwt(null)],
  ])('returns undefined for %s', (_label, raw) => {
    expect(decodeUnverifiedJwtPayload(raw)).toBeUndefined();
  });
});

describe('claimsOf', () => {
  it('prefers the verified claims over the payload', () => {
    expect(claimsOf({ raw: jwt({ email: 'payload@x' }), claims: { email: 'verified@x' } })).toEqual({ email: 'verified@x' });
  });

  it('falls back to the unverified payload, and to nothing for an opaque bearer', () => {
    expect(claimsOf({ raw: jwt({ sub: 's' }) })).toEqual({ sub: 's' });
    expect(claimsOf({ raw: 'opaque' })).toBeUndefined();
  });
});
