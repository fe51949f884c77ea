import { createHash } from 'node:crypto';

/**
 * Keys of the dynamic-tool catalog cache (auth spec §4.1, upstream §D.2). A key is bound to the literal token
 * bytes, never to claims: a rotated token gets a new catalog, and a forged JWT carrying a victim's e-mail cannot
 * reach the victim's catalog. Only hashes are kept, never a token.
 */

/** The cluster part of single-cluster keys (upstream D.2: `<key>\x00singlecluster`). */
export const SINGLE_CLUSTER = 'singlecluster';

/** Key of the one shared catalog of a gateway without JWE/OAuth (static credentials); no `tok:` key can equal it. */
export const STATIC_CATALOG_KEY = 'static';

/** `tok:` + lowercase hex SHA-256 of the bearer (altinity-mcp's `CacheKey`; vector 68). */
export function catalogKey(bearer: string): string {
  return `tok:${createHash('sha256').update(bearer, 'utf8').digest('hex')}`;
}

/**
 * The per-credential key of single-cluster auth modes (upstream D.2 `CredentialCatalogKey`): the kind is part of
 * the hash, so the JWE key of token X differs from the OAuth key of bearer X.
 */
export function credentialCatalogKey(kind: 'jwe' | 'oauth', token: string): string {
  return catalogKey(`${kind}\u0000${token}`);
}

/** The full map key: `<key>\x00<cluster>`; NUL never occurs in a key or a cluster name, so it cannot alias. */
export function catalogFullKey(key: string, cluster: string = SINGLE_CLUSTER): string {
  return `${key}\u0000${cluster}`;
}

/**
 * The unverified `exp` of a JWT bearer, in Unix seconds (altinity-mcp's `BearerExp`, vector 69): integers, floats
 * (truncated) and numeric strings count; absent, non-positive, unparseable or opaque (not three dot-separated
 * parts with a JSON object payload) → undefined. Used only to bound a cache lifetime, never to accept a token.
 */
export function bearerExp(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === '') return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const exp = (payload as Record<string, unknown>).exp;
  let seconds: number;
  if (typeof exp === 'number') seconds = exp;
  else if (typeof exp === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(exp)) seconds = Number(exp);
  else return undefined;
  if (!Number.isFinite(seconds)) return undefined;
  const whole = Math.trunc(seconds);
  return whole > 0 ? whole : undefined;
}
