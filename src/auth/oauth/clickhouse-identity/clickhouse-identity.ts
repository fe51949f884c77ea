import type { ConnectionOverrides } from '../../../common/request-context.js';
import { isClickHouseAuthError } from './auth-error.js';
import { AuthMethodCache, endpointKey, type ClickHouseAuthMethod } from './auth-method-cache.js';
import { basicUsername } from './basic-username.js';
import { RoleActivation } from './role-activation.js';
import { claimsOf, type CallerToken, type TokenClaims } from './token-claims.js';

/**
 * Turns an OAuth caller's bearer into the ClickHouse connection overrides of one request (spec auth §2.12):
 * roles from `role_claim`/`role_filter`, then the wire format the endpoint accepts — `Authorization: Bearer <jwt>`
 * or `Basic base64(user:jwt)` — learnt by probing Bearer first and falling back to Basic only on an auth refusal.
 *
 * The overrides never carry a host or port: an OAuth caller always reaches the operator's endpoint (upstream §C).
 * They are a fresh object per call, so two callers never share a bearer, a user name or a roles array.
 */

/** The operator endpoint the request goes to: the logical (template-expanded) host, not `connect_host`. */
export interface ClickHouseEndpoint {
  host: string;
  port: number;
  protocol: string;
}

/**
 * A probe's answer. `authRefused` is the probe's own verdict when it has structured facts (an HTTP status, a
 * ClickHouse code); without it the error text is classified as altinity-mcp does (`isClickHouseAuthError`).
 */
export type ProbeOutcome = { ok: true } | { ok: false; message: string; authRefused?: boolean };

/**
 * Opens a connection to the operator endpoint with these overrides and pings it (altinity-mcp's `NewClient`).
 * Probes never carry roles, so a role the user lacks cannot pass for a refused credential.
 */
export type ConnectionProbe = (overrides: ConnectionOverrides) => Promise<ProbeOutcome>;

export interface ClickHouseIdentityConfig {
  roleClaim: string;
  roleFilter: string;
  usernameClaim: string;
}

export type IdentityFailureReason =
  /** The token's roles are not allowed (a 403 for the caller). */
  | 'access_denied'
  /** The token lacks what the Basic path needs (a user name claim); a 401 for the caller. */
  | 'unusable_token'
  /** The configuration cannot serve this caller (role activation off http). */
  | 'misconfigured'
  /** ClickHouse could not be reached, or refused both methods. */
  | 'connection_failed';

export type ClickHouseIdentity =
  | { ok: true; method: ClickHouseAuthMethod; overrides: ConnectionOverrides; probed: boolean }
  | { ok: false; reason: IdentityFailureReason; error: string };

export class ClickHouseIdentityResolver {
  private readonly roles: RoleActivation;

  constructor(
    private readonly config: ClickHouseIdentityConfig,
    private readonly probe: ConnectionProbe,
    private readonly methods: AuthMethodCache = new AuthMethodCache(),
  ) {
    this.roles = new RoleActivation({ roleClaim: config.roleClaim, roleFilter: config.roleFilter });
  }

  /** The wire format currently remembered for this endpoint (undefined: the next resolve probes). */
  knownMethod(endpoint: ClickHouseEndpoint): ClickHouseAuthMethod | undefined {
    return this.methods.get(endpointKey(endpoint.host, endpoint.port));
  }

  async resolve(token: CallerToken, endpoint: ClickHouseEndpoint): Promise<ClickHouseIdentity> {
    const claims = claimsOf(token);
    const activation = this.roles.rolesFor(claims, endpoint.protocol);
    if (!activation.ok) {
      const reason = activation.error.startsWith('oauth: access denied') ? 'access_denied' : 'misconfigured';
      return { ok: false, reason, error: activation.error };
    }
    const roles = activation.roles;
    const key = endpointKey(endpoint.host, endpoint.port);

    const cached = this.methods.get(key);
    if (cached !== undefined) return this.identityFor(cached, token, claims, roles, false);

    const bearerProbe = await this.probe(bearerOverrides(token.raw, undefined));
    if (bearerProbe.ok) {
      this.methods.set(key, 'bearer');
      return this.identityFor('bearer', token, claims, roles, true);
    }
    const refused = bearerProbe.authRefused ?? isClickHouseAuthError(bearerProbe.message);
    if (!refused) return connectionFailure(bearerProbe.message, token.raw);

    // Bearer refused: this ClickHouse wants the sidecar's Basic form. Nothing is cached until Basic works, so
    // one caller's unusable token cannot pin the endpoint to a method.
    const user = basicUsername(claims, this.config.usernameClaim);
    if (!user.ok) return { ok: false, reason: 'unusable_token', error: user.error };
    const basicProbe = await this.probe(basicOverrides(user.username, token.raw, undefined));
    if (!basicProbe.ok) return connectionFailure(basicProbe.message, token.raw);
    this.methods.set(key, 'basic');
    return this.identityFor('basic', token, claims, roles, true);
  }

  private identityFor(
    method: ClickHouseAuthMethod,
    token: CallerToken,
    claims: TokenClaims | undefined,
    roles: string[] | undefined,
    probed: boolean,
  ): ClickHouseIdentity {
    if (method === 'bearer') return { ok: true, method, probed, overrides: bearerOverrides(token.raw, roles) };
    const user = basicUsername(claims, this.config.usernameClaim);
    if (!user.ok) return { ok: false, reason: 'unusable_token', error: user.error };
    return { ok: true, method, probed, overrides: basicOverrides(user.username, token.raw, roles) };
  }
}

/** Bearer: the token as `Authorization: Bearer`, and no Basic credentials of the operator's alongside it. */
export function bearerOverrides(rawToken: string, roles: string[] | undefined): ConnectionOverrides {
  return { bearerToken: rawToken, username: '', password: '', ...(roles?.length ? { roles: [...roles] } : {}) };
}

/**
 * Basic: the sidecar's form, user name + the raw JWT as password. `bearerToken: ''` (not undefined) also
 * suppresses a bearer the operator configured in `clickhouse.http_headers`, which would otherwise win.
 */
export function basicOverrides(username: string, rawToken: string, roles: string[] | undefined): ConnectionOverrides {
  return { username, password: rawToken, bearerToken: '', ...(roles?.length ? { roles: [...roles] } : {}) };
}

function connectionFailure(message: string, rawToken: string): ClickHouseIdentity {
  // A driver or proxy may echo what it was sent; the bearer must not travel on into logs or tool errors.
  const safe = rawToken === '' ? message : message.split(rawToken).join('[token]');
  return { ok: false, reason: 'connection_failed', error: `failed to create ClickHouse client: ${safe}` };
}
