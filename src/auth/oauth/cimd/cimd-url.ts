import { posix } from 'node:path';

export const CIMD_MAX_URL_LENGTH = 2048;

export interface HttpsUrlRules {
  /** `client_id` URLs: false (no `?` at all). `jwks_uri`: true. */
  readonly allowQuery: boolean;
  /** `client_id` URLs must name a document, not the site root. */
  readonly requireDocumentPath: boolean;
}

const CLIENT_ID_RULES: HttpsUrlRules = { allowQuery: false, requireDocumentPath: true };
const JWKS_URI_RULES: HttpsUrlRules = { allowQuery: true, requireDocumentPath: false };

// RFC 3986 characters only: anything else (space, controls, backslash, quotes, non-ASCII) would be silently
// rewritten by a WHATWG parser, so the string compared as client_id would not be the one fetched.
const URL_CHARACTERS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/;
const URL_SHAPE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/;
const LOWERCASE_LDH_HOST = /^[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})*$/;

/**
 * Why `raw` is not an acceptable https URL for a client-chosen fetch under `rules`, or `undefined` when it is.
 * The rules are §2.7's: https, ≤ 2048 characters, no userinfo or fragment (no query for client_id), port absent
 * or 443, a host already in its lowercase-ASCII IDNA lookup form, no encoded slashes or backslashes, no dot
 * segments (raw or percent-encoded), at most one trailing slash. Stricter than Go where noted in comments.
 */
export function httpsUrlViolation(raw: string, rules: HttpsUrlRules): string | undefined {
  if (raw.length === 0 || raw.length > CIMD_MAX_URL_LENGTH) return `length must be 1–${CIMD_MAX_URL_LENGTH} characters`;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(raw)?.[1];
  // Go lowercases the scheme before comparing; we require it written lowercase, so the identifier is canonical.
  if (scheme !== 'https') return 'scheme must be https';
  if (!URL_CHARACTERS.test(raw)) return 'contains characters that are not allowed in a URL (spaces, controls, backslashes, non-ASCII)';
  const shape = URL_SHAPE.exec(raw);
  if (!shape) return 'must be an absolute https://host/path URL';
  const [, , authority = '', escapedPath = '', query, fragment] = shape;
  if (fragment !== undefined) return 'must not have a fragment';
  if (query !== undefined && !rules.allowQuery) return 'must not have a query';
  if (authority.includes('@')) return 'must not carry userinfo';
  if (authority.startsWith('[')) return 'IP-literal (IPv6) hosts are not accepted';
  const colon = authority.lastIndexOf(':');
  const host = colon === -1 ? authority : authority.slice(0, colon);
  if (colon !== -1 && authority.slice(colon + 1) !== '443') return 'port must be absent or 443';
  if (host === '') return 'host must not be empty';
  if (!LOWERCASE_LDH_HOST.test(host) || host.length > 253) {
    return 'host must be written in lowercase ASCII (its IDNA lookup form): uppercase and non-ASCII hosts are refused';
  }
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return 'does not parse as a URL';
  }
  // Numeric spellings such as 2130706433 or 0x7f.1 are hosts a browser would rewrite; only canonical ones pass.
  if (parsed.hostname !== host) return 'host is not in canonical form';
  if (rules.requireDocumentPath && (escapedPath === '' || escapedPath === '/')) return 'path must name a document, not "/"';
  if (escapedPath !== '' && !escapedPath.startsWith('/')) return 'path must start with "/"';
  if (/%2f|%5c/i.test(escapedPath)) return 'path must not contain encoded slashes or backslashes';
  if (/%(?![0-9A-Fa-f]{2})/.test(escapedPath)) return 'path has a malformed percent-encoding';
  let decodedPath: string;
  try {
    decodedPath = decodeURIComponent(escapedPath);
  } catch {
    return 'path has a malformed percent-encoding';
  }
  if (decodedPath === '') return undefined;
  const cleaned = cleanPath(decodedPath);
  if (decodedPath !== cleaned && decodedPath !== `${cleaned}/`) {
    return 'path must be normalised: no dot segments (raw or percent-encoded) and no empty segments';
  }
  return undefined;
}

/** Go's `path.Clean` for absolute paths: collapse `//`, resolve `.` and `..`, drop a trailing slash. */
function cleanPath(path: string): string {
  const normalised = posix.normalize(path);
  return normalised.length > 1 && normalised.endsWith('/') ? normalised.slice(0, -1) : normalised;
}

export function clientIdUrlViolation(raw: string): string | undefined {
  return httpsUrlViolation(raw, CLIENT_ID_RULES);
}

/** `jwks_uri` of a `private_key_jwt` client: a query is allowed; loopback passes here (SSRF is a dial-time check). */
export function jwksUriViolation(raw: string): string | undefined {
  return httpsUrlViolation(raw, JWKS_URI_RULES);
}
