/**
 * Claims of the caller's bearer, as the identity rules read them. A guard that verified the token passes its
 * verified claims; when it did not (an opaque bearer let through for a ClickHouse-validated setup), altinity-mcp
 * reads the payload unverified, which is safe only because ClickHouse (or its ch-jwt-verify sidecar) checks the
 * signature again: the user name and the roles derived here can only narrow what that check grants.
 */
export type TokenClaims = Readonly<Record<string, unknown>>;

/** A bearer as it reaches the identity rules: the raw credential, and its claims when a verifier produced them. */
export interface CallerToken {
  /** The bearer exactly as received; it is forwarded to ClickHouse, never logged. */
  raw: string;
  /** Verified claims; undefined means "not verified here", and the payload is read unverified. */
  claims?: TokenClaims;
}

/**
 * The payload of a compact JWS (`header.payload.signature`), unverified. Exactly three parts; base64url with or
 * without padding; a JSON object. Anything else (opaque tokens, JWEs with five parts) is `undefined`.
 */
export function decodeUnverifiedJwtPayload(raw: string): TokenClaims | undefined {
  const parts = raw.split('.');
  if (parts.length !== 3) return undefined;
  const segment = parts[1].replace(/=+$/, '');
  if (segment === '' || !/^[A-Za-z0-9_-]+$/.test(segment)) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as TokenClaims) : undefined;
  } catch {
    return undefined;
  }
}

/** The claims the identity rules use: the verified ones if any, else the unverified payload. */
export function claimsOf(token: CallerToken): TokenClaims | undefined {
  return token.claims ?? decodeUnverifiedJwtPayload(token.raw);
}
