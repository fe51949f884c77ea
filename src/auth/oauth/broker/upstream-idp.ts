import * as oauth from 'oauth4webapi';
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { OAuthConfig } from '../../../config/config.types.js';
import { ALLOWED_ALGORITHMS } from '../resource-server/bearer-verifier.js';
import { JwksKeySource, assertFetchableUrl } from '../resource-server/jwks-key-source.js';
import type { UpstreamTokens } from './upstream-rules.js';

/**
 * The broker's side of the upstream IdP (spec §2.9, §2.5 step 11): code exchange and refresh through
 * `oauth4webapi` against the operator-configured endpoints (client_secret_post, as Go), id_token validation against
 * the IdP's JWKS (`jwks_url` or discovery; cached `jwks_cache_ttl` ±10 %, one refetch on an unknown `kid`), and the
 * userinfo fallback. Every call has a 10 s deadline and a 1 MiB answer cap; error details kept for logs are our own
 * texts plus the upstream's `error` code and body length, never a body (`SafeUpstreamErrorFields`).
 */

export const UPSTREAM_TIMEOUT_MS = 10_000;
export const UPSTREAM_MAX_BODY_BYTES = 1024 * 1024;
/** id_token `exp`/`nbf` leeway. */
const ID_TOKEN_LEEWAY_SECONDS = 60;

export type UpstreamFailureKind =
  /** Network error, timeout, or an endpoint we refuse to call. */
  | 'transport'
  | 'read'
  /** Status ≥ 300, or a 2xx carrying `error` (the HA replay verdict). */
  | 'rejected'
  | 'non_json'
  | 'no_token'
  | 'identity'
  | 'userinfo';

