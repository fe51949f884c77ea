import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CimdError } from '../../../src/auth/oauth/cimd/cimd-errors.js';
import { CimdResolver, createCimdFetcher } from '../../../src/auth/oauth/cimd/cimd-resolver.js';
import { interceptRequests, launchBrowser, screenshot, type TestBrowser } from '../../support/browser.js';
import { startCimdClient, type CimdClientServer } from '../../support/cimd-client.js';
import { HarnessOAuthClientProvider } from '../../support/mcp-oauth-client.js';
import { startGatewayProcess, type GatewayProcess } from '../../support/gateway-process.js';
import { TEST_CLICKHOUSE_FLAGS } from '../../support/gateway.js';
import { completeUpstreamLogin, completeUpstreamLoginInPage, startTestIdp, type TestIdp } from '../../support/oidc-idp.js';

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

describe('CIMD client document over HTTPS on loopback', () => {
  let cimd: CimdClientServer;
  beforeAll(async () => {
    cimd = await startCimdClient({ clientName: 'Harness Client' });
  });
  afterAll(() => cimd.close());

  it('the gateway hooks let the real CIMD fetcher + resolver resolve the document', async () => {
    const fetchHooks = cimd.hooks.oauthOutboundFetch!;
    const resolver = new CimdResolver({ fetcher: createCimdFetcher({ resolver: fetchHooks.resolver, testOnly: fetchHooks.testOnly }) });
    const client = await resolver.resolve(cimd.clientId);
    expect(cimd.clientId).toBe('https://mcp-client.test/oauth/client.json');
    expect(client).toEqual({
      clientId: cimd.clientId,
      clientName: 'Harness Client',
      redirectUris: ['https://mcp-client.test/callback'],
      tokenEndpointAuthMethod: 'none',
    });
    expect(cimd.documentFetches()).toBe(1);
    // SNI and Host are the public name, as in production.
    expect(cimd.https.requests.at(-1)).toMatchObject({ host: 'mcp-client.test', servername: 'mcp-client.test', path: '/oauth/client.json' });
  });

  it('without the hooks the same URL is not reachable (no real DNS, loopback blocked)', async () => {
    const fetchHooks = cimd.hooks.oauthOutboundFetch!;
    const resolver = new CimdResolver({ fetcher: createCimdFetcher({ resolver: fetchHooks.resolver }) });
    await expect(resolver.resolve(cimd.clientId)).rejects.toMatchObject({ kind: 'ssrf_blocked' });
    await expect(fetchHooks.resolver!('elsewhere.test')).rejects.toThrow(/unknown/);
  });

  it('a changed document is served as changed (the resolver sees the new client_name)', async () => {
    const fetchHooks = cimd.hooks.oauthOutboundFetch!;
    cimd.setDocument({ ...cimd.document(), client_name: '' });
    const resolver = new CimdResolver({ fetcher: createCimdFetcher({ resolver: fetchHooks.resolver, testOnly: fetchHooks.testOnly }) });
    const failure = await resolver.resolve(cimd.clientId).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CimdError);
    expect((failure as CimdError).kind).toBe('invalid_metadata');
  });
});

describe('headless chromium (Debian package, playwright-core)', () => {
  let browser: TestBrowser;
  let idp: TestIdp;
  let site: Server;
  let siteUrl: string;
  beforeAll(async () => {
    [browser, idp] = await Promise.all([launchBrowser(), startTestIdp({ clientId: 'browser-gw', clientSecret: 'browser-secret' })]);
    idp.setRedirectUris(['https://gateway-callback.test/oauth/callback']);
    site = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<!doctype html><title>harness</title><button id="go" onclick="document.getElementById(\'out\').textContent=\'clicked\'">Go</button><p id="out"></p>');
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await browser?.close();
    await idp?.close();
    site?.close();
  });

  it('opens a local page, clicks a button and saves a screenshot', async () => {
    const { page, context } = await browser.newPage();
    await page.goto(siteUrl);
    await page.click('#go');
    expect(await page.textContent('#out')).toBe('clicked');
    const file = await screenshot(page, 'oauth-harness-button');
    expect(existsSync(file) && statSync(file).size).toBeGreaterThan(1000);
    await context.close();
  });

  it('drives the IdP login and consent pages to the redirect URI', async () => {
    const { page, context } = await browser.newPage();
    const callbacks = await interceptRequests(context, 'https://gateway-callback.test/');
    const authorizeUrl = new URL(idp.authUrl);
    authorizeUrl.search = new URLSearchParams({
      client_id: 'browser-gw',
      response_type: 'code',
      redirect_uri: 'https://gateway-callback.test/oauth/callback',
      scope: 'openid email',
      state: 'browser-state',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    }).toString();
    await page.goto(authorizeUrl.href);
    const left = await completeUpstreamLoginInPage(page, idp.issuer, 'frank');
    const callback = new URL(await callbacks.next());
    expect(left).toBe(callback.href);
    expect(callback.searchParams.get('state')).toBe('browser-state');
    expect(callback.searchParams.get('code')).toBeTruthy();
    await context.close();
  });
});

