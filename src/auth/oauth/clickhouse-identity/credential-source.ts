/**
 * Which credential a request uses when JWE and OAuth may both be on (upstream §B.2, §C.1):
 * - a complete JWE (host and username) wins, even over a bearer: its self-contained connection;
 * - a partial JWE with a bearer: OAuth on the operator endpoint, every partial claim ignored;
 * - a JWE that is present but malformed stays a hard error, bearer or not (no downgrade by adding a bearer);
 * - no JWE: the bearer if OAuth is on; the static operator credentials only when neither mode is on.
 */
export type JweState = 'absent' | 'complete' | 'partial' | 'malformed';

export interface CredentialInputs {
  jweEnabled: boolean;
  oauthEnabled: boolean;
  jwe: JweState;
  /** Whether the request carries `Authorization: Bearer <non-empty>`. */
  hasBearer: boolean;
}

export type CredentialSource =
  | { use: 'jwe' }
  | { use: 'oauth' }
  | { use: 'static' }
  /** `challenge`: answer 401 with the OAuth `WWW-Authenticate` challenge (OAuth is on) rather than a bare 401. */
  | { use: 'refuse'; error: string; challenge: boolean };

export const MISSING_JWE_TOKEN = 'missing JWE token';
export const INVALID_JWE_TOKEN = 'invalid JWE token';
export const INCOMPLETE_JWE_TOKEN = 'jwe: token must carry host and username claims';
export const MISSING_OAUTH_TOKEN = 'missing OAuth token';

export function chooseCredentialSource(input: CredentialInputs): CredentialSource {
  const { jweEnabled, oauthEnabled, hasBearer } = input;
  const jwe = jweEnabled ? input.jwe : 'absent';
  const bearerUsable = oauthEnabled && hasBearer;
  switch (jwe) {
    case 'malformed':
      return { use: 'refuse', error: INVALID_JWE_TOKEN, challenge: oauthEnabled };
    case 'complete':
      return { use: 'jwe' };
    case 'partial':
      return bearerUsable ? { use: 'oauth' } : { use: 'refuse', error: INCOMPLETE_JWE_TOKEN, challenge: oauthEnabled };
    case 'absent':
      if (bearerUsable) return { use: 'oauth' };
      if (oauthEnabled) return { use: 'refuse', error: MISSING_OAUTH_TOKEN, challenge: true };
      if (jweEnabled) return { use: 'refuse', error: MISSING_JWE_TOKEN, challenge: false };
      return { use: 'static' };
  }
}
