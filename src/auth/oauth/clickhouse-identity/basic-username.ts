import type { TokenClaims } from './token-claims.js';

/**
 * The user name of the Basic path (`Authorization: Basic base64(user:jwt)`), spec auth §2.12. The name is only a
 * hint: the ch-jwt-verify sidecar re-reads the same claim from the signed token and refuses a mismatch, so it
 * must be read from the same claim the sidecar is configured with (`username_claim`).
 */
export type BasicUsernameResult = { ok: true; username: string } | { ok: false; error: string };

export const NOT_A_JWT_WITH_EMAIL = 'oauth: bearer is not a JWT with an email claim';

export function basicUsername(claims: TokenClaims | undefined, usernameClaim: string): BasicUsernameResult {
  const claimName = usernameClaim.trim();
  if (claimName !== '') {
    // Strict: the one claim the operator named, no email fallback (the sidecar would not fall back either).
    const value = claims ? nonEmptyString(ownClaim(claims, claimName)) : undefined;
    return value !== undefined
      ? { ok: true, username: value }
      : { ok: false, error: `oauth: bearer JWT has no usable Basic username (claim ${JSON.stringify(claimName)} missing, empty, or non-string)` };
  }
  if (!claims) return { ok: false, error: NOT_A_JWT_WITH_EMAIL };
  const email = nonEmptyString(ownClaim(claims, 'email'));
  if (email !== undefined) return { ok: true, username: email };
  // IdPs that strip `email` for third-party clients (Auth0) carry it namespaced, e.g. `https://mcp.example.com/email`.
  // Go walks its map in random order; we take the keys sorted so the same token always gives the same name.
  for (const key of Object.keys(claims).sort()) {
    if (!key.endsWith('/email')) continue;
    const namespaced = nonEmptyString(claims[key]);
    if (namespaced !== undefined) return { ok: true, username: namespaced };
  }
  return { ok: false, error: NOT_A_JWT_WITH_EMAIL };
}

function ownClaim(claims: TokenClaims, name: string): unknown {
  return Object.prototype.hasOwnProperty.call(claims, name) ? claims[name] : undefined;
}

function nonEmptyString(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}
