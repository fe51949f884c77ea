import { AUTH_CODE_LABEL, AUTH_CODE_TTL_SECONDS, PENDING_AUTH_LABEL, PENDING_AUTH_TTL_SECONDS } from './artifact-keys.js';
import { decodeOAuthArtifact, encodeOAuthArtifact, stringClaim, type ArtifactDecodeOptions } from './oauth-artifact.js';

/** What `/oauth/authorize` carries through the upstream login in `state` (§2.5 "The pending auth stores"). */
export interface PendingAuth {
  clientId: string;
  redirectUri: string;
  /** The client's scope, internal whitespace collapsed. */
  scope: string;
  /** The client's own `state`, handed back at the callback; may be "". */
  clientState: string;
  codeChallenge: string;
  codeChallengeMethod: string;
  /** The raw `resource` the client sent, as-is; may be "". */
  resource: string;
  /** The verifier of the gateway↔IdP PKCE pair. */
  upstreamPkceVerifier: string;
}

/** The downstream authorization code: the upstream code, not yet redeemed, plus what `/token` must re-check. */
export interface AuthCode {
  clientId: string;
  redirectUri: string;
  scope: string;
  codeChallenge: string;
  codeChallengeMethod: string;
  resource: string;
  upstreamAuthCode: string;
  upstreamPkceVerifier: string;
}

/** A decoded artifact plus its expiry (Unix seconds; 0 when it carried none, which only legacy ones can). */
export type Decoded<T> = T & { exp: number };

export interface ArtifactMintOptions {
  readonly nowSeconds: number;
  /** Overrides Go's lifetime (600 s pending, 60 s code). */
  readonly ttlSeconds?: number;
}

function expiryOf(claims: Record<string, unknown>): number {
  return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? Math.trunc(claims.exp) : 0;
}

/** Mints the pending-auth JWE; every Go claim is written, empty ones included, in Go's field order. */
export function encodePendingAuth(pending: PendingAuth, signingSecret: string, options: ArtifactMintOptions): Promise<string> {
  return encodeOAuthArtifact(
    {
      client_id: pending.clientId,
      redirect_uri: pending.redirectUri,
      scope: pending.scope,
      client_state: pending.clientState,
      code_challenge: pending.codeChallenge,
      code_challenge_method: pending.codeChallengeMethod,
      resource: pending.resource,
      upstream_pkce_verifier: pending.upstreamPkceVerifier,
      exp: Math.floor(options.nowSeconds) + (options.ttlSeconds ?? PENDING_AUTH_TTL_SECONDS),
    },
    signingSecret,
    PENDING_AUTH_LABEL,
  );
}

export async function decodePendingAuth(token: string, signingSecret: string, options: ArtifactDecodeOptions): Promise<Decoded<PendingAuth>> {
  const claims = await decodeOAuthArtifact(token, signingSecret, PENDING_AUTH_LABEL, options);
  return {
    clientId: stringClaim(claims, 'client_id'),
    redirectUri: stringClaim(claims, 'redirect_uri'),
    scope: stringClaim(claims, 'scope'),
    clientState: stringClaim(claims, 'client_state'),
    codeChallenge: stringClaim(claims, 'code_challenge'),
    codeChallengeMethod: stringClaim(claims, 'code_challenge_method'),
    resource: stringClaim(claims, 'resource'),
    upstreamPkceVerifier: stringClaim(claims, 'upstream_pkce_verifier'),
    exp: expiryOf(claims),
  };
}

/** Mints the downstream authorization code JWE (60 s by default). */
export function encodeAuthCode(code: AuthCode, signingSecret: string, options: ArtifactMintOptions): Promise<string> {
  return encodeOAuthArtifact(
    {
      client_id: code.clientId,
      redirect_uri: code.redirectUri,
      scope: code.scope,
      code_challenge: code.codeChallenge,
      code_challenge_method: code.codeChallengeMethod,
      resource: code.resource,
      upstream_auth_code: code.upstreamAuthCode,
      upstream_pkce_verifier: code.upstreamPkceVerifier,
      exp: Math.floor(options.nowSeconds) + (options.ttlSeconds ?? AUTH_CODE_TTL_SECONDS),
    },
    signingSecret,
    AUTH_CODE_LABEL,
  );
}

export async function decodeAuthCode(token: string, signingSecret: string, options: ArtifactDecodeOptions): Promise<Decoded<AuthCode>> {
  const claims = await decodeOAuthArtifact(token, signingSecret, AUTH_CODE_LABEL, options);
  return {
    clientId: stringClaim(claims, 'client_id'),
    redirectUri: stringClaim(claims, 'redirect_uri'),
    scope: stringClaim(claims, 'scope'),
    codeChallenge: stringClaim(claims, 'code_challenge'),
    codeChallengeMethod: stringClaim(claims, 'code_challenge_method'),
    resource: stringClaim(claims, 'resource'),
    upstreamAuthCode: stringClaim(claims, 'upstream_auth_code'),
    upstreamPkceVerifier: stringClaim(claims, 'upstream_pkce_verifier'),
    exp: expiryOf(claims),
  };
}
