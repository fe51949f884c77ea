import { describe, expect, it } from 'vitest';
import { basicUsername, NOT_A_JWT_WITH_EMAIL } from './basic-username.js';

const noUsable = (claim: string): string =>
  `oauth: bearer JWT has no usable Basic username (claim "${claim}" missing, empty, or non-string)`;

describe('basicUsername without username_claim (§5 vector 62)', () => {
  it('uses the top-level email, trimmed', () => {
    expect(basicUsername({ email: 'alice@example.com' }, '')).toEqual({ ok: true, username: 'alice@example.com' });
    expect(basicUsername({ email: '  alice@example.com  ' }, '')).toEqual({ ok: true, username: 'alice@example.com' });
  });

  it('falls back to a namespaced */email claim', () => {
    expect(basicUsername({ 'https://example.com/email': 'ns@example.com' }, '')).toEqual({ ok: true, username: 'ns@example.com' });
  });

  it('prefers email over the namespaced claim, and falls back when email is blank', () => {
    const claims = { email: 'top@example.com', 'https://example.com/email': 'ns@example.com' };
    expect(basicUsername(claims, '')).toEqual({ ok: true, username: 'top@example.com' });
    expect(basicUsername({ ...claims, email: '  ' }, '')).toEqual({ ok: true, username: 'ns@example.com' });
  });

  it('picks among several namespaced claims deterministically (sorted keys), skipping unusable ones', () => {
    const claims = { 'https://b.example/email': 'b@x', 'https://a.example/email': 42, 'https://c.example/email': 'c@x' };
    expect(basicUsername(claims, '')).toEqual({ ok: true, username: 'b@x' });
  });

  it('refuses a numeric email, a token without email, and no claims at all', () => {
    expect(basicUsername({ email: 12345 }, '')).toEqual({ ok: false, error: NOT_A_JWT_WITH_EMAIL });
    expect(basicUsername({ sub: 'alice' }, '')).toEqual({ ok: false, error: NOT_A_JWT_WITH_EMAIL });
    expect(basicUsername(undefined, '')).toEqual({ ok: false, error: NOT_A_JWT_WITH_EMAIL });
    expect(NOT_A_JWT_WITH_EMAIL).toBe('oauth: bearer is not a JWT with an email claim');
  });

  it('does not read a claim named like "email" from the prototype chain', () => {
    const claims = Object.create({ email: 'inherited@x' }) as Record<string, unknown>;
    expect(basicUsername(claims, '').ok).toBe(false);
  });
});

describe('basicUsername with username_claim (strict)', () => {
  it('uses exactly that claim, trimmed', () => {
    expect(basicUsername({ username: ' alice ', email: 'a@x' }, 'username')).toEqual({ ok: true, username: 'alice' });
  });

  it.each([
    ['missing', { email: 'a@x' }],
    ['blank', { username: '   ' }],
    ['numeric', { username: 7 }],
  ])('refuses a %s claim, with no fallback to email', (_label, claims) => {
    expect(basicUsername(claims, 'username')).toEqual({ ok: false, error: noUsable('username') });
  });

  it('username_claim "email" does not fall back to the namespaced claim', () => {
    expect(basicUsername({ 'https://example.com/email': 'ns@x' }, 'email')).toEqual({ ok: false, error: noUsable('email') });
  });

  it('refuses an opaque bearer with the username_claim message', () => {
    expect(basicUsername(undefined, 'preferred_username')).toEqual({ ok: false, error: noUsable('preferred_username') });
  });
});
