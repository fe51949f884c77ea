import { createHash } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, compactVerify, decodeProtectedHeader, SignJWT } from 'jose';

/**
 * Connection claims a JWE token carries (auth spec §1.4, upstream §B: a token is self-contained, so host and
 * username are always present and nothing else is inherited from the server's own ClickHouse settings).
 */
export interface JweConnectionClaims {
  host: string;
  username: string;
  port?: number;
  database?: string;
  password?: string;
  protocol?: string;
  limit?: number;
  tls_enabled?: boolean;
  tls_ca_cert?: string;
  tls_client_cert?: string;
  tls_client_key?: string;
  tls_insecure_skip_verify?: boolean;
  /** Unix seconds; the server rejects the token once `now > exp`. */
  exp: number;
}

export interface JweSecrets {
  /** Raw secret; the A256KW key is SHA-256 over its UTF-8 bytes (no trimming). */
  jweSecretKey: string;
  /** Optional: when set the payload is an HS256 JWT keyed with SHA-256 of this secret (`cty: JWT`). */
  jwtSecretKey?: string;
}

/** The 32-byte key altinity-mcp derives from a secret string: one SHA-256, no salt, no KDF (auth spec §1.2). */
export function deriveJweKey(secret: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(secret, 'utf8').digest());
}

/**
 * Mints a compact JWE exactly as altinity-mcp does: A256KW + A256GCM, `typ: JWE`, `cty: JSON` for a plain
 * claims payload or `cty: JWT` for a nested HS256 JWS. Never compressed (`zip` is not set).
 */
export async function mintJweToken(claims: JweConnectionClaims, secrets: JweSecrets): Promise<string> {
  const nested = secrets.jwtSecretKey !== undefined && secrets.jwtSecretKey !== '';
  const payload = nested
    ? await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(deriveJweKey(secrets.jwtSecretKey!))
    : JSON.stringify(claims);
  return new CompactEncrypt(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg: 'A256KW', enc: 'A256GCM', cty: nested ? 'JWT' : 'JSON', typ: 'JWE' })
    .encrypt(deriveJweKey(secrets.jweSecretKey));
}

/** A token is a URL path segment or a header value; anything longer is refused before any crypto runs. */
export const MAX_JWE_TOKEN_LENGTH = 16 * 1024;

/** The exact texts altinity-mcp answers with (auth spec §1.3–§1.4, §5 vectors 2–6). */
export const INVALID_JWE_TOKEN = 'invalid JWE token';
export const MISSING_JWE_TOKEN = 'missing JWE token';

/** Every top-level claim key altinity-mcp accepts (auth spec §1.3 step 4); any other key refuses the token. */
export const ALLOWED_CLAIM_KEYS: ReadonlySet<string> = new Set([
  'iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti',
  'host', 'port', 'database', 'username', 'password', 'protocol', 'limit', 'read_only', 'max_execution_time',
  'tls_enabled', 'tls_ca_cert', 'tls_client_cert', 'tls_client_key', 'tls_insecure_skip_verify',
  'grant_type', 'redirect_uris', 'token_endpoint_auth_method', 'client_id', 'client_secret', 'redirect_uri', 'scope',
  'client_state', 'code_challenge', 'code_challenge_method', 'upstream_bearer_token', 'upstream_refresh_token',
  'upstream_token_type', 'upstream_pkce_verifier', 'upstream_auth_code', 'resource', 'access_token_exp', 'email',
  'name', 'hd', 'email_verified',
]);

export type TokenFailureReason = 'malformed' | 'bad_signature' | 'disallowed_claim' | 'expired';

export type ParsedToken =
  | { ok: true; claims: Record<string, unknown>; expiresAt?: number }
  | { ok: false; reason: TokenFailureReason; message: string };

/** Raw secrets; keys are derived per call site and cached by the authenticator, not here. */
export interface JweKeys {
  /** SHA-256 of `jwe_secret_key` (the A256KW key). */
  jweKey: Uint8Array;
  /** SHA-256 of `jwt_secret_key`, or undefined when no JWT secret is configured. */
  jwtKey?: Uint8Array;
}

export function deriveJweKeys(jweSecretKey: string, jwtSecretKey: string): JweKeys {
  return { jweKey: deriveJweKey(jweSecretKey), ...(jwtSecretKey !== '' ? { jwtKey: deriveJweKey(jwtSecretKey) } : {}) };
}

const fail = (reason: TokenFailureReason, message = INVALID_JWE_TOKEN): ParsedToken => ({ ok: false, reason, message });

