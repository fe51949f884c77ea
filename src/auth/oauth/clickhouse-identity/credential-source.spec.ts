import { describe, expect, it } from 'vitest';
import {
  chooseCredentialSource,
  INCOMPLETE_JWE_TOKEN,
  INVALID_JWE_TOKEN,
  MISSING_JWE_TOKEN,
  MISSING_OAUTH_TOKEN,
  type CredentialInputs,
} from './credential-source.js';

const both = (jwe: CredentialInputs['jwe'], hasBearer: boolean): CredentialInputs => ({ jweEnabled: true, oauthEnabled: true, jwe, hasBearer });

describe('chooseCredentialSource (upstream §B.2, §C.1)', () => {
  it('a complete JWE wins even with a bearer present (§C vector 3)', () => {
    expect(chooseCredentialSource(both('complete', true))).toEqual({ use: 'jwe' });
    expect(chooseCredentialSource(both('complete', false))).toEqual({ use: 'jwe' });
  });

  it('a partial JWE with a bearer uses OAuth on the operator endpoint (§C vector 4)', () => {
    expect(chooseCredentialSource(both('partial', true))).toEqual({ use: 'oauth' });
  });

  it('a partial JWE without a bearer is refused with the OAuth challenge (§5 vector 21)', () => {
    expect(chooseCredentialSource(both('partial', false))).toEqual({ use: 'refuse', error: INCOMPLETE_JWE_TOKEN, challenge: true });
    expect(INCOMPLETE_JWE_TOKEN).toBe('jwe: token must carry host and username claims');
  });

  it('a malformed JWE stays a hard error even with a bearer', () => {
    expect(chooseCredentialSource(both('malformed', true))).toEqual({ use: 'refuse', error: INVALID_JWE_TOKEN, challenge: true });
    expect(chooseCredentialSource({ jweEnabled: true, oauthEnabled: false, jwe: 'malformed', hasBearer: true })).toEqual({
      use: 'refuse',
      error: INVALID_JWE_TOKEN,
      challenge: false,
    });
  });

  it('no JWE: the bearer if OAuth is on, else the OAuth challenge (§C vectors 1, 2)', () => {
    expect(chooseCredentialSource(both('absent', true))).toEqual({ use: 'oauth' });
    expect(chooseCredentialSource(both('absent', false))).toEqual({ use: 'refuse', error: MISSING_OAUTH_TOKEN, challenge: true });
  });

  it('OAuth only: never a static fallback without a bearer', () => {
    const oauthOnly = { jweEnabled: false, oauthEnabled: true, jwe: 'absent' as const };
    expect(chooseCredentialSource({ ...oauthOnly, hasBearer: true })).toEqual({ use: 'oauth' });
    expect(chooseCredentialSource({ ...oauthOnly, hasBearer: false })).toEqual({ use: 'refuse', error: MISSING_OAUTH_TOKEN, challenge: true });
  });

  it('JWE only: a bearer does not count, no token is "missing JWE token", partial is refused', () => {
    const jweOnly = { jweEnabled: true, oauthEnabled: false };
    expect(chooseCredentialSource({ ...jweOnly, jwe: 'absent', hasBearer: true })).toEqual({ use: 'refuse', error: MISSING_JWE_TOKEN, challenge: false });
    expect(chooseCredentialSource({ ...jweOnly, jwe: 'partial', hasBearer: true })).toEqual({ use: 'refuse', error: INCOMPLETE_JWE_TOKEN, challenge: false });
  });

  it('static operator credentials only when neither mode is on; a JWE state is then ignored', () => {
    expect(chooseCredentialSource({ jweEnabled: false, oauthEnabled: false, jwe: 'absent', hasBearer: true })).toEqual({ use: 'static' });
    expect(chooseCredentialSource({ jweEnabled: false, oauthEnabled: false, jwe: 'malformed', hasBearer: false })).toEqual({ use: 'static' });
    expect(chooseCredentialSource({ jweEnabled: false, oauthEnabled: true, jwe: 'complete', hasBearer: false })).toEqual({
      use: 'refuse',
      error: MISSING_OAUTH_TOKEN,
      challenge: true,
    });
  });
});
