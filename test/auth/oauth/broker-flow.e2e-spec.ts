import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerAccessTokens } from '../../../src/auth/oauth/oauth-bearer.js';
import { startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../../support/gateway.js';
import {
  CLIENT_ID,
  CLIENT_REDIRECT,
  PKJWT_CLIENT_ID,
  SIGNING_SECRET,
  UPSTREAM_CLIENT_ID,
  UPSTREAM_CLIENT_SECRET,
  authorizeUrl,
  defaultAuthorizeParams,
  obtainCode,
  pkcePair,
  postForm,
  redeem,
  startBrokerGateway,
  startClientDocuments,
  startFakeIdp,
  type ClientDocuments,
  type FakeIdp,
} from './broker-helpers.js';

/** Broker endpoints end to end against a loopback upstream IdP and CIMD documents over loopback TLS (§5 vectors). */

let idp: FakeIdp;
let documents: ClientDocuments;
let goMode: TestGateway;
let bound: TestGateway;
const gateways: TestGateway[] = [];

async function gateway(options: Parameters<typeof startBrokerGateway>[0]): Promise<TestGateway> {
  const started = await startBrokerGateway(options);
  gateways.push(started);
  return started;
}

beforeAll(async () => {
  idp = await startFakeIdp();
  documents = await startClientDocuments();
  goMode = await gateway({ idp, documents, oauth: { issued_tokens: 'upstream' } });
  bound = await gateway({ idp, documents });
});

afterAll(async () => {
  for (const started of gateways) await started.close();
  await documents?.close();
  await idp?.close();
});

const json = async (response: Response) => (await response.json()) as Record<string, unknown>;

describe('metadata, tombstone, method checks (vectors 29, 31, 34, 35)', () => {
  it('all six AS/OIDC paths: CIMD, S256, iss parameter, no registration endpoint', async () => {
    for (const path of [
      '.well-known/oauth-authorization-server',
      '.well-known/oauth-authorization-server/oauth',
      'oauth/.well-known/oauth-authorization-server',
      '.well-known/openid-configuration',
      '.well-known/openid-configuration/oauth',
      'oauth/.well-known/openid-configuration',
    ]) {
      const response = await fetch(`${goMode.url}${path}`);
      expect(response.status).toBe(200);
      const body = await json(response);
      expect(body).toMatchObject({
        issuer: 'https://mcp.example.com',
        authorization_endpoint: 'https://mcp.example.com/oauth/authorize',
        token_endpoint: 'https://mcp.example.com/oauth/token',
        client_id_metadata_document_supported: true,
        token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
        grant_types_supported: ['authorization_code'],
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        scopes_supported: ['openid', 'email'],
        authorization_response_iss_parameter_supported: true,
      });
      for (const absent of ['registration_endpoint', 'jwks_uri', 'userinfo_endpoint', 'revocation_endpoint']) expect(body[absent]).toBeUndefined();
    }
    expect((await json(await fetch(`${bound.url}.well-known/oauth-authorization-server`))).grant_types_supported).toEqual(['authorization_code', 'refresh_token']);
  });

  it('/oauth/register → 410 with Go\'s exact body, any method', async () => {
    for (const method of ['POST', 'GET']) {
      const response = await fetch(`${goMode.url}oauth/register`, { method });
      expect(response.status).toBe(410);
      expect(await response.text()).toBe(
        '{"error":"registration_not_supported","error_description":"Dynamic Client Registration is no longer supported; clients must use OAuth Client ID Metadata Documents (CIMD). See client_id_metadata_document_supported on /.well-known/oauth-authorization-server."}',
      );
    }
  });

  it('GET /oauth/authorize without parameters → 400; POST → 405 JSON invalid_request', async () => {
    const get = await fetch(`${goMode.url}oauth/authorize`);
    expect(get.status).toBe(400);
    expect(get.headers.get('content-type')).toBe('application/json');
    expect(await json(get)).toEqual({ error: 'invalid_request', error_description: 'missing client_id, redirect_uri, or response_type=code' });
    const post = await fetch(`${goMode.url}oauth/authorize`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(await json(post)).toEqual({ error: 'invalid_request', error_description: 'method not allowed' });
  });
});

describe('/oauth/authorize checks in Go order', () => {
  const { challenge } = pkcePair();
  const cases: Array<[string, Record<string, string>, number, string, string]> = [
    ['response_type=token', { response_type: 'token' }, 400, 'invalid_request', 'missing client_id, redirect_uri, or response_type=code'],
    ['an invalid CIMD URL', { client_id: 'http://client.example/x.json' }, 400, 'invalid_client', 'unknown OAuth client'],
    ['an unknown document', { client_id: 'https://client.example/missing.json' }, 400, 'invalid_client', 'unknown OAuth client'],
    ['an unregistered redirect_uri', { redirect_uri: 'https://evil.example/cb' }, 400, 'invalid_request', 'redirect_uri not registered for this client'],
    ['plain PKCE', { code_challenge_method: 'plain' }, 400, 'invalid_request', 'PKCE S256 is required'],
    ['no challenge', { code_challenge: '' }, 400, 'invalid_request', 'PKCE S256 is required'],
    ['a foreign resource', { resource: 'https://other.example.com/' }, 400, 'invalid_target', 'resource indicator does not identify this MCP server'],
  ];
  it.each(cases)('%s → %i %s', async (_name, extra, status, error, description) => {
    const response = await fetch(authorizeUrl(goMode, defaultAuthorizeParams(challenge, extra)), { redirect: 'manual' });
    expect(response.status).toBe(status);
    expect(await json(response)).toEqual({ error, error_description: description });
    expect(response.headers.get('location')).toBeNull();
  });

  it('redirects upstream with the sorted Go parameters; the client scope is not forwarded', async () => {
    const response = await fetch(authorizeUrl(goMode, defaultAuthorizeParams(challenge, { scope: 'openid  mcp:admin', resource: 'https://mcp.example.com/' })), { redirect: 'manual' });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(`${idp.url}/authorize`);
    const keys = [...location.searchParams.keys()];
    expect(keys).toEqual([...keys].sort());
    expect(Object.fromEntries(location.searchParams)).toMatchObject({
      client_id: UPSTREAM_CLIENT_ID,
      redirect_uri: 'https://mcp.example.com/oauth/callback',
      response_type: 'code',
      scope: 'openid email',
      code_challenge_method: 'S256',
    });
    expect(location.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(location.searchParams.get('state')!.split('.')).toHaveLength(5);
    expect(location.searchParams.get('audience')).toBeNull();
  });
});

describe('/oauth/callback (vector 30, RFC 9207 iss, upstream errors)', () => {
  it('no parameters → 400; bogus state → 400', async () => {
    const none = await fetch(`${goMode.url}oauth/callback`);
    expect(none.status).toBe(400);
    expect(await json(none)).toEqual({ error: 'invalid_request', error_description: 'missing state or code on callback' });
    const bogus = await fetch(`${goMode.url}oauth/callback?state=bogus&code=x`);
    expect(bogus.status).toBe(400);
    expect(await json(bogus)).toEqual({ error: 'invalid_request', error_description: 'unknown or expired authorization request' });
  });

  async function pendingState(): Promise<string> {
    const { challenge } = pkcePair();
    const response = await fetch(authorizeUrl(goMode, defaultAuthorizeParams(challenge)), { redirect: 'manual' });
    return new URL(response.headers.get('location')!).searchParams.get('state')!;
  }

  it('an upstream ?error= with a valid state goes back to the client with error, state and iss', async () => {
    const state = await pendingState();
    const response = await fetch(`${goMode.url}oauth/callback?${new URLSearchParams({ state, error: 'access_denied', error_description: 'user said no' })}`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(CLIENT_REDIRECT);
    expect(Object.fromEntries(location.searchParams)).toEqual({ error: 'access_denied', iss: 'https://mcp.example.com', state: 'client-state' });
  });

  it('an unknown upstream error code becomes server_error; a bogus state with an error stays a 400', async () => {
    const state = await pendingState();
    const odd = await fetch(`${goMode.url}oauth/callback?${new URLSearchParams({ state, error: '<script>' })}`, { redirect: 'manual' });
    expect(new URL(odd.headers.get('location')!).searchParams.get('error')).toBe('server_error');
    const bogus = await fetch(`${goMode.url}oauth/callback?state=bogus&error=access_denied`, { redirect: 'manual' });
    expect(bogus.status).toBe(400);
  });
});

describe('/oauth/token with Go answers (issued_tokens: upstream)', () => {
  it('full flow (vector 36): 0 upstream calls before /token, exactly 1 at /token, no refresh_token, no-store', async () => {
    idp.script = () => ({ body: { access_token: 'upstream-access-token', token_type: 'Bearer', expires_in: 3600 } });
    const before = idp.tokenCalls.length;
    const { code, verifier, location } = await obtainCode(goMode);
    expect(location.origin + location.pathname).toBe(CLIENT_REDIRECT);
    expect(location.searchParams.get('state')).toBe('client-state');
    expect(location.searchParams.get('iss')).toBe('https://mcp.example.com');
    expect(idp.tokenCalls.length).toBe(before);
    const response = await redeem(goMode, code, verifier);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('pragma')).toBe('no-cache');
    const body = await json(response);
    expect(body).toEqual({ access_token: 'upstream-access-token', token_type: 'Bearer', expires_in: 3600, scope: 'openid email' });
    expect(idp.tokenCalls.length).toBe(before + 1);
    const form = idp.tokenCalls.at(-1)!.form;
    expect(Object.fromEntries(form)).toMatchObject({
      grant_type: 'authorization_code',
      code: 'upstream-code',
      client_id: UPSTREAM_CLIENT_ID,
      client_secret: UPSTREAM_CLIENT_SECRET,
      redirect_uri: 'https://mcp.example.com/oauth/callback',
    });
    expect(form.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('grant_type=refresh_token → 400 unsupported_grant_type (vector 32)', async () => {
    const response = await postForm(`${goMode.url}oauth/token`, { grant_type: 'refresh_token', refresh_token: 'x', client_id: CLIENT_ID });
    expect(response.status).toBe(400);
    expect(await json(response)).toEqual({ error: 'unsupported_grant_type', error_description: 'unsupported grant type' });
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('client_secret → 401 invalid_client with WWW-Authenticate; a 400 has none (vector 27)', async () => {
    const secret = await postForm(`${goMode.url}oauth/token`, { grant_type: 'authorization_code', client_id: CLIENT_ID, client_secret: 'x' });
    expect(secret.status).toBe(401);
    expect(await json(secret)).toEqual({ error: 'invalid_client', error_description: 'client_secret authentication not supported' });
    expect(secret.headers.get('www-authenticate')).toBe('Bearer error="invalid_client", error_description="client_secret authentication not supported"');
    const unknown = await postForm(`${goMode.url}oauth/token`, { grant_type: 'authorization_code', client_id: 'https://client.example/nope.json' });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toContain('error_description="unknown OAuth client"');
    const assertion = await postForm(`${goMode.url}oauth/token`, { grant_type: 'authorization_code', client_id: CLIENT_ID, client_assertion: 'x' });
    expect(await json(assertion)).toEqual({ error: 'invalid_client', error_description: 'client_assertion not accepted for public clients' });
    const badGrant = await postForm(`${goMode.url}oauth/token`, { grant_type: 'authorization_code', client_id: CLIENT_ID, redirect_uri: CLIENT_REDIRECT, code: 'junk' });
    expect(badGrant.status).toBe(400);
    expect(badGrant.headers.get('www-authenticate')).toBeNull();
    expect(await json(badGrant)).toEqual({ error: 'invalid_grant', error_description: 'invalid authorization code' });
  });

  it('form fields may come from the query (Go ParseForm); the body wins', async () => {
    const response = await fetch(`${goMode.url}oauth/token?grant_type=refresh_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password',
    });
    expect(await json(response)).toEqual({ error: 'unsupported_grant_type', error_description: 'unsupported grant type' });
    const fromQuery = await fetch(`${goMode.url}oauth/token?grant_type=authorization_code&client_id=${encodeURIComponent(CLIENT_ID)}&client_secret=s`, { method: 'POST' });
    expect(fromQuery.status).toBe(401);
  });

  it('PKCE mismatch → invalid_grant; wrong redirect_uri → invalid_grant; resource mismatch → invalid_target (vector 33)', async () => {
    idp.script = () => ({ body: { access_token: 'upstream-access-token' } });
    const before = idp.tokenCalls.length;
    const first = await obtainCode(goMode, { resource: 'https://mcp.example.com/' });
    expect(await json(await redeem(goMode, first.code, 'wrong-verifier'))).toEqual({ error: 'invalid_grant', error_description: 'invalid PKCE verifier' });
    expect(await json(await redeem(goMode, first.code, first.verifier, { redirect_uri: 'https://evil.example/cb' }))).toEqual({ error: 'invalid_grant', error_description: 'redirect_uri not registered for this client' });
    const target = await redeem(goMode, first.code, first.verifier, { resource: 'https://other.example.com/' });
    expect(target.status).toBe(400);
    expect(await json(target)).toEqual({ error: 'invalid_target', error_description: 'resource indicator does not match the one used at /authorize' });
    expect(idp.tokenCalls.length).toBe(before);
  });

  it('an upstream 200 carrying {"error":"invalid_grant"} → 400 invalid_grant (vector 38); non-JSON → 502', async () => {
    idp.script = () => ({ body: { error: 'invalid_grant' } });
    const first = await obtainCode(goMode);
    const rejected = await redeem(goMode, first.code, first.verifier);
    expect(rejected.status).toBe(400);
    expect(await json(rejected)).toEqual({ error: 'invalid_grant', error_description: 'upstream rejected the authorization code' });
    idp.script = () => ({ body: null, raw: '<html>boom</html>' });
    const second = await obtainCode(goMode);
    const broken = await redeem(goMode, second.code, second.verifier);
    expect(broken.status).toBe(502);
    expect(await json(broken)).toEqual({ error: 'server_error', error_description: 'upstream returned non-JSON response' });
    idp.script = () => ({ body: { token_type: 'Bearer' } });
    const third = await obtainCode(goMode);
    expect(await json(await redeem(goMode, third.code, third.verifier))).toEqual({ error: 'server_error', error_description: 'upstream returned no usable token' });
  });

  it('an id_token is validated against the IdP keys; a forged one → 502', async () => {
    const idToken = await idp.idToken({}, { expiresIn: 3000 });
    idp.script = () => ({ body: { access_token: 'opaque', id_token: idToken, expires_in: 10 } });
    const ok = await obtainCode(goMode);
    const body = await json(await redeem(goMode, ok.code, ok.verifier));
    expect(body.access_token).toBe(idToken);
    expect(body.expires_in).toBeGreaterThan(2990);
    expect(body.expires_in).toBeLessThanOrEqual(3000);
    const forged = idp.unsignedJwt({ iss: idp.url, aud: UPSTREAM_CLIENT_ID, sub: 'mallory', exp: Math.floor(Date.now() / 1000) + 600 });
    idp.script = () => ({ body: { access_token: 'opaque', id_token: forged } });
    const bad = await obtainCode(goMode);
    const refused = await redeem(goMode, bad.code, bad.verifier);
    expect(refused.status).toBe(502);
    expect(await json(refused)).toEqual({ error: 'server_error', error_description: 'failed to validate upstream identity token' });
  });
});

describe('private_key_jwt clients (§2.8)', () => {
  it('a signed assertion for the token endpoint is accepted; none, a wrong audience or a foreign key → 401', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const stranger = await generateKeyPair('ES256');
    documents.setJwks({ keys: [{ ...(await exportJWK(publicKey)), kid: 'client-key', use: 'sig', alg: 'ES256' }] });
    const assertion = (key: CryptoKey, audience = 'https://mcp.example.com/oauth/token') =>
      new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'client-key' }).setIssuer(PKJWT_CLIENT_ID).setSubject(PKJWT_CLIENT_ID)
        .setAudience(audience).setIssuedAt().setExpirationTime('2m').setJti(crypto.randomUUID()).sign(key);
    idp.script = () => ({ body: { access_token: 'upstream-access-token', expires_in: 600 } });
    const type = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
    const attempts: Array<[Record<string, string>, number, string]> = [
      [{}, 401, 'client_assertion required for private_key_jwt clients'],
      [{ client_assertion_type: type, client_assertion: await assertion(privateKey, 'https://mcp.example.com') }, 401, 'client_assertion invalid'],
      [{ client_assertion_type: type, client_assertion: await assertion(stranger.privateKey) }, 401, 'client_assertion invalid'],
      [{ client_assertion_type: 'urn:other', client_assertion: await assertion(privateKey) }, 401, 'client_assertion_type must be jwt-bearer'],
    ];
    for (const [extra, status, description] of attempts) {
      const { code, verifier } = await obtainCode(goMode, { client_id: PKJWT_CLIENT_ID });
      const refused = await redeem(goMode, code, verifier, { client_id: PKJWT_CLIENT_ID, ...extra });
      expect(refused.status).toBe(status);
      expect(await json(refused)).toEqual({ error: 'invalid_client', error_description: description });
    }
    const { code, verifier } = await obtainCode(goMode, { client_id: PKJWT_CLIENT_ID });
    const accepted = await redeem(goMode, code, verifier, { client_id: PKJWT_CLIENT_ID, client_assertion_type: type, client_assertion: await assertion(privateKey) });
    expect(accepted.status).toBe(200);
    expect((await json(accepted)).access_token).toBe('upstream-access-token');
  });
});

describe('near-expiry id_token refresh (vector 41)', () => {
  async function run(idTokenSeconds: number, withRefresh: boolean, refreshAnswer: (() => { status?: number; body: unknown }) | undefined) {
    const idToken = await idp.idToken({}, { expiresIn: idTokenSeconds });
    const refreshed = await idp.idToken({ refreshed: true }, { expiresIn: 3600 });
    idp.script = (call) => {
      if (call.form.get('grant_type') === 'refresh_token') return refreshAnswer ? refreshAnswer() : { body: { id_token: refreshed } };
      return { body: { access_token: 'opaque', id_token: idToken, ...(withRefresh ? { refresh_token: 'upstream-refresh' } : {}) } };
    };
    const before = idp.tokenCalls.length;
    const { code, verifier } = await obtainCode(goMode);
    const response = await redeem(goMode, code, verifier);
    expect(response.status).toBe(200);
    const refreshCalls = idp.tokenCalls.slice(before).filter((call) => call.form.get('grant_type') === 'refresh_token');
    return { body: await json(response), refreshCalls, idToken, refreshed };
  }

  it('exp in 2 min with a refresh token → one refresh, the fresh id_token, expires_in > 3000', async () => {
    const { body, refreshCalls, refreshed } = await run(120, true, undefined);
    expect(refreshCalls).toHaveLength(1);
    expect(refreshCalls[0]!.form.get('refresh_token')).toBe('upstream-refresh');
    expect(body.access_token).toBe(refreshed);
    expect(body.expires_in).toBeGreaterThan(3000);
  });

  it('exp in 57 min → no refresh; no refresh token → no refresh', async () => {
    expect((await run(57 * 60, true, undefined)).refreshCalls).toHaveLength(0);
    expect((await run(120, false, undefined)).refreshCalls).toHaveLength(0);
  });

  it('refresh answered 500, or without an id_token → 200 with the original token', async () => {
    const failed = await run(120, true, () => ({ status: 500, body: { error: 'server_error' } }));
    expect(failed.refreshCalls).toHaveLength(1);
    expect(failed.body.access_token).toBe(failed.idToken);
    const empty = await run(120, true, () => ({ body: { access_token: 'x' } }));
    expect(empty.body.access_token).toBe(empty.idToken);
  });
});

describe('HA: two gateways with the same config and no shared store (vector 37)', () => {
  it('authorize on one, callback and token on the other; the replayed code fails on either, with one upstream call per attempt', async () => {
    const other = await gateway({ idp, documents, oauth: { issued_tokens: 'upstream' } });
    let upstreamRedeemed = false;
    idp.script = () => {
      if (upstreamRedeemed) return { status: 400, body: { error: 'invalid_grant', error_description: 'Code already used' } };
      upstreamRedeemed = true;
      return { body: { access_token: 'upstream-access-token', expires_in: 600 } };
    };
    const before = idp.tokenCalls.length;
    const { code, verifier } = await obtainCode(goMode, {}, 'ha-code', other);
    expect((await redeem(other, code, verifier)).status).toBe(200);
    for (const replica of [goMode, other]) {
      const replay = await redeem(replica, code, verifier);
      expect(replay.status).toBe(400);
      expect(await json(replay)).toEqual({ error: 'invalid_grant', error_description: 'upstream rejected the authorization code' });
    }
    expect(idp.tokenCalls.length - before).toBe(3);
  });
});

describe('bound tokens (issued_tokens: bound, the default)', () => {
  it('issues a token bound to the resource, verifiable only for it; refresh rotates both tokens; a reused refresh token fails', async () => {
    const idToken = await idp.idToken({ email: 'alice@example.com' }, { expiresIn: 3600 });
    const refreshedIdToken = await idp.idToken({ email: 'alice@example.com', round: 2 }, { expiresIn: 3600 });
    const usedRefreshTokens = new Set<string>();
    let rotation = 0;
    idp.script = (call) => {
      if (call.form.get('grant_type') === 'refresh_token') {
        const presented = call.form.get('refresh_token')!;
        if (usedRefreshTokens.has(presented)) return { status: 400, body: { error: 'invalid_grant' } };
        usedRefreshTokens.add(presented);
        rotation += 1;
        return { body: { id_token: refreshedIdToken, access_token: 'opaque-2', refresh_token: `upstream-refresh-${rotation + 1}`, scope: 'openid email' } };
      }
      return { body: { access_token: 'opaque-1', id_token: idToken, refresh_token: 'upstream-refresh-1', scope: 'openid https://www.googleapis.com/auth/userinfo.email' } };
    };
    const { code, verifier } = await obtainCode(bound, { resource: 'https://mcp.example.com' });
    const issued = await redeem(bound, code, verifier);
    expect(issued.status).toBe(200);
    expect(issued.headers.get('cache-control')).toBe('no-store');
    const body = await json(issued);
    expect(body.token_type).toBe('Bearer');
    expect(body.scope).toBe('openid email');
    expect(body.expires_in).toBeGreaterThan(3500);
    expect(body.expires_in).toBeLessThanOrEqual(3600);
    expect(body.access_token).not.toBe(idToken);
    expect(String(body.access_token).split('.')).toHaveLength(5);
    expect(JSON.stringify(body)).not.toContain(idToken.split('.')[1]);
    expect(JSON.stringify(body)).not.toContain('upstream-refresh-1');

    const tokens = bound.app.get(BrokerAccessTokens);
    const verdict = await tokens.verify(String(body.access_token), 'https://mcp.example.com/');
    expect(verdict).toMatchObject({ ok: true, kind: 'bound', clickhouseToken: idToken, subject: 'user-1', scopes: ['openid', 'email'] });
    expect(verdict.ok && verdict.claims.email).toBe('alice@example.com');
    expect(await tokens.verify(String(body.access_token), 'https://mcp.example.com')).toMatchObject({ ok: true });
    expect(await tokens.verify(String(body.access_token), 'https://other.example.com/')).toEqual({ ok: false, reason: 'wrong_audience' });
    expect(await goMode.app.get(BrokerAccessTokens).verify(String(body.access_token), 'https://mcp.example.com/')).toMatchObject({ ok: true });

    const refresh = (token: unknown, extra: Record<string, string> = {}) =>
      postForm(`${bound.url}oauth/token`, { grant_type: 'refresh_token', refresh_token: String(token), client_id: CLIENT_ID, ...extra });
    const rotated = await refresh(body.refresh_token);
    expect(rotated.status).toBe(200);
    const second = await json(rotated);
    expect(second.refresh_token).toBeDefined();
    expect(second.refresh_token).not.toBe(body.refresh_token);
    expect(second.access_token).not.toBe(body.access_token);
    expect(await tokens.verify(String(second.access_token), 'https://mcp.example.com/')).toMatchObject({ ok: true, clickhouseToken: refreshedIdToken });
    expect(idp.tokenCalls.at(-1)!.form.get('refresh_token')).toBe('upstream-refresh-1');

    const third = await refresh(second.refresh_token);
    expect(third.status).toBe(200);
    expect(idp.tokenCalls.at(-1)!.form.get('refresh_token')).toBe('upstream-refresh-2');

    const reused = await refresh(body.refresh_token);
    expect(reused.status).toBe(400);
    expect(await json(reused)).toEqual({ error: 'invalid_grant', error_description: 'upstream rejected the refresh token' });

    expect(await json(await refresh(second.refresh_token, { client_id: 'https://client.example/oauth/pkjwt.json' }))).toMatchObject({ error: 'invalid_client' });
    expect(await json(await refresh('not-a-refresh-token'))).toEqual({ error: 'invalid_grant', error_description: 'invalid refresh token' });
    expect(await json(await refresh(body.access_token))).toEqual({ error: 'invalid_grant', error_description: 'invalid refresh token' });
    expect(await json(await refresh(second.refresh_token, { resource: 'https://other.example.com/' }))).toMatchObject({ error: 'invalid_target' });
  });

  it('no upstream refresh token → no refresh_token; the access token lives min(upstream, ttl)', async () => {
    const short = await gateway({ idp, documents, oauth: { access_token_ttl_seconds: 120 } });
    idp.script = () => ({ body: { access_token: 'upstream-access-token', expires_in: 3600 } });
    const { code, verifier } = await obtainCode(short);
    const body = await json(await redeem(short, code, verifier));
    expect(body.refresh_token).toBeUndefined();
    expect(body.expires_in).toBeLessThanOrEqual(120);
    expect(body.expires_in).toBeGreaterThan(100);
    const verdict = await short.app.get(BrokerAccessTokens).verify(String(body.access_token), 'https://mcp.example.com/');
    expect(verdict).toMatchObject({ ok: true, clickhouseToken: 'upstream-access-token', claims: {} });
  });
});

describe('an upstream token that is already expired', () => {
  it('is not wrapped into a bound token: 502 server_error, no-store', async () => {
    const stale = await idp.idToken({ email: 'late@example.com' }, { expiresIn: -30 });
    idp.script = () => ({ body: { access_token: 'opaque', id_token: stale, scope: 'openid email' } });
    const { code, verifier } = await obtainCode(bound);
    const answer = await redeem(bound, code, verifier);
    expect(answer.status).toBe(502);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(await json(answer)).toEqual({ error: 'server_error', error_description: 'upstream returned an expired token' });
  });
});

describe('API audience, offline matrix and Google (vectors 39, 40, 45)', () => {
  it('non-Google issuer with audience: the access token is returned with its own expiry, audience sent upstream', async () => {
    const auth0 = await startFakeIdp('https://acme.auth0.com/');
    try {
      const broker = await gateway({ idp: auth0, documents, oauth: { issued_tokens: 'upstream', issuer: 'https://acme.auth0.com/', audience: 'https://api.example.com', upstream_offline_access: true } });
      const { challenge } = pkcePair();
      const redirect = new URL((await fetch(authorizeUrl(broker, defaultAuthorizeParams(challenge)), { redirect: 'manual' })).headers.get('location')!);
      expect(redirect.searchParams.get('audience')).toBe('https://api.example.com');
      expect(redirect.searchParams.get('scope')).toBe('openid email offline_access');
      expect(redirect.searchParams.get('access_type')).toBeNull();
      const accessToken = auth0.unsignedJwt({ aud: 'https://api.example.com', exp: Math.floor(Date.now() / 1000) + 600 });
      const idToken = await auth0.idToken({}, { expiresIn: 3600 });
      auth0.script = () => ({ body: { access_token: accessToken, id_token: idToken, token_type: 'Bearer' } });
      const { code, verifier } = await obtainCode(broker);
      const body = await json(await redeem(broker, code, verifier));
      expect(body.access_token).toBe(accessToken);
      expect(body.expires_in).toBeGreaterThan(480);
      expect(body.expires_in).toBeLessThan(720);
    } finally {
      await auth0.close();
    }
  });

  it.each([
    [true, false, 'offline', null],
    [false, false, null, null],
    [true, true, 'offline', 'consent'],
  ])('Google offline=%s force=%s → access_type=%s prompt=%s, never offline_access or audience', async (offline, force, accessType, prompt) => {
    const broker = await gateway({ idp, documents, oauth: { issuer: 'https://accounts.google.com', audience: 'https://api.example.com', upstream_offline_access: offline, upstream_force_consent: force } });
    const { challenge } = pkcePair();
    const location = new URL((await fetch(authorizeUrl(broker, defaultAuthorizeParams(challenge)), { redirect: 'manual' })).headers.get('location')!);
    expect(location.searchParams.get('access_type')).toBe(accessType);
    expect(location.searchParams.get('prompt')).toBe(prompt);
    expect(location.searchParams.get('scope')).toBe('openid email');
    expect(location.searchParams.get('audience')).toBeNull();
  });

  it('Google URI scopes are normalised in the token answer', async () => {
    const google = await startFakeIdp('https://accounts.google.com');
    try {
      const broker = await gateway({ idp: google, documents, oauth: { issued_tokens: 'upstream', issuer: 'https://accounts.google.com' } });
      const idToken = await google.idToken();
      google.script = () => ({ body: { access_token: 'ya29', id_token: idToken, scope: 'openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile' } });
      const { code, verifier } = await obtainCode(broker);
      const body = await json(await redeem(broker, code, verifier));
      expect(body.scope).toBe('openid email profile');
      expect(body.access_token).toBe(idToken);
    } finally {
      await google.close();
    }
  });
});

describe('configured paths, broker off, rate limit, metrics, logs', () => {
  it('configured paths and Go\'s defaults both answer; metadata names the configured ones', async () => {
    const custom = await gateway({ idp, documents, oauth: { authorization_path: 'authorize/', callback_path: '/cb', token_path: '/token' } });
    const metadata = await json(await fetch(`${custom.url}.well-known/oauth-authorization-server`));
    expect(metadata.authorization_endpoint).toBe('https://mcp.example.com/authorize');
    expect(metadata.token_endpoint).toBe('https://mcp.example.com/token');
    for (const path of ['authorize', 'oauth/authorize', 'cb', 'oauth/callback']) {
      expect((await fetch(`${custom.url}${path}`)).status).toBe(400);
    }
    expect((await fetch(`${custom.url}token`, { method: 'POST' })).status).toBe(400);
    const { challenge } = pkcePair();
    const location = new URL((await fetch(authorizeUrl(custom, defaultAuthorizeParams(challenge), 'authorize'), { redirect: 'manual' })).headers.get('location')!);
    expect(location.searchParams.get('redirect_uri')).toBe('https://mcp.example.com/cb');
  });

  it('with OAuth off the broker paths answer Go\'s 404 page not found', async () => {
    const off = await startGateway([...TEST_CLICKHOUSE_FLAGS]);
    gateways.push(off);
    for (const path of ['.well-known/oauth-authorization-server', 'oauth/authorize', 'oauth/token', 'oauth/register', 'oauth/callback']) {
      const response = await fetch(`${off.url}${path}`);
      expect(response.status).toBe(404);
      expect(await response.text()).toBe('404 page not found\n');
    }
  });

  it('requests_per_minute: the 4th request in a minute → 429 JSON with Retry-After', async () => {
    const limited = await gateway({ idp, documents, oauth: { requests_per_minute: 3 } });
    for (let i = 0; i < 3; i += 1) expect((await fetch(`${limited.url}oauth/authorize`)).status).toBe(400);
    const refused = await fetch(`${limited.url}oauth/token`, { method: 'POST' });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await json(refused)).error).toBe('too_many_requests');
    const metrics = await (await fetch(`${limited.url}metrics`)).text();
    expect(metrics).toContain('oauth_broker_requests_total{endpoint="token",outcome="rate_limited"} 1');
    expect(metrics).toContain('oauth_broker_requests_total{endpoint="authorize",outcome="invalid_request"} 3');
  });

  it('metrics count outcomes; logs never carry codes, tokens, verifiers or secrets', async () => {
    const metrics = await (await fetch(`${bound.url}metrics`)).text();
    expect(metrics).toMatch(/oauth_broker_requests_total\{endpoint="token",outcome="ok"\} [1-9]/);
    expect(metrics).toMatch(/oauth_broker_requests_total\{endpoint="callback",outcome="ok"\} [1-9]/);
    for (const started of [goMode, bound]) {
      const logs = started.logs.join('\n');
      for (const secret of [SIGNING_SECRET, UPSTREAM_CLIENT_SECRET, 'upstream-code', 'upstream-refresh', 'upstream-access-token', 'eyJ']) {
        expect(logs).not.toContain(secret);
      }
    }
  });
});
