import { describe, expect, it } from 'vitest';
import { RoleActivation } from './role-activation.js';

const DENIED = (claim: string): string =>
  `oauth: access denied \u2014 no ClickHouse roles in claim "${claim}" matched role_filter`;

describe('RoleActivation (§2.12, §5 vector 63)', () => {
  it('is off without role_claim, whatever the token says', () => {
    const off = new RoleActivation({ roleClaim: '', roleFilter: '_mcp$' });
    expect(off.enabled).toBe(false);
    expect(off.rolesFor({ roles: ['admin'] }, 'embedded')).toEqual({ ok: true, roles: undefined });
  });

  it('denies when no role matches the filter (em dash in the message)', () => {
    const roles = new RoleActivation({ roleClaim: 'roles', roleFilter: '_mcp$' });
    expect(roles.rolesFor({ roles: ['admin', 'analyst'] }, 'http')).toEqual({ ok: false, error: DENIED('roles') });
  });

  it('keeps only the matching roles', () => {
    const roles = new RoleActivation({ roleClaim: 'roles', roleFilter: '_mcp$' });
    expect(roles.rolesFor({ roles: ['sandbox_mcp', 'admin'] }, 'http')).toEqual({ ok: true, roles: ['sandbox_mcp'] });
  });

  it('refuses role activation on a protocol other than http', () => {
    const roles = new RoleActivation({ roleClaim: 'roles', roleFilter: '_mcp$' });
    expect(roles.rolesFor({ roles: ['sandbox_mcp'] }, 'embedded')).toEqual({
      ok: false,
      error: 'oauth: role activation requires clickhouse protocol http, got "embedded"',
    });
  });

  it('matches partially (unanchored) unless the pattern anchors: ^anon_', () => {
    const roles = new RoleActivation({ roleClaim: 'groups', roleFilter: '^anon_' });
    expect(roles.rolesFor({ groups: ['anon_reader', 'admin_real'] }, 'http')).toEqual({ ok: true, roles: ['anon_reader'] });
    expect(roles.rolesFor({ groups: ['admin_real', 'analyst'] }, 'http')).toEqual({ ok: false, error: DENIED('groups') });
    const unanchored = new RoleActivation({ roleClaim: 'groups', roleFilter: 'mcp' });
    expect(unanchored.rolesFor({ groups: ['x_mcp_y'] }, 'http')).toEqual({ ok: true, roles: ['x_mcp_y'] });
  });

  it('keeps every role without a filter; a missing claim is a denial', () => {
    const roles = new RoleActivation({ roleClaim: 'roles', roleFilter: '' });
    expect(roles.rolesFor({ roles: ['reader', 'writer'] }, 'http')).toEqual({ ok: true, roles: ['reader', 'writer'] });
    expect(roles.rolesFor({ sub: 'x' }, 'http')).toEqual({ ok: false, error: DENIED('roles') });
    expect(roles.rolesFor(undefined, 'http')).toEqual({ ok: false, error: DENIED('roles') });
  });

  it('trims, drops blanks and non-strings, and deduplicates keeping first order', () => {
    const roles = new RoleActivation({ roleClaim: 'roles', roleFilter: '' });
    expect(roles.rolesFor({ roles: [' b ', 'a', '', '   ', 3, null, { r: 1 }, 'b', 'a'] }, 'http')).toEqual({ ok: true, roles: ['b', 'a'] });
  });

  it('refuses a claim that is not an array (a single string is not a role list)', () => {
    const roles = new RoleActivation({ roleClaim: 'roles', roleFilter: '' });
    expect(roles.rolesFor({ roles: 'reader' }, 'http')).toEqual({ ok: false, error: DENIED('roles') });
    expect(roles.rolesFor({ roles: { 0: 'reader' } }, 'http')).toEqual({ ok: false, error: DENIED('roles') });
  });

  it('uses RE2 semantics: \\s is ASCII only, so a no-break space is not whitespace', () => {
    const roles = new RoleActivation({ roleClaim: 'roles', roleFilter: '^r\\sx$' });
    expect(roles.rolesFor({ roles: ['r x'] }, 'http')).toEqual({ ok: true, roles: ['r x'] });
    expect(roles.rolesFor({ roles: ['r\u00a0x'] }, 'http').ok).toBe(false);
  });

  it('trims the filter as the boot check does', () => {
    const roles = new RoleActivation({ roleClaim: 'roles', roleFilter: '  ^a$  ' });
    expect(roles.rolesFor({ roles: ['a'] }, 'http')).toEqual({ ok: true, roles: ['a'] });
  });
});
