import { CompactEncrypt, decodeProtectedHeader } from 'jose';
import { deriveJweKey, parseJweToken, type ParsedToken } from '../../jwe/jwe-token.js';
import { ARTIFACT_KEY_ID, deriveArtifactKey } from './artifact-keys.js';

/** Why an artifact was refused. Handlers answer every kind alike ("unknown or expired …", §2.5). */
export type ArtifactFailure = 'malformed' | 'wrong_key' | 'disallowed_claim' | 'expired' | 'legacy_refused';

export class OAuthArtifactError extends Error {
  constructor(
    readonly failure: ArtifactFailure,
    message: string,
  ) {
    super(message);
    this.name = 'OAuthArtifactError';
  }
}

export interface ArtifactDecodeOptions {
  /** Unix seconds; the §1.4 rule applies: refused only once `now > exp`, no skew. */
  readonly nowSeconds: number;
  /**
   * Go also opens artifacts without `kid: v1` as legacy connection JWEs keyed with one SHA-256 of the secret
   * (the same key for every label, so a legacy pending-auth would pass as an auth code). No current minter, Go
   * or ours, writes that format, so it is refused unless this is set.
   */
  readonly acceptLegacy?: boolean;
}

/** Header Go's `EncodeOAuthJWE` writes (go-jose sorts the keys; the order does not matter to a reader). */
const ARTIFACT_HEADER = { alg: 'A256KW', cty: 'JSON', enc: 'A256GCM', kid: ARTIFACT_KEY_ID, typ: 'JWE' } as const;

/** Encrypts a claim set as an artifact of one kind (label): byte-compatible with Go's `EncodeOAuthJWE`. */
export async function encodeOAuthArtifact(claims: Record<string, unknown>, signingSecret: string, label: string): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ ...ARTIFACT_HEADER })
    .encrypt(deriveArtifactKey(signingSecret, label));
}

const MESSAGES: Record<ArtifactFailure, string> = {
  malformed: 'oauth artifact: not a well-formed artifact',
  wrong_key: 'oauth artifact: does not decrypt under this secret and purpose',
  disallowed_claim: 'oauth artifact: disallowed claim',
  expired: 'oauth artifact: expired',
  legacy_refused: 'oauth artifact: legacy (kid-less) artifacts are not accepted',
};

function failureOf(parsed: Extract<ParsedToken, { ok: false }>): OAuthArtifactError {
  switch (parsed.reason) {
    case 'bad_signature':
      return new OAuthArtifactError('wrong_key', MESSAGES.wrong_key);
    case 'disallowed_claim':
      // The JWE parser's text is Go's exact whitelist message (§1.3 step 4), with the key made printable.
      return new OAuthArtifactError('disallowed_claim', parsed.message);
    case 'expired':
      return new OAuthArtifactError('expired', MESSAGES.expired);
    default:
      return new OAuthArtifactError('malformed', MESSAGES.malformed);
  }
}

/**
 * Opens an artifact of one kind, as Go's `DecodeOAuthJWE`: A256KW/A256GCM only; with `kid: v1` the HKDF key of
 * `label`, plain JSON whatever `cty` says, the §1.3 claim whitelist, then the §1.4 `exp` rule (optional, no skew).
 * Throws `OAuthArtifactError`; never anything else.
 */
export async function decodeOAuthArtifact(
  token: string,
  signingSecret: string,
  label: string,
  options: ArtifactDecodeOptions,
): Promise<Record<string, unknown>> {
  let kid: unknown;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    throw new OAuthArtifactError('malformed', MESSAGES.malformed);
  }
  let parsed: ParsedToken;
  if (kid === ARTIFACT_KEY_ID) {
    // No JWT key: the plaintext is always read as JSON, which is what Go does on the v1 path.
    parsed = await parseJweToken(token, { jweKey: deriveArtifactKey(signingSecret, label) }, options.nowSeconds);
  } else if (options.acceptLegacy) {
    // Go: ParseAndDecryptJWE(token, secret, secret), the untrimmed secret for both layers.
    const legacyKey = deriveJweKey(signingSecret);
    parsed = await parseJweToken(token, { jweKey: legacyKey, jwtKey: legacyKey }, options.nowSeconds);
  } else {
    throw new OAuthArtifactError('legacy_refused', MESSAGES.legacy_refused);
  }
  if (!parsed.ok) throw failureOf(parsed);
  return parsed.claims;
}

/** Go's decoders read each field by name; a missing or non-string value becomes "". */
export function stringClaim(claims: Record<string, unknown>, name: string): string {
  const value = claims[name];
  return typeof value === 'string' ? value : '';
}
