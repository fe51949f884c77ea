import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyResult,
} from 'jose';
import type { OAuthConfig } from '../../../config/config.types.js';
import { JwksKeySource, KeySourceError, type DocumentFetcher } from './jwks-key-source.js';
import { normalizeUrl } from './public-urls.js';

/**
 * Resource-server verification of inbound bearers (issue 17 item 2). altinity-mcp checks only an *unverified* `exp`
 * and soft-passes anything else to ClickHouse (spec §2.1, §6.2 #1); the MCP authorization spec requires the server to
 * verify that a token was issued for it. So here: signature against the issuer's JWKS, asymmetric algorithms only,
 * `iss` exact, `aud` = this resource, `exp` (required) / `nbf` with a small leeway, and `required_scopes`.
 */

/** Why a bearer was refused, as counted in metrics. */
export type BearerFailureReason =
  | 'expired'
  | 'not_yet_valid'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'unknown_kid'
  | 'insufficient_scope'
  | 'malformed'
  | 'opaque'
  /** The issuer's keys could not be fetched: not the caller's fault (503, no challenge). */
  | 'keys_unavailable';

export type BearerOutcome = 'ok' | BearerFailureReason;

export type BearerVerification =
  | { ok: true; kind: 'jwt'; claims: JWTPayload; scopes: string[] }
  /** Only with `allowOpaqueTokens`: Go's soft-pass, for setups where ClickHouse validates every bearer itself. */
  | { ok: true; kind: 'opaque' }
  | { ok: false; reason: BearerFailureReason };

/**
 * Asymmetric JWS algorithms only. `none` and every HMAC (`HS*`) are refused before any key is looked at, which
 * also closes the "HS256 keyed with the RSA public key" confusion.
 */
export const ALLOWED_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

export interface BearerVerifierOptions {
  oauth: Pick<OAuthConfig, 'issuer' | 'jwks_url' | 'audience' | 'public_resource_url' | 'required_scopes' | 'jwks_cache_ttl'>;
  /**
   * Accept non-JWT bearers unverified (altinity-mcp's soft-pass). Off by default: an opaque token proves nothing
   * here. Meant only for setups where ClickHouse (Antalya `token_processors`) validates every bearer itself.
   */
  allowOpaqueTokens?: boolean;
  /**
   * The `aud` values to accept instead of this resource (`audience` / `public_resource_url`). With the broker
   * handing clients the raw upstream token (`issued_tokens: upstream`) that token was issued for the upstream
   * client (`client_id`, or the API `audience`), not for this server's URL.
   */
  audiences?: readonly string[];
  /** Leeway for `exp`/`nbf`, seconds (Go's skew is 60). */
  clockToleranceSeconds?: number;
  fetcher?: DocumentFetcher;
  unknownKidCooldownMs?: number;
  failureBackoffMs?: number;
  fetchTimeoutMs?: number;
  now?: () => number;
}

export class BearerVerifier {
  readonly keySource: JwksKeySource;
  private readonly issuer: string;
  private readonly audiences: string[];
  private readonly requiredScopes: string[];
  private readonly clockTolerance: number;
  private readonly now: () => number;
  /**
   * One jose key set per fetched JWKS document: it imports each key once and keeps it, so a cached JWKS costs a
   * signature check per request, not a key import (the bench's 0.15 ms budget).
   */
  private readonly localKeySets = new WeakMap<JSONWebKeySet, ReturnType<typeof createLocalJWKSet>>();

  constructor(private readonly options: BearerVerifierOptions) {
    const { oauth } = options;
    this.issuer = oauth.issuer.trim();
    if (this.issuer === '') throw new KeySourceError('OAuth token verification needs oauth.issuer');
    this.audiences = options.audiences ? explicitAudiences(options.audiences) : expectedAudiences(oauth);
    this.requiredScopes = oauth.required_scopes.map((scope) => scope.trim()).filter((scope) => scope !== '');
    this.clockTolerance = options.clockToleranceSeconds ?? 60;
    this.now = options.now ?? Date.now;
    this.keySource = new JwksKeySource({
      issuer: oauth.issuer,
      jwksUrl: oauth.jwks_url,
      cacheTtlSeconds: oauth.jwks_cache_ttl,
      fetcher: options.fetcher,
      timeoutMs: options.fetchTimeoutMs,
      unknownKidCooldownMs: options.unknownKidCooldownMs,
      failureBackoffMs: options.failureBackoffMs,
      now: this.now,
    });
  }