describe('gateway as separate processes (built output, outbound hooks)', () => {
  let cimd: CimdClientServer;
  const gateways: GatewayProcess[] = [];
  beforeAll(async () => {
    cimd = await startCimdClient();
  });
  afterAll(async () => {
    await Promise.all(gateways.map((gateway) => gateway.close()));
    await cimd.close();
  });

  it('two processes with the same config start with the hooks and answer /health', async () => {
    const options = { flags: [...TEST_CLICKHOUSE_FLAGS], env: { LOG_LEVEL: 'info' }, outboundHooks: cimd.serializedHooks };
    gateways.push(...(await Promise.all([startGatewayProcess(options), startGatewayProcess(options)])));
    const [first, second] = gateways as [GatewayProcess, GatewayProcess];
    expect(first.port).not.toBe(second.port);
    expect(first.pid).not.toBe(second.pid);
    for (const gateway of gateways) {
      const response = await fetch(new URL('health', gateway.url));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'healthy' });
    }
    await first.close();
    await expect(fetch(new URL('health', first.url))).rejects.toThrow();
    expect((await fetch(new URL('health', second.url))).status).toBe(200);
  });

  it('a configuration error is reported, not hung on', async () => {
    await expect(startGatewayProcess({ flags: ['--clickhouse-port', 'not-a-port'] })).rejects.toThrow(/failed to start|exited/);
  });
});

describe('MCP SDK OAuth client provider (against a scripted resource + authorization server)', () => {
  let server: Server;
  let base: string;
  const tokenRequests: URLSearchParams[] = [];
  beforeAll(async () => {
    server = createServer((request, response) => {
      const json = (status: number, body: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (request.url === '/.well-known/oauth-protected-resource/mcp') {
        return json(200, { resource: `${base}mcp`, authorization_servers: [base.slice(0, -1)], scopes_supported: ['openid', 'email'] });
      }
      if (request.url === '/.well-known/oauth-authorization-server') {
        return json(200, {
          issuer: base.slice(0, -1),
          authorization_endpoint: `${base}oauth/authorize`,
          token_endpoint: `${base}oauth/token`,
          response_types_supported: ['code'],
          grant_types_supported: ['authorization_code', 'refresh_token'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['none'],
          client_id_metadata_document_supported: true,
        });
      }
      if (request.url === '/oauth/token' && request.method === 'POST') {
        let body = '';
        request.on('data', (chunk) => (body += chunk));
        request.on('end', () => {
          const form = new URLSearchParams(body);
          tokenRequests.push(form);
          const round = tokenRequests.length;
          json(200, { access_token: `at-${round}`, token_type: 'Bearer', expires_in: 60, refresh_token: `rt-${round}` });
        });
        return;
      }
      json(404, { error: 'not_found' });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => server.close());

  it('PRM → AS metadata → CIMD client_id + PKCE + state + resource → code exchange → refresh', async () => {
    const provider = new HarnessOAuthClientProvider({
      clientMetadataUrl: 'https://mcp-client.test/oauth/client.json',
      redirectUrl: 'https://mcp-client.test/callback',
    });
    const serverUrl = `${base}mcp`;
    const resourceMetadataUrl = new URL(`${base}.well-known/oauth-protected-resource/mcp`);
    expect(await auth(provider, { serverUrl, resourceMetadataUrl })).toBe('REDIRECT');
    const authorizationUrl = provider.lastAuthorizationUrl();
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe(`${base}oauth/authorize`);
    const query = authorizationUrl.searchParams;
    expect(query.get('client_id')).toBe('https://mcp-client.test/oauth/client.json');
    expect(query.get('redirect_uri')).toBe('https://mcp-client.test/callback');
    expect(query.get('code_challenge_method')).toBe('S256');
    expect(query.get('resource')).toBe(`${base}mcp`);
    expect(query.get('scope')).toBe('openid email');
    const verifier = provider.codeVerifier();
    expect(query.get('code_challenge')).toBe(createHash('sha256').update(verifier).digest('base64url'));

    // The client redirect with a foreign state is refused; with ours the code comes out.
    expect(() => provider.codeFromRedirect('https://mcp-client.test/callback?code=c1&state=forged')).toThrow(/state/);
    expect(() => provider.codeFromRedirect(`https://mcp-client.test/callback?error=access_denied&state=${query.get('state')}`)).toThrow(/access_denied/);
    const code = provider.codeFromRedirect(`https://mcp-client.test/callback?code=c1&state=${query.get('state')}`);
    expect(await auth(provider, { serverUrl, resourceMetadataUrl, authorizationCode: code })).toBe('AUTHORIZED');
    expect(Object.fromEntries(tokenRequests[0]!)).toEqual({
      grant_type: 'authorization_code',
      code: 'c1',
      code_verifier: verifier,
      redirect_uri: 'https://mcp-client.test/callback',
      client_id: 'https://mcp-client.test/oauth/client.json',
      resource: `${base}mcp`,
    });
    expect(provider.tokens()).toMatchObject({ access_token: 'at-1', refresh_token: 'rt-1' });

    // What the transport does on a 401 with tokens stored: refresh, no new authorization.
    provider.spoilAccessToken();
    expect(await auth(provider, { serverUrl, resourceMetadataUrl })).toBe('AUTHORIZED');
    expect(Object.fromEntries(tokenRequests[1]!)).toMatchObject({ grant_type: 'refresh_token', refresh_token: 'rt-1', client_id: 'https://mcp-client.test/oauth/client.json' });
    expect(provider.tokens()).toMatchObject({ access_token: 'at-2', refresh_token: 'rt-2' });
    expect(provider.authorizationUrls).toHaveLength(1);
  });
});
