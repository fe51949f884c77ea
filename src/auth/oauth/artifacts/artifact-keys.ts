import { createHash, hkdfSync } from 'node:crypto';

/** HKDF `info` labels of altinity-mcp's stateless OAuth artifacts (auth spec §2.6); each yields its own key. */
export const PENDING_AUTH_LABEL = 'altinity-mcp/oauth/pending-auth/v1';
export const AUTH_CODE_LABEL = 'altinity-mcp/oauth/auth-code/v2';

/** The `kid` every HKDF-keyed artifact carries; anything else is the legacy (SHA-256 keyed) format. */
export const ARTIFACT_KEY_ID = 'v1';

/** Lifetimes Go gives the artifacts: the pending authorization survives the upstream login, a code one minute. */
export const PENDING_AUTH_TTL_SECONDS = 600;
export const AUTH_CODE_TTL_SECONDS = 60;

/**
 * The A256KW key for one artifact kind: HKDF-SHA256 over the signing secret with Go's `strings.TrimSpace`
 * applied, an empty salt (RFC 5869 then uses 32 zero bytes) and the label as `info`, 32 bytes out. Identical
 * bytes to Go's `hkdf.New(sha256.New, secret, nil, label)` (Appendix A vectors), so replicas interoperate.
 */
export function deriveArtifactKey(signingSecret: string, label: string): Uint8Array {
  const ikm = Buffer.from(trimSpaceLikeGo(signingSecret), 'utf8');
  return new Uint8Array(hkdfSync('sha256', ikm, Buffer.alloc(0), Buffer.from(label, 'utf8'), 32));
}

/**
 * Go's `strings.TrimSpace` strips Unicode White_Space (incl. U+0085, excl. U+FEFF); JS `trim` differs on both, and
 * a differing edge would derive a key no Go replica derives.
 */
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]';
const GO_TRIM = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, 'gu');

function trimSpaceLikeGo(text: string): string {
  return text.replace(GO_TRIM, '');
}

/** The PKCE S256 challenge of a verifier: base64url(SHA-256(verifier)) without padding (RFC 7636 §4.2). */
export function pkceS256Challenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'utf8').digest('base64url');
}
