import { CimdError, quoteForError } from './cimd-errors.js';
import { jwksUriViolation } from './cimd-url.js';

export const CIMD_MAX_REDIRECT_URIS = 20;
export const CIMD_MAX_REDIRECT_URI_LENGTH = 2048;
export const CIMD_MAX_CLIENT_NAME_BYTES = 128;

export type CimdAuthMethod = 'none' | 'private_key_jwt';

/** What the broker keeps of a client's document (Go keeps the last three; the name is for the consent page). */
export interface CimdClient {
  readonly clientId: string;
  readonly clientName: string;
  readonly redirectUris: readonly string[];
  readonly tokenEndpointAuthMethod: CimdAuthMethod;
  /** Present exactly when the method is `private_key_jwt`. */
  readonly jwksUri?: string;
}

// RFC 7591 members with a fixed JSON type: Go decodes into a typed struct, so a mismatch is a decode error.
const STRING_MEMBERS = [
  'client_id', 'client_name', 'client_secret', 'token_endpoint_auth_method', 'jwks_uri', 'client_uri', 'logo_uri',
  'tos_uri', 'policy_uri', 'scope', 'software_id', 'software_version', 'software_statement',
] as const;
const STRING_ARRAY_MEMBERS = ['redirect_uris', 'grant_types', 'response_types', 'contacts'] as const;
const NUMBER_MEMBERS = ['client_secret_expires_at', 'client_id_issued_at'] as const;

const invalid = (detail: string) => new CimdError('invalid_metadata', detail);

/**
 * Validates a fetched client metadata document against the URL it was fetched from (§2.7 "Document
 * validation"). Every failure is `invalid_metadata` (negative-cached by the resolver).
 */
export function parseCimdDocument(clientIdUrl: string, body: string): CimdClient {
  let document: unknown;
  try {
    document = JSON.parse(body); // strict: trailing tokens after the value are a syntax error
  } catch {
    throw invalid('document is not valid JSON');
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw invalid('document must be a JSON object');
  }
  const member = document as Record<string, unknown>;
  for (const name of STRING_MEMBERS) {
    if (member[name] !== undefined && member[name] !== null && typeof member[name] !== 'string') {
      throw invalid(`${name} must be a string`);
    }
  }
  for (const name of STRING_ARRAY_MEMBERS) {
    const value = member[name];
    if (value !== undefined && value !== null && (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string'))) {
      throw invalid(`${name} must be an array of strings`);
    }
  }
  for (const name of NUMBER_MEMBERS) {
    if (member[name] !== undefined && member[name] !== null && typeof member[name] !== 'number') {
      throw invalid(`${name} must be a number`);
    }
  }
  const text = (name: (typeof STRING_MEMBERS)[number]) => (member[name] as string | null | undefined) ?? '';
  const list = (name: (typeof STRING_ARRAY_MEMBERS)[number]) => member[name] as string[] | null | undefined;

  if (text('client_id') !== clientIdUrl) throw invalid('client_id in the document does not equal the URL it was fetched from');
  const nameBytes = Buffer.byteLength(text('client_name'), 'utf8');
  if (nameBytes < 1 || nameBytes > CIMD_MAX_CLIENT_NAME_BYTES) {
    throw invalid(`client_name must be 1–${CIMD_MAX_CLIENT_NAME_BYTES} bytes`);
  }
  if (text('client_secret') !== '') throw invalid('client_secret must not be present (public or private_key_jwt clients only)');
  if ((member.client_secret_expires_at ?? 0) !== 0) throw invalid('client_secret_expires_at must be absent or 0');

  const method = text('token_endpoint_auth_method');
  if (method !== 'none' && method !== 'private_key_jwt') {
    throw invalid(`token_endpoint_auth_method ${quoteForError(method)} unsupported (only "none" and "private_key_jwt")`);
  }
  let jwksUri: string | undefined;
  if (method === 'private_key_jwt') {
    jwksUri = text('jwks_uri');
    if (jwksUri === '') throw invalid('jwks_uri is required for private_key_jwt');
    const violation = jwksUriViolation(jwksUri);
    if (violation !== undefined) throw invalid(`jwks_uri ${violation}`);
  }

  const redirectUris = list('redirect_uris') ?? [];
  if (redirectUris.length < 1 || redirectUris.length > CIMD_MAX_REDIRECT_URIS) {
    throw invalid(`redirect_uris must hold 1–${CIMD_MAX_REDIRECT_URIS} entries`);
  }
  if (new Set(redirectUris).size !== redirectUris.length) throw invalid('redirect_uris must not repeat an entry');
  for (const redirectUri of redirectUris) {
    const violation = redirectUriViolation(redirectUri);
    if (violation !== undefined) throw invalid(`redirect_uri ${quoteForError(redirectUri)} ${violation}`);
  }

  const grantTypes = list('grant_types');
  // Present → must contain authorization_code; refresh_token or jwt-bearer beside it are tolerated (claude.ai).
  if (grantTypes != null && !grantTypes.includes('authorization_code')) {
    throw invalid('grant_types must include "authorization_code"');
  }
  for (const responseType of list('response_types') ?? []) {
    if (responseType !== 'code') throw invalid(`unsupported response_type ${quoteForError(responseType)}`);
  }

  return {
    clientId: clientIdUrl,
    clientName: text('client_name'),
    redirectUris: [...redirectUris],
    tokenEndpointAuthMethod: method,
    ...(jwksUri !== undefined ? { jwksUri } : {}),
  };
}

/**
 * A redirect target must be https with a host (loopback http is not allowed, §2.7). Also refused, beyond Go:
 * a fragment (RFC 6749 §3.1.2) and characters a URL parser would silently strip or rewrite, since redirect_uri
 * is later matched byte for byte.
 */
function redirectUriViolation(redirectUri: string): string | undefined {
  if (redirectUri.length < 1 || redirectUri.length > CIMD_MAX_REDIRECT_URI_LENGTH) {
    return `must be 1–${CIMD_MAX_REDIRECT_URI_LENGTH} characters`;
  }
  if (/[\u0000-\u0020\u007f\\]/.test(redirectUri)) return 'contains spaces, control characters or backslashes';
  // WHATWG would read "https:host/cb" as https://host/cb; Go sees no host there.
  if (!/^https:\/\//i.test(redirectUri)) return 'must be an absolute https:// URL';
  let parsed: URL;
  try {
    parsed = new URL(redirectUri);
  } catch {
    return 'does not parse as a URL';
  }
  if (parsed.protocol !== 'https:') return 'must use https';
  // WHATWG also reads "https:///cb" as https://cb/; the host must be written where it belongs.
  if (parsed.hostname === '' || /^https:\/\/[/?#]/i.test(redirectUri)) return 'must have a host';
  if (redirectUri.includes('#')) return 'must not have a fragment';
  return undefined;
}
