import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeUpstreamLogin, startTestIdp, type TestIdp } from '../../support/oidc-idp.js';

// Proves each piece of the OAuth end-to-end harness on its own (the flow tests build on them).

const GATEWAY_CALLBACK = 'http://127.0.0.1:1/oauth/callback';

describe('test IdP (oidc-provider on loopback)', () => {
  let idp: TestIdp;
  let config: oidc.Configuration;

  beforeAll(async () => {
    idp = await startTestIdp({ clientId: 'gw', clientSecret: 'gw-secret', roles: (login) => (login === 'alice' ? ['analyst'] : []) });
    idp.setRedirectUris([GATEWAY_CALLBACK]);
    config = await oidc.discovery(new URL(idp.issuer), idp.clientId, undefined, oidc.ClientSecretPost(idp.clientSecret), {
      execute: [oidc.allowInsecureRequests],
    });
  });
  afterAll(() => idp.close());

  async function codeFlow(login: string, extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authorizeUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: GATEWAY_CALLBACK,
      scope: 'openid email profile offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...extra,
    });
    const callback = await completeUpstreamLogin(authorizeUrl.href, login);
    expect(callback.startsWith(`${GATEWAY_CALLBACK}?`)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
    return { tokens, callback };
  }

  it('publishes its endpoints under the exact loopback issuer', () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(config.serverMetadata().issuer).toBe(idp.issuer);
    expect(idp.tokenUrl).toBe(`${idp.issuer}/token`);
    expect(idp.jwksUrl).toBe(`${idp.issuer}/jwks`);
    expect(config.serverMetadata().code_challenge_methods_supported).toEqual(['S256']);
  });

  it('code + PKCE flow: the id_token verifies against the JWKS and carries the account claims; refresh rotates', async () => {
    const callsBefore = idp.tokenCalls.length;
    const { tokens, callback } = await codeFlow('alice');
    expect(new URL(callback).searchParams.get('iss')).toBe(idp.issuer);
    const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(idp.jwksUrl)), { issuer: idp.issuer, audience: 'gw' });
    expect(payload).toMatchObject({ sub: 'alice', email: 'alice@example.test', email_verified: true, roles: ['analyst'] });
    expect(tokens.refresh_token).toBeTruthy();

    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, 'alice');
    expect(userinfo.email).toBe('alice@example.test');

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    // The rotated-out refresh token is refused (and its grant revoked: reuse detection).
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(idp.tokenCalls.slice(callsBefore).map((call) => `${call.grantType}:${call.status}`)).toEqual([
      'authorization_code:200',
      'refresh_token:200',
      'refresh_token:400',
    ]);
  });

  it('PKCE is required', async () => {
    const authorizeUrl = oidc.buildAuthorizationUrl(config, { redirect_uri: GATEWAY_CALLBACK, scope: 'openid', state: 'x' });
    const callback = new URL(await completeUpstreamLogin(authorizeUrl.href, 'bob'));
    expect(callback.searchParams.get('error')).toBe('invalid_request');
    expect(callback.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('an unregistered redirect_uri is refused at the IdP', async () => {
    const authorizeUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:2/elsewhere',
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    await expect(completeUpstreamLogin(authorizeUrl.href, 'bob')).rejects.toThrow(/redirect_uri/);
  });

  it('short TTLs: the access token expires; a resource makes it a JWT for that audience; revokeEverything kills refresh', async () => {
    idp.setTtls({ accessToken: 2 });
    try {
      const { tokens } = await codeFlow('carol', { resource: 'http://127.0.0.1:9/' });
      expect(tokens.expires_in).toBeLessThanOrEqual(2);
      const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(idp.jwksUrl)), { issuer: idp.issuer, audience: 'http://127.0.0.1:9/' });
      expect(payload).toMatchObject({ sub: 'carol', email: 'carol@example.test', client_id: 'gw' });
      expect(payload.exp! - payload.iat!).toBe(2);
      idp.revokeEverything();
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    } finally {
      idp.setTtls({ accessToken: 3600 });
    }
  });

  it('deny at consent comes back as error=access_denied', async () => {
    const authorizeUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: GATEWAY_CALLBACK,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: 's1',
    });
    const callback = new URL(await completeUpstreamLogin(authorizeUrl.href, 'dave', { decision: 'deny' }));
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe('s1');
  });

  it('signJwt mints tokens the JWKS verifies (for resource-server vectors)', async () => {
    const token = await idp.signJwt({ sub: 'eve', aud: 'http://x/' });
    const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(idp.jwksUrl)), { issuer: idp.issuer, audience: 'http://x/' });
    expect(payload.sub).toBe('eve');
    expect(protectedHeader.kid).toBe(idp.publicJwks.keys[0]!.kid);
  });
});