export class UpstreamFailure extends Error {
  constructor(
    readonly kind: UpstreamFailureKind,
    /** Safe for logs: our text, the upstream `error` code, the body length. */
    readonly detail: string,
  ) {
    super(`upstream ${kind}: ${detail}`);
    this.name = 'UpstreamFailure';
  }
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** http only towards loopback (test IdPs); oauth4webapi refuses http otherwise, which we keep. */
function insecureAllowed(rawUrl: string): boolean {
  try {
    const url = new URL(rawUrl);
    return url.protocol === 'http:' && LOOPBACK.has(url.hostname);
  } catch {
    return false;
  }
}

async function readCapped(response: Response): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > UPSTREAM_MAX_BODY_BYTES) {
    await response.body?.cancel().catch(() => undefined);
    throw new UpstreamFailure('read', `answer larger than ${UPSTREAM_MAX_BODY_BYTES} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body) {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > UPSTREAM_MAX_BODY_BYTES) {
        await response.body.cancel().catch(() => undefined);
        throw new UpstreamFailure('read', `answer larger than ${UPSTREAM_MAX_BODY_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `SafeUpstreamErrorFields`: the `error` code of a JSON body (if any) and the body length. */
export function safeUpstreamErrorFields(body: string): { error: string; length: number } {
  let error = '';
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed?.error === 'string') error = parsed.error.slice(0, 64).replace(/[^\w.-]/g, '?');
  } catch {
    // not JSON: no code
  }
  return { error, length: body.length };
}

const str = (value: unknown): string => (typeof value === 'string' ? value : '');

/** Reads a token-endpoint answer with Go's verdicts (§2.5 step 11). */
async function tokenAnswer(response: Response): Promise<UpstreamTokens & { raw: Record<string, unknown> }> {
  let body: string;
  try {
    body = await readCapped(response);
  } catch (error) {
    if (error instanceof UpstreamFailure) throw error;
    throw new UpstreamFailure('read', 'failed to read the answer');
  }
  if (response.status >= 300) {
    const safe = safeUpstreamErrorFields(body);
    throw new UpstreamFailure('rejected', `HTTP ${response.status}, error=${safe.error || '-'}, ${safe.length} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new UpstreamFailure('non_json', `non-JSON answer, ${body.length} bytes`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UpstreamFailure('non_json', 'answer is not a JSON object');
  const raw = parsed as Record<string, unknown>;
  if (raw.error !== undefined && raw.error !== null && raw.error !== '') {
    throw new UpstreamFailure('rejected', `HTTP ${response.status} with error=${safeUpstreamErrorFields(body).error || '?'}`);
  }
  const tokens: UpstreamTokens & { raw: Record<string, unknown> } = {
    accessToken: str(raw.access_token),
    idToken: str(raw.id_token),
    tokenType: str(raw.token_type),
    expiresIn: typeof raw.expires_in === 'number' && Number.isFinite(raw.expires_in) ? Math.trunc(raw.expires_in) : 0,
    scope: str(raw.scope),
    refreshToken: str(raw.refresh_token),
    raw,
  };
  if (tokens.accessToken === '' && tokens.idToken === '') throw new UpstreamFailure('no_token', 'no access_token and no id_token');
  return tokens;
}

export interface UpstreamIdpOptions {
  /** Unix milliseconds. */
  now?: () => number;
}

export class UpstreamIdp {
  private keySource: { key: string; source: JwksKeySource } | undefined;
  private readonly now: () => number;

  constructor(
    private readonly config: () => OAuthConfig,
    options: UpstreamIdpOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** POSTs the authorization-code grant upstream (one call per attempt: the HA replay oracle). */
  async exchangeCode(input: { code: string; codeVerifier: string; redirectUri: string }): Promise<UpstreamTokens> {
    const cfg = this.config();
    const { as, client, auth, options } = this.endpoint(cfg);
    const callback = oauth.validateAuthResponse(as, client, new URLSearchParams({ code: input.code }), oauth.skipStateCheck);
    let response: Response;
    try {
      response = await oauth.authorizationCodeGrantRequest(as, client, auth, callback, input.redirectUri, input.codeVerifier, options());
    } catch {
      throw new UpstreamFailure('transport', 'code exchange request failed');
    }
    return tokenAnswer(response);
  }

  /** POSTs a refresh-token grant upstream. */
  async refresh(refreshToken: string): Promise<UpstreamTokens> {
    const cfg = this.config();
    const { as, client, auth, options } = this.endpoint(cfg);
    let response: Response;
    try {
      response = await oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, options());
    } catch {
      throw new UpstreamFailure('transport', 'refresh request failed');
    }
    return tokenAnswer(response);
  }

  /**
   * `ValidateUpstreamIdentityToken`: signature by the IdP's keys (asymmetric algorithms only), `iss` = the
   * configured issuer (trailing `/` ignored), `aud` contains our upstream `client_id`. Unlike Go we also check
   * `exp`/`nbf` (60 s leeway): an expired identity token proves nothing.
   */
  async validateIdToken(idToken: string): Promise<JWTPayload> {
    const cfg = this.config();
    const source = this.jwks(cfg);
    let keys: JSONWebKeySet;
    try {
      keys = await source.keys();
    } catch {
      throw new UpstreamFailure('identity', 'upstream keys unavailable');
    }
    let payload: JWTPayload;
    try {
      payload = await this.verifyWith(idToken, keys);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw new UpstreamFailure('identity', describeJoseError(error));
      const refreshed = await source.refetchForUnknownKid().catch(() => undefined);
      if (!refreshed) throw new UpstreamFailure('identity', 'no key for the id_token kid');
      try {
        payload = await this.verifyWith(idToken, refreshed);
      } catch (retryError) {
        throw new UpstreamFailure('identity', describeJoseError(retryError));
      }
    }
    const issuer = cfg.issuer.trim();
    if (issuer !== '' && str(payload.iss).replace(/\/+$/, '') !== issuer.replace(/\/+$/, '')) {
      throw new UpstreamFailure('identity', 'id_token issuer mismatch');
    }
    const clientId = cfg.client_id.trim();
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!audiences.some((aud) => typeof aud === 'string' && (aud === clientId || aud.replace(/\/+$/, '') === clientId.replace(/\/+$/, '')))) {
      throw new UpstreamFailure('identity', 'id_token audience mismatch');
    }
    return payload;
  }

  /** GET userinfo with the upstream access token (`userinfo_url`, else the issuer's OIDC discovery). */
  async userinfo(accessToken: string): Promise<Record<string, unknown>> {
    const cfg = this.config();
    const endpoint = cfg.userinfo_url.trim() !== '' ? cfg.userinfo_url.trim() : await this.discoverUserinfo(cfg);
    let response: Response;
    try {
      assertFetchableUrl(endpoint, 'userinfo endpoint');
      response = await fetch(endpoint, {
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
      });
    } catch {
      throw new UpstreamFailure('userinfo', 'userinfo request failed');
    }
    const body = await readCapped(response).catch(() => {
      throw new UpstreamFailure('userinfo', 'userinfo answer unreadable');
    });
    if (response.status >= 300) throw new UpstreamFailure('userinfo', `userinfo HTTP ${response.status}`);
    try {
      const parsed = JSON.parse(body) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw new UpstreamFailure('userinfo', 'userinfo answer is not a JSON object');
  }

  private async discoverUserinfo(cfg: OAuthConfig): Promise<string> {
    const issuer = cfg.issuer.trim().replace(/\/+$/, '');
    if (issuer === '') throw new UpstreamFailure('userinfo', 'no userinfo endpoint');
    try {
      const url = `${issuer}/.well-known/openid-configuration`;
      assertFetchableUrl(url, 'issuer metadata');
      const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS), headers: { accept: 'application/json' } });
      const metadata = JSON.parse(await readCapped(response)) as { userinfo_endpoint?: unknown };
      if (response.status === 200 && typeof metadata.userinfo_endpoint === 'string' && metadata.userinfo_endpoint !== '') return metadata.userinfo_endpoint;
    } catch {
      // reported below
    }
    throw new UpstreamFailure('userinfo', 'no userinfo endpoint');
  }

  private verifyWith(token: string, keys: JSONWebKeySet): Promise<JWTPayload> {
    return jwtVerify(token, createLocalJWKSet(keys), {
      algorithms: [...ALLOWED_ALGORITHMS],
      clockTolerance: ID_TOKEN_LEEWAY_SECONDS,
      currentDate: new Date(this.now()),
    }).then((result) => result.payload);
  }

  private jwks(cfg: OAuthConfig): JwksKeySource {
    const key = `${cfg.issuer}\u0000${cfg.jwks_url}\u0000${cfg.jwks_cache_ttl}`;
    if (this.keySource?.key !== key) {
      this.keySource = {
        key,
        source: new JwksKeySource({
          issuer: cfg.issuer,
          jwksUrl: cfg.jwks_url,
          cacheTtlSeconds: cfg.jwks_cache_ttl,
          timeoutMs: UPSTREAM_TIMEOUT_MS,
          maxBytes: UPSTREAM_MAX_BODY_BYTES,
          // A new kid after a key rotation must work at once for the next login; the refetch is still single-flight.
          unknownKidCooldownMs: 5_000,
          now: this.now,
        }),
      };
    }
    return this.keySource.source;
  }

  private endpoint(cfg: OAuthConfig) {
    const tokenUrl = cfg.token_url.trim();
    let origin = tokenUrl;
    try {
      origin = new URL(tokenUrl).origin;
    } catch {
      throw new UpstreamFailure('transport', 'token endpoint is not a URL');
    }
    const as: oauth.AuthorizationServer = { issuer: cfg.issuer.trim() || origin, token_endpoint: tokenUrl };
    const client: oauth.Client = { client_id: cfg.client_id.trim() };
    const secret = cfg.client_secret.trim();
    const auth = secret === '' ? oauth.None() : oauth.ClientSecretPost(secret);
    const insecure = insecureAllowed(tokenUrl);
    const options = () => ({ signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS), [oauth.allowInsecureRequests]: insecure });
    return { as, client, auth, options };
  }
}

function describeJoseError(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'id_token expired';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'id_token signature invalid';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'id_token algorithm not allowed';
  if (error instanceof errors.JWTClaimValidationFailed) return `id_token claim ${error.claim} invalid`;
  if (error instanceof errors.JOSEError) return `id_token refused (${error.code})`;
  return 'id_token refused';
}
