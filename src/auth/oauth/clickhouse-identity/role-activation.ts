import { RE2JS } from 're2js';
import type { TokenClaims } from './token-claims.js';

/**
 * ClickHouse roles to activate for one request (spec auth §2.12): the `role_claim` array, kept to the string
 * items that `role_filter` matches. The filter is Go RE2 with a partial match, compiled with re2js so a pattern
 * means what it means to altinity-mcp and runs in linear time. Activation only narrows: ClickHouse still checks
 * that the user was granted each role.
 */
export type RoleActivationResult = { ok: true; roles: string[] | undefined } | { ok: false; error: string };

export interface RolePolicy {
  /** The claim holding a JSON array of role names; "" turns role activation off. */
  roleClaim: string;
  /** RE2 pattern (partial match) each role must match; "" keeps every role. */
  roleFilter: string;
}

/** A compiled policy, built once per config (the boot check has already refused a pattern RE2 rejects). */
export class RoleActivation {
  private readonly claim: string;
  private readonly filter: RE2JS | undefined;

  constructor(policy: RolePolicy) {
    this.claim = policy.roleClaim.trim();
    const pattern = policy.roleFilter.trim();
    this.filter = pattern === '' ? undefined : RE2JS.compile(pattern);
  }

  get enabled(): boolean {
    return this.claim !== '';
  }

  /**
   * `roles: undefined` when role activation is off. An empty result is a denial, not "no roles": a token
   * that should carry roles and carries none the operator allows must not run with the user's defaults.
   */
  rolesFor(claims: TokenClaims | undefined, protocol: string): RoleActivationResult {
    if (!this.enabled) return { ok: true, roles: undefined };
    const value = claims && Object.prototype.hasOwnProperty.call(claims, this.claim) ? claims[this.claim] : undefined;
    const roles: string[] = [];
    if (Array.isArray(value)) {
      for (const item of value) {
        if (typeof item !== 'string') continue;
        const role = item.trim();
        if (role === '' || roles.includes(role)) continue;
        if (this.filter && !this.filter.test(role)) continue;
        roles.push(role);
      }
    }
    if (roles.length === 0) {
      return { ok: false, error: `oauth: access denied — no ClickHouse roles in claim ${JSON.stringify(this.claim)} matched role_filter` };
    }
    // Roles travel as `role=` query parameters, which only the HTTP interface has.
    if (protocol !== 'http') {
      return { ok: false, error: `oauth: role activation requires clickhouse protocol http, got ${JSON.stringify(protocol)}` };
    }
    return { ok: true, roles };
  }
}