  /** Never throws for a bad token; `keys_unavailable` when the issuer's keys cannot be had. */
  async verify(token: string): Promise<BearerVerification> {
    const shape = classifyToken(token);
    if (shape === 'opaque') {
      return this.options.allowOpaqueTokens ? { ok: true, kind: 'opaque' } : { ok: false, reason: 'opaque' };
    }
    if (shape === 'malformed') return { ok: false, reason: 'malformed' };
    if (!(ALLOWED_ALGORITHMS as readonly string[]).includes(shape.alg)) return { ok: false, reason: 'bad_signature' };

    let keys: JSONWebKeySet;
    try {
      keys = await this.keySource.keys();
    } catch {
      return { ok: false, reason: 'keys_unavailable' };
    }
    let outcome = await this.verifyWith(token, keys);
    if (outcome === 'unknown_kid') {
      // The issuer may have rotated its keys since we cached them: one refetch (rate-limited), then a verdict.
      let refreshed: JSONWebKeySet | undefined;
      try {
        refreshed = await this.keySource.refetchForUnknownKid();
      } catch {
        return { ok: false, reason: 'keys_unavailable' };
      }
      if (refreshed) outcome = await this.verifyWith(token, refreshed);
    }
    if (typeof outcome === 'string') return { ok: false, reason: outcome };

    const claims = outcome.payload;
    // jose leaves a future `iat` alone; altinity-mcp's validator (and RFC 7519's intent) refuses one beyond the
    // leeway: a token "issued" in the future comes from a broken or hostile clock.
    if (typeof claims.iat === 'number' && claims.iat > this.now() / 1000 + this.clockTolerance) return { ok: false, reason: 'not_yet_valid' };
    const scopes = scopesOf(claims);
    if (scopes === undefined) return { ok: false, reason: 'malformed' };
    if (!this.requiredScopes.every((scope) => scopes.includes(scope))) return { ok: false, reason: 'insufficient_scope' };
    return { ok: true, kind: 'jwt', claims, scopes };
  }

  private async verifyWith(token: string, keys: JSONWebKeySet): Promise<JWTVerifyResult | BearerFailureReason> {
    const options = {
      algorithms: [...ALLOWED_ALGORITHMS],
      issuer: this.issuer,
      audience: this.audiences,
      clockTolerance: this.clockTolerance,
      requiredClaims: ['exp'],
      currentDate: new Date(this.now()),
    };
    let keySet = this.localKeySets.get(keys);
    if (!keySet) {
      try {
        keySet = createLocalJWKSet(keys);
      } catch {
        return 'keys_unavailable';
      }
      this.localKeySets.set(keys, keySet);
    }
    try {
      return await jwtVerify(token, keySet, options);
    } catch (err) {
      if (err instanceof errors.JWKSMultipleMatchingKeys) {
        // No `kid` (or a shared one): try each candidate key, as Go does; the first that verifies decides.
        let last: BearerFailureReason = 'bad_signature';
        for await (const key of err as unknown as AsyncIterable<CryptoKey>) {
          try {
            return await jwtVerify(token, key, options);
          } catch (inner) {
            last = failureReason(inner);
            if (last !== 'bad_signature') return last;
          }
        }
        return last;
      }
      return failureReason(err);
    }
  }
}

/** `aud` may name this resource with or without the trailing `/` (Go is slash-tolerant; PRM adds one). */
function expectedAudiences(oauth: BearerVerifierOptions['oauth']): string[] {
  // The expected audience is fixed by configuration, never derived from the request's Host header: a hostile Host
  // would otherwise choose which audience we accept.
  const configured = [oauth.audience, oauth.public_resource_url].map(normalizeUrl).filter((a) => a !== '');
  if (configured.length === 0) {
    throw new KeySourceError('OAuth token verification needs oauth.audience or oauth.public_resource_url');
  }
  return [...new Set(configured.flatMap((audience) => [audience, `${audience}/`]))];
}

function explicitAudiences(audiences: readonly string[]): string[] {
  const kept = audiences.map(normalizeUrl).filter((a) => a !== '');
  if (kept.length === 0) throw new KeySourceError('OAuth token verification needs an expected audience');
  return [...new Set(kept.flatMap((audience) => [audience, `${audience}/`]))];
}

type TokenShape = 'opaque' | 'malformed' | { alg: string };

/**
 * A bearer is a JWS if it has three dot-separated parts and a JSON header with a string `alg`; anything else (an
 * IdP's opaque reference token, a JWE) is opaque. A JWS whose parts are not base64url JSON is malformed.
 */
function classifyToken(token: string): TokenShape {
  const parts = token.split('.');
  if (parts.length !== 3) return 'opaque';
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return 'opaque';
  }
  if (typeof header.alg !== 'string') return 'malformed';
  if (parts[1] === '' || parts[2] === '') return 'malformed';
  return { alg: header.alg };
}

function failureReason(err: unknown): BearerFailureReason {
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return 'wrong_issuer';
    if (err.claim === 'aud') return 'wrong_audience';
    if (err.claim === 'nbf') return 'not_yet_valid';
    // `iat` in the future, a missing `exp`, or a claim of the wrong type.
    return 'malformed';
  }
  if (err instanceof errors.JWKSNoMatchingKey) return 'unknown_kid';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return 'bad_signature';
  return 'malformed';
}

/**
 * The granted scopes: `scope` (RFC 9068/8693, space-separated string) or `scp` (Azure string, Okta array).
 * Undefined when a present claim has the wrong type.
 */
function scopesOf(claims: JWTPayload): string[] | undefined {
  const raw = claims.scope ?? claims.scp;
  if (raw === undefined) return [];
  if (typeof raw === 'string') return raw.split(' ').filter((scope) => scope !== '');
  if (Array.isArray(raw) && raw.every((scope) => typeof scope === 'string')) return raw;
  return undefined;
}
