import { compactVerify, decodeProtectedHeader, importJWK, type JWK, type ProtectedHeaderParameters } from 'jose';
import { JwksCache, JwksFetchError } from './jwks-cache.js';

/** The signature algorithms §2.8 allows (also advertised in AS metadata): asymmetric only, no HMAC, no `none`. */
export const CLIENT_ASSERTION_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** go-jose's default leeway, which Go's time checks use (§2.8 step 6). */
export const ASSERTION_LEEWAY_SECONDS = 60;
/** When both `iat` and `exp` are present, the assertion may live at most this long (§2.8 step 8). */
export const ASSERTION_MAX_LIFETIME_SECONDS = 600;
/** A compact JWS longer than this is refused before any parsing (a JWT assertion is a few hundred bytes). */
export const MAX_ASSERTION_LENGTH = 16 * 1024;

/** The `/oauth/token` answer texts of Go (§2.5 step 3); the detail of a refusal stays in the error, not the answer. */
export const CLIENT_ASSERTION_INVALID = 'client_assertion invalid';

export class ClientAssertionError extends Error {
  constructor(
    /** Why, for logs and tests; clients only ever get `client_assertion invalid`. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${CLIENT_ASSERTION_INVALID}: ${detail}`, options);
    this.name = 'ClientAssertionError';
  }
}

export interface AssertionToVerify {
  readonly assertion: string;
  /** The CIMD `client_id` URL the assertion must be issued by and about. */
  readonly clientId: string;
  /** The client document's `jwks_uri`; "" or undefined refuses. */
  readonly jwksUri: string | undefined;
  /** `JoinURLPath(AS base, token_path)`: the only accepted `aud` entry, byte-exact. */
  readonly tokenEndpointUrl: string;
}

export interface ClientAssertionVerifierOptions {
  readonly jwks?: JwksCache;
  /** Unix milliseconds. */
  readonly now?: () => number;
}

const ALLOWED = new Set<string>(CLIENT_ASSERTION_ALGORITHMS);
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Members only a private or symmetric key has: such an entry in a published key set is never used to verify. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

const usableForSignatures = (key: JWK) =>
  (key.use === undefined || key.use === '' || key.use === 'sig') && !PRIVATE_MEMBERS.some((member) => Object.hasOwn(key, member));

/**
 * §2.8 step 4: with a `kid`, the first key of that id whose `use` is empty or `sig`; without, the first such key
 * whose `alg` is the header's or empty. A `use: enc` key is never chosen.
 */
export function selectJwk(keys: readonly JWK[], header: Pick<ProtectedHeaderParameters, 'kid' | 'alg'>): JWK | undefined {
  if (header.kid !== undefined) return keys.find((key) => key.kid === header.kid && usableForSignatures(key));
  return keys.find((key) => usableForSignatures(key) && (key.alg === undefined || key.alg === '' || key.alg === header.alg));
}

/** §2.8 step 7: some `aud` entry must be the token endpoint, byte for byte (a string `aud` is a one-entry list). */
export function audienceMatches(aud: unknown, tokenEndpointUrl: string): boolean {
  const entries = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  return entries.some((entry) => entry === tokenEndpointUrl);
}

/** Optional NumericDate: absent is fine, anything but a finite number refuses (go-jose fails to decode it). */
function numericDate(claims: Record<string, unknown>, name: string): number | undefined {
  if (!Object.hasOwn(claims, name)) return undefined;
  const value = claims[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ClientAssertionError(`${name} must be a number`);
  return Math.trunc(value);
}

/**
 * Verifies a `private_key_jwt` client assertion (RFC 7523) as altinity-mcp's `client_assertion.go` does (§2.8):
 * asymmetric JWS only, the key from the client's `jwks_uri` through the SSRF-safe fetcher (cached, one refetch
 * on a miss), `iss` = `sub` = client_id, `aud` ∋ the token endpoint, time claims with a 60 s leeway, at most
 * 10 minutes between `iat` and `exp`. There is no `jti` replay cache, as in Go: the upstream single-use code is
 * the replay bound (§2.8 step 9). Throws `ClientAssertionError` (or `JwksFetchError` wrapped in it).
 */
export class ClientAssertionVerifier {
  private readonly jwks: JwksCache;
  private readonly now: () => number;

  constructor(options: ClientAssertionVerifierOptions = {}) {
    this.jwks = options.jwks ?? new JwksCache();
    this.now = options.now ?? Date.now;
  }

  async verify(input: AssertionToVerify): Promise<Record<string, unknown>> {
    if (input.jwksUri === undefined || input.jwksUri === '') throw new ClientAssertionError('the client document has no jwks_uri');
    if (input.assertion === '') throw new ClientAssertionError('the assertion is empty');
    if (input.assertion.length > MAX_ASSERTION_LENGTH || !COMPACT_JWS.test(input.assertion)) {
      throw new ClientAssertionError('the assertion is not a compact JWS');
    }
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(input.assertion);
    } catch {
      throw new ClientAssertionError('the assertion header does not decode');
    }
    const alg = header.alg;
    if (typeof alg !== 'string' || !ALLOWED.has(alg)) throw new ClientAssertionError('the signature algorithm is not allowed');
    if (header.kid !== undefined && typeof header.kid !== 'string') throw new ClientAssertionError('kid must be a string');
    // Embedded keys would let the token choose its own verification key; Go ignores them, we refuse them outright.
    if (header.jwk !== undefined || header.jku !== undefined || header.x5u !== undefined) {
      throw new ClientAssertionError('keys embedded in or referenced from the header are not accepted');
    }

    const jwk = await this.findKey(input.jwksUri, header);
    const payload = await this.verifySignature(input.assertion, jwk, alg);
    this.checkClaims(payload, input);
    return payload;
  }

  private async keysOf(jwksUri: string): Promise<readonly JWK[]> {
    try {
      return await this.jwks.get(jwksUri);
    } catch (error) {
      if (error instanceof JwksFetchError) throw new ClientAssertionError(error.message, { cause: error });
      throw error;
    }
  }

  private async findKey(jwksUri: string, header: ProtectedHeaderParameters): Promise<JWK> {
    const first = selectJwk(await this.keysOf(jwksUri), header);
    if (first) return first;
    // The client may have rotated its keys since they were cached: refetch once, then give up.
    this.jwks.invalidate(jwksUri);
    const second = selectJwk(await this.keysOf(jwksUri), header);
    if (second) return second;
    throw new ClientAssertionError(`no matching key for kid=${printable(header.kid ?? '')} alg=${printable(header.alg ?? '')}`);
  }

  private async verifySignature(assertion: string, jwk: JWK, alg: string): Promise<Record<string, unknown>> {
    if (jwk.alg !== undefined && jwk.alg !== '' && jwk.alg !== alg) throw new ClientAssertionError('the key is not for this algorithm');
    let payload: Uint8Array;
    try {
      const key = await importJWK(jwk, alg);
      ({ payload } = await compactVerify(assertion, key, { algorithms: [...CLIENT_ASSERTION_ALGORITHMS] }));
    } catch (error) {
      throw new ClientAssertionError('the signature does not verify', { cause: error });
    }
    let claims: unknown;
    try {
      claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
    } catch {
      throw new ClientAssertionError('the payload is not JSON');
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new ClientAssertionError('the payload is not a JSON object');
    return claims as Record<string, unknown>;
  }

  private checkClaims(claims: Record<string, unknown>, input: AssertionToVerify): void {
    if (claims.iss !== input.clientId) throw new ClientAssertionError('iss must be the client_id');
    if (claims.sub !== input.clientId) throw new ClientAssertionError('sub must be the client_id');
    const now = Math.floor(this.now() / 1000);
    const nbf = numericDate(claims, 'nbf');
    const exp = numericDate(claims, 'exp');
    const iat = numericDate(claims, 'iat');
    if (nbf !== undefined && now + ASSERTION_LEEWAY_SECONDS < nbf) throw new ClientAssertionError('the assertion is not valid yet (nbf)');
    if (exp !== undefined && now - ASSERTION_LEEWAY_SECONDS > exp) throw new ClientAssertionError('the assertion has expired');
    if (iat !== undefined && now + ASSERTION_LEEWAY_SECONDS < iat) throw new ClientAssertionError('the assertion is issued in the future (iat)');
    if (!audienceMatches(claims.aud, input.tokenEndpointUrl)) throw new ClientAssertionError('aud must contain the token endpoint URL');
    if (iat !== undefined && exp !== undefined && exp - iat > ASSERTION_MAX_LIFETIME_SECONDS) {
      throw new ClientAssertionError('the assertion lives longer than 10 minutes');
    }
  }
}

/** Header values are attacker-chosen: quoted, escaped and cut short before they reach an error text or a log. */
function printable(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? '';
  const escaped = JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
  return escaped;
}
