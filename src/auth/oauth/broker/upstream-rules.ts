import type { OAuthConfig } from '../../../config/config.types.js';

/**
 * altinity-mcp's rules for talking to the upstream IdP (spec §2.5 step 10, §2.9): which scopes and extra parameters
 * the authorization redirect carries, which upstream token the client gets and with which `expires_in`, and how
 * Google's URI-form scopes are shown to the client. Pure functions, pinned by vectors 39, 40, 42 and 45.
 */

/** `IsGoogleIssuer`: the issuer host (scheme and path stripped, lowercased) is Google's. */
export function isGoogleIssuer(issuer: string): boolean {
  const host = issuer.trim().replace(/^https?:\/\//i, '').split('/')[0]!.toLowerCase();
  return host === 'accounts.google.com' || host === 'www.google.com';
}

/** `brokerUpstreamAudience`: `audience` goes upstream only with the broker on and a non-Google issuer. */
export function brokerUpstreamAudience(oauth: Pick<OAuthConfig, 'broker' | 'issuer' | 'audience'>): string {
  if (!oauth.broker || isGoogleIssuer(oauth.issuer)) return '';
  return oauth.audience.trim();
}

/** The configured scopes joined with spaces, or `openid email` when there are none. */
export function configuredUpstreamScope(oauth: Pick<OAuthConfig, 'scopes'>): string {
  const scopes = oauth.scopes.map((scope) => scope.trim()).filter((scope) => scope !== '');
  return scopes.length > 0 ? scopes.join(' ') : 'openid email';
}

/** Collapses internal whitespace of a client's `scope` to single spaces (what the pending-auth stores). */
export function collapseScope(scope: string): string {
  return scope.split(/\s+/).filter((part) => part !== '').join(' ');
}

export type UpstreamAuthorizeConfig = Pick<
  OAuthConfig,
  'broker' | 'issuer' | 'audience' | 'client_id' | 'scopes' | 'upstream_offline_access' | 'upstream_force_consent'
>;

/**
 * The upstream authorization URL: `auth_url?<sorted form-encoded query>` (Go's `url.Values.Encode`). The client's
 * own scope is never forwarded. Offline rules (vector 40): Google gets `access_type=offline` (+ `prompt=consent`
 * when forced) and never the `offline_access` scope, which it rejects; other IdPs get `offline_access` appended.
 */
export function upstreamAuthorizeUrl(
  authUrl: string,
  oauth: UpstreamAuthorizeConfig,
  params: { redirectUri: string; state: string; codeChallenge: string },
): string {
  const google = isGoogleIssuer(oauth.issuer);
  let scope = configuredUpstreamScope(oauth);
  const query: Record<string, string> = {
    client_id: oauth.client_id.trim(),
    redirect_uri: params.redirectUri,
    response_type: 'code',
    state: params.state,
    code_challenge: params.codeChallenge,
    code_challenge_method: 'S256',
  };
  if (oauth.upstream_offline_access) {
    if (google) {
      query.access_type = 'offline';
      if (oauth.upstream_force_consent) query.prompt = 'consent';
    } else if (!scope.split(' ').includes('offline_access')) {
      scope = `${scope} offline_access`;
    }
  }
  query.scope = scope;
  const audience = brokerUpstreamAudience(oauth);
  if (audience !== '') query.audience = audience;
  return `${authUrl.trim()}?${goValuesEncode(query)}`;
}

/** Go's `url.Values.Encode`: keys sorted, `QueryEscape` (space as `+`). */
export function goValuesEncode(values: Record<string, string>): string {
  return Object.keys(values)
    .sort()
    .map((key) => `${goQueryEscape(key)}=${goQueryEscape(values[key]!)}`)
    .join('&');
}

function goQueryEscape(value: string): string {
  // encodeURIComponent leaves !'()* alone; Go escapes them. Space becomes `+` in both Go and URLSearchParams.
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

const GOOGLE_SCOPE_ALIASES: Readonly<Record<string, string>> = {
  'https://www.googleapis.com/auth/userinfo.email': 'email',
  'https://www.googleapis.com/auth/userinfo.profile': 'profile',
  'https://www.googleapis.com/auth/openid': 'openid',
};

/** `NormalizeUpstreamScopeForClient`: Google URI scopes to their short names, first occurrence kept (vector 45). */
export function normalizeUpstreamScopeForClient(scope: string): string {
  const kept: string[] = [];
  for (const raw of scope.split(/\s+/)) {
    if (raw === '') continue;
    const name = GOOGLE_SCOPE_ALIASES[raw] ?? raw;
    if (!kept.includes(name)) kept.push(name);
  }
  return kept.join(' ');
}

/** What the upstream token endpoint answered, as far as the choice below needs it. */
export interface UpstreamTokens {
  accessToken: string;
  idToken: string;
  tokenType: string;
  /** Seconds, 0 when absent. */
  expiresIn: number;
  scope: string;
  refreshToken: string;
}

export interface ChosenToken {
  token: string;
  kind: 'id_token' | 'access_token';
  /** Seconds from now, with Go's quirks (negative → 0, and a computed 0 → 3600). */
  expiresIn: number;
  /** Unix seconds when known from a JWT `exp` (the validated id_token, or the access token's unverified one). */
  expiresAt?: number;
}

/** The unverified numeric `exp` of a JWT-shaped token, or undefined. */
export function unverifiedJwtExp(token: string): number | undefined {
  const claims = unverifiedJwtClaims(token);
  const exp = claims?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? Math.trunc(exp) : undefined;
}

/** The payload of a JWT-shaped token without verifying it (the caller vouches for the token), or undefined. */
export function unverifiedJwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * §2.9 "Which token the client receives": the id_token by default, the access_token without one, and the access
 * token whenever an API audience is configured for a non-Google IdP (it carries `aud=<API>`). `idTokenExp` is the
 * validated id_token's `exp`.
 */
export function chooseClientToken(
  tokens: UpstreamTokens,
  oauth: Pick<OAuthConfig, 'broker' | 'issuer' | 'audience'>,
  idTokenExp: number | undefined,
  nowSeconds: number,
): ChosenToken {
  const preferAccess = brokerUpstreamAudience(oauth) !== '' && tokens.accessToken !== '';
  if (tokens.idToken !== '' && !preferAccess) {
    const raw = idTokenExp !== undefined && idTokenExp > 0 ? idTokenExp - nowSeconds : tokens.expiresIn;
    return { token: tokens.idToken, kind: 'id_token', expiresIn: quirkyExpiresIn(raw), ...(idTokenExp ? { expiresAt: idTokenExp } : {}) };
  }
  const accessExp = unverifiedJwtExp(tokens.accessToken);
  const raw = accessExp !== undefined && accessExp > 0 ? accessExp - nowSeconds : tokens.expiresIn;
  return {
    token: tokens.accessToken,
    kind: 'access_token',
    expiresIn: quirkyExpiresIn(raw),
    ...(accessExp ? { expiresAt: accessExp } : tokens.expiresIn > 0 ? { expiresAt: nowSeconds + tokens.expiresIn } : {}),
  };
}

/** Negative → 0, then Go's "0 means unset" turns 0 into 3600. */
function quirkyExpiresIn(seconds: number): number {
  const clamped = Math.max(0, Math.trunc(seconds));
  return clamped === 0 ? 3600 : clamped;
}

/** Upstream `error` codes passed on to the client at the callback; anything else becomes `server_error`. */
const PASSABLE_AUTHORIZATION_ERRORS = new Set([
  'access_denied',
  'invalid_request',
  'unauthorized_client',
  'unsupported_response_type',
  'invalid_scope',
  'server_error',
  'temporarily_unavailable',
  'interaction_required',
  'login_required',
  'account_selection_required',
  'consent_required',
]);

export function clientFacingAuthorizationError(upstreamError: string): string {
  return PASSABLE_AUTHORIZATION_ERRORS.has(upstreamError) ? upstreamError : 'server_error';
}