/** jose's verdicts on a token that decoded but whose key, tag or signature did not match. */
const WRONG_KEY_CODES = new Set(['ERR_JWE_DECRYPTION_FAILED', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED']);

function classify(err: unknown): TokenFailureReason {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && WRONG_KEY_CODES.has(code) ? 'bad_signature' : 'malformed';
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A compact JWS: three base64url segments, the first decoding to a JSON object (what go-jose's ParseSigned accepts). */
function looksLikeCompactJws(text: string): boolean {
  const parts = text.split('.');
  if (parts.length !== 3 || !/^[A-Za-z0-9_-]+$/.test(parts[0]!)) return false;
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && !Array.isArray(header);
  } catch {
    return false;
  }
}

async function verifyNested(text: string, jwtKey: Uint8Array): Promise<string> {
  const { payload } = await compactVerify(text, jwtKey, { algorithms: ['HS256'] });
  return decoder.decode(payload);
}

/**
 * Step 3 of §1.3: what the decrypted plaintext means depends on `cty` (a non-string `cty` counts as `JWT`):
 * `JWT` is a nested HS256 JWS when a JWT secret is configured, `JSON` is always plain claims (the nested layer
 * is never mandatory, as in Go), and any other value is tried as a JWS first, then as JSON.
 */
async function claimsText(plaintext: string, cty: unknown, jwtKey: Uint8Array | undefined): Promise<string> {
  const contentType = typeof cty === 'string' ? cty : 'JWT';
  if (jwtKey === undefined || contentType === 'JSON') return plaintext;
  if (contentType === 'JWT' || looksLikeCompactJws(plaintext)) return verifyNested(plaintext, jwtKey);
  return plaintext;
}

/**
 * Decrypts and checks a token exactly as altinity-mcp's `ParseAndDecryptJWE` does (auth spec §1.3–§1.4):
 * A256KW + A256GCM only, the claim whitelist, then `exp` by hand (a number, truncated; refused only when
 * `now > exp`; no `exp` never expires). jose's `jwtDecrypt`/`jwtVerify` are deliberately not used: they check
 * `nbf`, refuse `exp == now` and type claims, none of which the Go server does. Never throws.
 */
export async function parseJweToken(token: string, keys: JweKeys, nowSeconds: number): Promise<ParsedToken> {
  if (token === '') return fail('malformed', MISSING_JWE_TOKEN);
  if (token.length > MAX_JWE_TOKEN_LENGTH) return fail('malformed');
  // Five base64url segments (the IV, ciphertext and tag are never empty in A256GCM) before jose sees it.
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return fail('malformed');
  let text: string;
  try {
    // No minter (Go's or ours) sets `zip`; refusing it keeps a 16 KB token from inflating into megabytes.
    if (Object.hasOwn(decodeProtectedHeader(token), 'zip')) return fail('malformed');
    const { plaintext, protectedHeader } = await compactDecrypt(token, keys.jweKey, {
      keyManagementAlgorithms: ['A256KW'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    text = await claimsText(decoder.decode(plaintext), protectedHeader.cty, keys.jwtKey);
  } catch (err) {
    return fail(classify(err));
  }
  let claims: unknown;
  try {
    claims = JSON.parse(text);
  } catch {
    return fail('malformed');
  }
  // Go unmarshals into map[string]any: anything but a JSON object (an array, a string, a number) is invalid.
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return fail('malformed');
  const record = claims as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!ALLOWED_CLAIM_KEYS.has(key)) {
      return fail('disallowed_claim', `invalid token claims format: disallowed claim key '${printableKey(key)}'`);
    }
  }
  if (!Object.hasOwn(record, 'exp')) return { ok: true, claims: record };
  const exp = record.exp;
  // A string, boolean or null exp is invalid (§1.4). Beyond 2^53 Go's int64 conversion is no longer exact;
  // such a value is no meaningful expiry, so it is refused rather than read as "never".
  if (typeof exp !== 'number' || !Number.isFinite(exp) || Math.abs(exp) > Number.MAX_SAFE_INTEGER) return fail('malformed');
  const expiresAt = Math.trunc(exp);
  if (Math.floor(nowSeconds) > expiresAt) return fail('expired', `${INVALID_JWE_TOKEN}: the token has expired`);
  return { ok: true, claims: record, expiresAt };
}

/** Go's text quotes the key as is; control characters and very long keys are escaped/cut so the message stays one readable line. */
function printableKey(key: string): string {
  const escaped = JSON.stringify(key).slice(1, -1);
  return escaped.length > 64 ? `${escaped.slice(0, 64)}…` : escaped;
}
