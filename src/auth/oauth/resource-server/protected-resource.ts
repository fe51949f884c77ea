import type { OAuthConfig } from '../../../config/config.types.js';
import type { BearerFailureReason } from './bearer-verifier.js';
import {
  authorizationServerBaseUrl,
  canonicalResourceUrl,
  normalizeUrl,
  resourceBaseUrl,
  type PublicRequestView,
  type PublicServerView,
} from './public-urls.js';

/**
 * The protected-resource side of OAuth that a client sees before it holds a valid token: the RFC 9728 metadata
 * document and the `WWW-Authenticate` challenge / JSON error of spec §2.10 (formats byte-compatible with
 * altinity-mcp, so Go-tested clients keep working).
 */

/** The scopes altinity-mcp advertises (an OIDC allowlist: upstream IdPs such as Google reject anything else). */
const ADVERTISABLE_SCOPES = new Set(['openid', 'email', 'profile', 'offline_access']);

/** `OIDCScopesForAdvertisement`: the configured scopes in the allowlist, deduplicated, in order. */
export function oidcScopesForAdvertisement(scopes: readonly string[]): string[] {
  const kept: string[] = [];
  for (const raw of scopes) {
    const scope = raw.trim();
    if (ADVERTISABLE_SCOPES.has(scope) && !kept.includes(scope)) kept.push(scope);
  }
  return kept;
}

export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported: string[];
  bearer_methods_supported: ['header'];
}

export type PrmOAuthConfig = Pick<
  OAuthConfig,
  'public_resource_url' | 'public_auth_server_url' | 'audience' | 'issuer' | 'broker' | 'scopes'
>;

/**
 * The PRM document served at `/.well-known/oauth-protected-resource` and its path-aware variants (the request path
 * carries the resource path after the marker, which `resourceBaseUrl` picks up when `public_resource_url` is unset).
 */
export function protectedResourceMetadata(
  request: PublicRequestView,
  server: PublicServerView,
  oauth: PrmOAuthConfig,
): ProtectedResourceMetadata {
  const authorizationServer = oauth.broker
    ? normalizeUrl(authorizationServerBaseUrl(request, server, oauth))
    : // Go keeps the issuer as configured (trailing `/` included): Auth0's issuer ends in `/` and clients compare it.
      oauth.issuer.trim();
  return {
    resource: canonicalResourceUrl(resourceBaseUrl(request, server, oauth)),
    authorization_servers: authorizationServer === '' ? [] : [authorizationServer],
    scopes_supported: oidcScopesForAdvertisement(oauth.scopes),
    bearer_methods_supported: ['header'],
  };
}

/**
 * Go's `%q` for the header parameters: `"` and `\` escaped, control characters as `\n`, `\t`, `\xNN`. Unlike Go we
 * also escape non-ASCII as `\uNNNN`, because Node refuses such characters in a header value (a 500 otherwise); our
 * inputs are ASCII in practice (constant texts, URLs from a filtered Host), so the output is Go's.
 */
export function goQuote(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code > 0x7e) {
      out +=
        code > 0xffff
          ? `\\U${code.toString(16).padStart(8, '0')}`
          : `\\u${code.toString(16).padStart(4, '0')}`;
    } else out += char;
  }
  return `${out}"`;
}

export interface BearerChallengeParams {
  error: string;
  errorDescription: string;
  resourceMetadata: string;
  /** Omitted from the header when empty. */
  scope?: string;
}

/**
 * The exact altinity-mcp challenge: `Bearer error="…", error_description="…", resource_metadata="…", scope="…"`
 * (no `realm`; `scope` only when non-empty).
 */
export function bearerChallenge(params: BearerChallengeParams): string {
  const parts = [
    `error=${goQuote(params.error)}`,
    `error_description=${goQuote(params.errorDescription)}`,
    `resource_metadata=${goQuote(params.resourceMetadata)}`,
  ];
  if (params.scope) parts.push(`scope=${goQuote(params.scope)}`);
  return `Bearer ${parts.join(', ')}`;
}

/** The `scope=` hint of a 401: `required_scopes`, else `scopes`, each through the OIDC allowlist (Go). */
export function challengeScopeHint(oauth: Pick<OAuthConfig, 'required_scopes' | 'scopes'>): string {
  const required = oidcScopesForAdvertisement(oauth.required_scopes);
  return (required.length > 0 ? required : oidcScopesForAdvertisement(oauth.scopes)).join(' ');
}

/** A ready-to-send refusal: the HTTP layer copies status, headers and the JSON body as they are. */
export interface AuthFailureResponse {
  status: 401 | 403 | 503;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

/** What the caller sees per reason: Go's two texts for missing/expired, a plain sentence for the rest. */
const DESCRIPTIONS: Record<BearerFailureReason | 'missing', string> = {
  missing: 'Authentication required',
  expired: 'OAuth token expired',
  not_yet_valid: 'OAuth token is not valid yet',
  bad_signature: 'OAuth token signature is invalid',
  wrong_issuer: 'OAuth token was issued by an issuer this server does not trust',
  wrong_audience: 'OAuth token was not issued for this server (audience mismatch)',
  unknown_kid: 'OAuth token is signed with a key the issuer does not publish',
  insufficient_scope: 'Insufficient OAuth scopes',
  malformed: 'OAuth token is malformed',
  opaque: 'OAuth token is not a JWT; this server only accepts signed JWT access tokens',
  keys_unavailable: 'The OAuth signing keys of the issuer cannot be fetched right now; try again later',
};

export function describeBearerFailure(reason: BearerFailureReason | 'missing'): string {
  return DESCRIPTIONS[reason];
}

export interface ChallengeContext {
  /** From `protectedResourceMetadataUrl`. */
  resourceMetadataUrl: string;
  oauth: Pick<OAuthConfig, 'required_scopes' | 'scopes'>;
}

/**
 * The response for a refused bearer:
 * - 401 `invalid_token` with the challenge for a missing or bad token;
 * - 403 `insufficient_scope` (RFC 6750 §3.1, MCP step-up) whose `scope=` names every required scope unfiltered —
 *   the client must ask its AS for exactly those, custom ones included (Go's branch is unreachable; no compat
 *   constraint);
 * - 503 without a challenge when the issuer's keys cannot be fetched: the token may be fine, and a 401 would send
 *   the client into a pointless re-authorization loop.
 */
export function authFailureResponse(
  reason: BearerFailureReason | 'missing',
  context: ChallengeContext,
): AuthFailureResponse {
  const errorDescription = describeBearerFailure(reason);
  const json = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };
  if (reason === 'keys_unavailable') {
    return { status: 503, headers: json, body: { error: 'temporarily_unavailable', error_description: errorDescription } };
  }
  if (reason === 'insufficient_scope') {
    const scope = context.oauth.required_scopes.map((s) => s.trim()).filter((s) => s !== '').join(' ');
    const challenge = bearerChallenge({
      error: 'insufficient_scope',
      errorDescription,
      resourceMetadata: context.resourceMetadataUrl,
      scope,
    });
    return {
      status: 403,
      headers: { ...json, 'WWW-Authenticate': challenge },
      body: { error: 'insufficient_scope', error_description: errorDescription },
    };
  }
  const challenge = bearerChallenge({
    error: 'invalid_token',
    errorDescription,
    resourceMetadata: context.resourceMetadataUrl,
    scope: challengeScopeHint(context.oauth),
  });
  return {
    status: 401,
    headers: { ...json, 'WWW-Authenticate': challenge },
    body: { error: 'invalid_token', error_description: errorDescription },
  };
}
