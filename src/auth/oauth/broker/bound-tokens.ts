import { Injectable } from '@nestjs/common';
import { ConfigStore } from '../../../config/config.store.js';
import { BrokerAccessTokens, type BearerVerdict } from '../oauth-bearer.js';
import { GATEWAY_LABELS, claimString, openGatewayArtifact, sealGatewayArtifact } from './gateway-artifacts.js';
import { unverifiedJwtClaims } from './upstream-rules.js';

/**
 * Tokens the broker hands to MCP clients with `issued_tokens: bound` (ours; Go hands out the raw upstream token).
 *
 * The access token is a JWE under the gateway's own access-token key: `aud` is this server's canonical resource URL,
 * so it is worthless anywhere else, and the upstream token ClickHouse must see rides inside it, never exposed to the
 * client. The refresh token wraps the upstream refresh token the same way. No server-side store: a refresh rotates
 * both (the new refresh token wraps the upstream's rotated one). Reuse of an old refresh token is detected only
 * where the upstream IdP rotates its own refresh tokens (oidc-provider, Auth0 and Keycloak with rotation on; not
 * Google) — the replay model of the authorization code (§2.6), where the upstream is the only "used" oracle, so
 * replicas need nothing shared. Where it does not rotate, the grant's lifetime bounds the exposure: every refresh
 * token of one grant ends when the first one did (`refresh_token_ttl_seconds` from the sign-in, never extended).
 */

/** Used when `access_token_ttl_seconds` is 0. */
export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 3600;
/** Used when `refresh_token_ttl_seconds` is 0. */
export const DEFAULT_REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

export interface BoundAccessTokenInput {
  /** Canonical resource URL (with its trailing `/`). */
  audience: string;
  /** The authorization server base (metadata `issuer`). */
  issuer: string;
  subject: string;
  clientId: string;
  scope: string;
  /** The upstream token ClickHouse will see. */
  upstreamToken: string;
  /** Unix seconds the upstream token stops being valid, when known. */
  upstreamExpiresAt?: number;
}

export async function mintBoundAccessToken(
  input: BoundAccessTokenInput,
  signingSecret: string,
  ttlSeconds: number,
  nowSeconds: number,
): Promise<{ token: string; expiresAt: number }> {
  const cap = nowSeconds + (ttlSeconds > 0 ? ttlSeconds : DEFAULT_ACCESS_TOKEN_TTL_SECONDS);
  // Never past the wrapped token's own expiry (callers refuse to wrap an already expired one).
  const expiresAt = input.upstreamExpiresAt !== undefined ? Math.min(cap, input.upstreamExpiresAt) : cap;
  const token = await sealGatewayArtifact(
    {
      iss: input.issuer,
      aud: input.audience,
      sub: input.subject,
      client_id: input.clientId,
      scope: input.scope,
      upstream_token: input.upstreamToken,
      iat: nowSeconds,
      exp: expiresAt,
    },
    signingSecret,
    GATEWAY_LABELS.accessToken,
  );
  return { token, expiresAt };
}

export interface BoundRefreshToken {
  upstreamRefreshToken: string;
  clientId: string;
  /** The resource the grant was for, as the client sent it at /authorize ("" when none). */
  resource: string;
  scope: string;
  /** Unix seconds the grant ends: set on a rotated token (the first token's `exp`), so refreshing never extends it. */
  grantExpiresAt?: number;
}

export function mintBoundRefreshToken(refresh: BoundRefreshToken, signingSecret: string, ttlSeconds: number, nowSeconds: number): Promise<string> {
  const fresh = nowSeconds + (ttlSeconds > 0 ? ttlSeconds : DEFAULT_REFRESH_TOKEN_TTL_SECONDS);
  return sealGatewayArtifact(
    {
      upstream_refresh_token: refresh.upstreamRefreshToken,
      client_id: refresh.clientId,
      resource: refresh.resource,
      scope: refresh.scope,
      iat: nowSeconds,
      exp: refresh.grantExpiresAt !== undefined ? Math.min(refresh.grantExpiresAt, fresh) : fresh,
    },
    signingSecret,
    GATEWAY_LABELS.refreshToken,
  );
}

export async function openBoundRefreshToken(token: string, signingSecret: string, nowSeconds: number): Promise<BoundRefreshToken | undefined> {
  const claims = await openGatewayArtifact(token, signingSecret, GATEWAY_LABELS.refreshToken, nowSeconds);
  if (!claims) return undefined;
  const refresh: BoundRefreshToken = {
    upstreamRefreshToken: claimString(claims, 'upstream_refresh_token'),
    clientId: claimString(claims, 'client_id'),
    resource: claimString(claims, 'resource'),
    scope: claimString(claims, 'scope'),
    ...(typeof claims.exp === 'number' ? { grantExpiresAt: claims.exp } : {}),
  };
  return refresh.upstreamRefreshToken === '' || refresh.clientId === '' ? undefined : refresh;
}

const trimSlashes = (value: string) => value.replace(/\/+$/, '');

/** Verifies a bound access token for `resourceUrl`; never throws. */
export async function verifyBoundAccessToken(
  token: string,
  resourceUrl: string,
  signingSecret: string,
  nowSeconds: number,
): Promise<BearerVerdict> {
  if (signingSecret.trim() === '') return { ok: false, reason: 'malformed' };
  const claims = await openGatewayArtifact(token, signingSecret, GATEWAY_LABELS.accessToken, nowSeconds, Number.POSITIVE_INFINITY);
  if (!claims) return { ok: false, reason: 'malformed' };
  const exp = claims.exp as number;
  // No leeway: this server minted the token, and its `exp` may be the wrapped upstream token's own; past it,
  // ClickHouse refuses that token, and only a 401 here makes the client refresh (a leeway meant failing queries).
  // Same boundary as jose's: expired at `exp`.
  if (nowSeconds >= exp) return { ok: false, reason: 'expired' };
  const audience = claimString(claims, 'aud');
  // The trailing-slash variant of the resource URL is the same resource (RFC 8707 canonical form differs by client).
  if (audience === '' || trimSlashes(audience) !== trimSlashes(resourceUrl.trim())) return { ok: false, reason: 'wrong_audience' };
  const upstreamToken = claimString(claims, 'upstream_token');
  if (upstreamToken === '') return { ok: false, reason: 'malformed' };
  const subject = claimString(claims, 'sub');
  return {
    ok: true,
    kind: 'bound',
    clickhouseToken: upstreamToken,
    // Validated when the token was issued; the AEAD seal vouches it is the same token.
    claims: unverifiedJwtClaims(upstreamToken) ?? {},
    scopes: claimString(claims, 'scope').split(' ').filter((scope) => scope !== ''),
    ...(subject === '' ? {} : { subject }),
    expiresAt: exp,
  };
}

/** The `BrokerAccessTokens` the resource-server guard asks about bound tokens (`signing_secret` read per call: hot). */
@Injectable()
export class BoundAccessTokens extends BrokerAccessTokens {
  constructor(private readonly config: ConfigStore) {
    super();
  }

  verify(token: string, resourceUrl: string): Promise<BearerVerdict> {
    return verifyBoundAccessToken(token, resourceUrl, this.config.current.server.oauth.signing_secret, Math.floor(Date.now() / 1000));
  }
}
