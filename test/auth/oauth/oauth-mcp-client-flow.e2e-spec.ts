import { randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MCP_POST_HEADERS, okJson } from '../../mcp/mcp-e2e-helpers.js';
import { startJwtVerifySidecar, type JwtVerifySidecar } from '../../support/ch-jwt-verify-sidecar.js';
import { startCimdClient, type CimdClientServer } from '../../support/cimd-client.js';
import { writeBrokerConfig } from '../../support/broker-config.js';
import { startGateway, type TestGateway } from '../../support/gateway.js';
import { connectWithOAuth, HarnessOAuthClientProvider, type OAuthConnectedClient } from '../../support/mcp-oauth-client.js';
import { completeUpstreamLogin, startTestIdp, type TestIdp } from '../../support/oidc-idp.js';

/**
 * Issue 17 "Must show" #1: the MCP SDK `Client` with its OAuth client provider, against a broker gateway (consent on,
 * bound tokens) in front of a real OpenID Provider (oidc-provider), with the real ClickHouse 18.16 behind a
 * ch-jwt-verify stand-in that verifies the upstream id_token against the IdP's JWKS. 401 challenge → PRM → AS
 * metadata → CIMD client_id + PKCE → consent → upstream login → callback → token → `execute_query`; then the bound
 * access token expires, the SDK refreshes (both tokens rotate, upstream too) and the call succeeds; a pre-rotation
 * refresh token is refused; a bound token is worthless at another gateway.
 */

const SIGNING_SECRET = 'mcp-client-flow-signing-secret-32-bytes!';
const OTHER_SIGNING_SECRET = 'another-gateway-signing-secret-32-bytes!';
const LOGIN = 'flow-alice';
const EMAIL = `${LOGIN}@example.test`;
const ACCESS_TOKEN_TTL_SECONDS = 3;

interface SdkExchange {
  method: string;
  url: string;
  status: number;
  wwwAuthenticate: string | null;
  /** Form body of a token request. */
  form?: Record<string, string>;
  /** JSON answer of a metadata request. */
  json?: Record<string, unknown>;
}

let idp: TestIdp;
let cimd: CimdClientServer;
let sidecar: JwtVerifySidecar;
let gateway: TestGateway;
/** Same secret, another `public_resource_url`. */
let otherResourceGateway: TestGateway;
/** Same `public_resource_url` as `gateway`, another signing secret. */
let otherSecretGateway: TestGateway;
/** Every token the sidecar was asked to verify, i.e. what ClickHouse got, and when (ms). */
const tokensSeenByClickHouse: string[] = [];
const clickHouseTokenTimes: number[] = [];
/** Every request the SDK made through its transport and `auth()` (MCP, discovery, token). */
const sdkTraffic: SdkExchange[] = [];
let provider: HarnessOAuthClientProvider;
let connection: OAuthConnectedClient;

const recordingFetch: FetchLike = async (input, init) => {
  const response = await fetch(input, init);
  const url = new URL(input instanceof URL ? input.href : input);
  const exchange: SdkExchange = { method: init?.method ?? 'GET', url: url.href, status: response.status, wwwAuthenticate: response.headers.get('www-authenticate') };
  if (url.pathname.startsWith('/.well-known/') && response.ok) exchange.json = (await response.clone().json()) as Record<string, unknown>;
  if (url.pathname === '/oauth/token' && init?.body) exchange.form = Object.fromEntries(new URLSearchParams(String(init.body)));
  sdkTraffic.push(exchange);
  return response;
};

function writeConfig(oauth: Record<string, unknown>): string {
  return writeBrokerConfig(idp, SIGNING_SECRET, { consent: true, access_token_ttl_seconds: ACCESS_TOKEN_TTL_SECONDS, ...oauth });
}

function startBroker(oauth: Record<string, unknown> = {}): Promise<TestGateway> {
  const flags = ['--config', writeConfig(oauth), '--clickhouse-host', '127.0.0.1', '--clickhouse-port', String(sidecar.port)];
  return startGateway(flags, {}, cimd.hooks);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const gatewayOrigin = () => new URL(gateway.url).origin;
const decodeHtml = (text: string) => text.replace(/&#(\d+);/g, (_match, code: string) => String.fromCharCode(Number(code)));
const htmlField = (html: string, name: string) => {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`consent page has no ${name} field`);
  return decodeHtml(match[1]!);
};

/** The ClickHouse user that ran a query, from its own row of `system.processes` (18.16 has no currentUser()). */
async function clickhouseUserOf(client: Client): Promise<string> {
  const marker = `flow_whoami_${randomBytes(6).toString('hex')}`;
  const result = await client.callTool({ name: 'execute_query', arguments: { query: `SELECT user AS u, '${marker}' AS m FROM system.processes WHERE query LIKE '%${marker}%'` } });
  const json = okJson(result) as { rows: unknown[][] };
  expect(json.rows).toHaveLength(1);
  return String(json.rows[0]![0]);
}

/** A raw MCP `tools/list` with a bearer, as any client would send it. */
function mcpWithBearer(target: TestGateway, bearer: string): Promise<Response> {
  return fetch(target.url, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
}

function tokenRequest(target: TestGateway, form: Record<string, string>): Promise<Response> {
  return fetch(`${target.url}oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
}

/**
 * The user agent's part of the authorization, hop by hop with plain `fetch` (manual redirects): the gateway's
 * consent page → approve → the IdP's login and consent → the gateway callback → the client's redirect URI.
 */
async function authorizeInUserAgent(authorizationUrl: URL): Promise<string> {
  const consentPage = await fetch(authorizationUrl, { redirect: 'manual' });
  expect(consentPage.status).toBe(200);
  expect(consentPage.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const html = await consentPage.text();
  expect(html).toContain('Flow Test Client');
  expect(html).toContain('flow-client.test');
  const csrfCookie = consentPage.headers.getSetCookie().map((line) => line.split(';')[0]!).find((pair) => pair.startsWith('mcp_consent_csrf=')); // plain http: no `__Host-` prefix
  expect(csrfCookie).toBeDefined();
  const formAction = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  expect(formAction).toBeDefined();
  const consentUrl = new URL(decodeHtml(formAction!), gateway.url);
  expect(consentUrl.origin).toBe(gatewayOrigin());

  const approved = await fetch(consentUrl, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie!, origin: gatewayOrigin(), 'sec-fetch-site': 'same-origin' },
    body: new URLSearchParams({ request: htmlField(html, 'request'), csrf: htmlField(html, 'csrf'), decision: 'approve' }),
  });
  expect(approved.status).toBe(302);
  const upstreamAuthorize = new URL(approved.headers.get('location')!);
  expect(upstreamAuthorize.origin + upstreamAuthorize.pathname).toBe(idp.authUrl);
  expect(upstreamAuthorize.searchParams.get('client_id')).toBe(idp.clientId);
  expect(upstreamAuthorize.searchParams.get('code_challenge_method')).toBe('S256');
  expect(upstreamAuthorize.searchParams.get('redirect_uri')).toBe(`${gateway.url}oauth/callback`);

  const gatewayCallback = new URL(await completeUpstreamLogin(upstreamAuthorize.href, LOGIN, { idpOrigin: idp.issuer }));
  expect(gatewayCallback.origin + gatewayCallback.pathname).toBe(`${gateway.url}oauth/callback`);
  expect(gatewayCallback.searchParams.get('iss')).toBe(idp.issuer);
  expect(gatewayCallback.searchParams.get('state')).toBe(upstreamAuthorize.searchParams.get('state'));
  expect(gatewayCallback.searchParams.get('code')).toBeTruthy();

  // The approval is bound to this browser: the callback needs the state cookie the approval set.
  const stateCookie = approved.headers.getSetCookie().map((line) => line.split(';')[0]!).find((pair) => pair.startsWith('mcp_oauth_state='));
  expect(stateCookie).toBeDefined();
  const withoutCookie = await fetch(gatewayCallback, { redirect: 'manual' });
  expect(withoutCookie.status).toBe(400);
  expect(await withoutCookie.json()).toEqual({ error: 'invalid_request', error_description: 'authorization request was not approved in this browser' });
  const callback = await fetch(gatewayCallback, { redirect: 'manual', headers: { cookie: stateCookie! } });
  expect(callback.status).toBe(302);
  const clientRedirect = new URL(callback.headers.get('location')!);
  expect(clientRedirect.origin + clientRedirect.pathname).toBe(cimd.redirectUri);
  expect(clientRedirect.searchParams.get('state')).toBe(authorizationUrl.searchParams.get('state'));
  expect(clientRedirect.searchParams.get('iss')).toBe(gatewayOrigin());
  expect(clientRedirect.searchParams.get('code')).toBeTruthy();
  return clientRedirect.href;
}

beforeAll(async () => {
  [idp, cimd] = await Promise.all([
    startTestIdp({ clientId: 'mcp-flow-gw', clientSecret: 'mcp-flow-upstream-secret' }),
    startCimdClient({ hostname: 'flow-client.test', clientName: 'Flow Test Client' }),
  ]);
  const keys = createRemoteJWKSet(new URL(idp.jwksUrl));
  sidecar = await startJwtVerifySidecar({
    mode: 'basic',
    users: { [EMAIL]: { user: 'tester', password: 'secret' } },
    verify: async (token) => {
      tokensSeenByClickHouse.push(token);
      clickHouseTokenTimes.push(Date.now());
      return (await jwtVerify(token, keys, { issuer: idp.issuer, audience: idp.clientId })).payload;
    },
  });
  gateway = await startBroker();
  [otherResourceGateway, otherSecretGateway] = await Promise.all([
    startBroker({ public_resource_url: 'https://other-mcp.example.com', public_auth_server_url: 'https://other-mcp.example.com' }),
    startBroker({ signing_secret: OTHER_SIGNING_SECRET, public_resource_url: gateway.url, public_auth_server_url: gatewayOrigin() }),
  ]);
  idp.setRedirectUris([`${gateway.url}oauth/callback`]);
  provider = new HarnessOAuthClientProvider({ clientMetadataUrl: cimd.clientId, redirectUrl: cimd.redirectUri });
}, 60_000);

afterAll(async () => {
  await connection?.close();
  await Promise.all([gateway?.close(), otherResourceGateway?.close(), otherSecretGateway?.close()]);
  await Promise.all([sidecar?.close(), cimd?.close(), idp?.close()]);
});

describe('MCP SDK client: full OAuth flow through the broker to ClickHouse 18.16', () => {
  it('401 challenge → PRM → AS metadata → CIMD client_id + PKCE → consent → upstream login → callback → token', async () => {
    connection = await connectWithOAuth(new URL(gateway.url), provider, authorizeInUserAgent, { fetch: recordingFetch });

    // The SDK's own requests, in order: the challenge, the discovery documents, no registration, the code exchange.
    const [challenge, ...rest] = sdkTraffic;
    expect(challenge).toMatchObject({ method: 'POST', url: gateway.url, status: 401 });
    const resourceMetadataUrl = /resource_metadata="([^"]+)"/.exec(challenge!.wwwAuthenticate ?? '')?.[1];
    expect(resourceMetadataUrl).toBe(`${gatewayOrigin()}/.well-known/oauth-protected-resource`);
    const prm = rest.find((exchange) => exchange.url === resourceMetadataUrl);
    expect(prm).toMatchObject({ status: 200, json: { resource: gateway.url, authorization_servers: [gatewayOrigin()] } });
    const asMetadata = rest.find((exchange) => exchange.json?.issuer === gatewayOrigin());
    expect(asMetadata?.url).toMatch(/\/\.well-known\/(oauth-authorization-server|openid-configuration)$/);
    expect(asMetadata?.json).toMatchObject({ client_id_metadata_document_supported: true, code_challenge_methods_supported: ['S256'] });
    expect(sdkTraffic.some((exchange) => exchange.url.includes('/register'))).toBe(false);

    const authorization = provider.lastAuthorizationUrl();
    expect(authorization.origin + authorization.pathname).toBe(`${gatewayOrigin()}/oauth/authorize`);
    expect(authorization.searchParams.get('client_id')).toBe(cimd.clientId);
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorization.searchParams.get('resource')).toBe(gateway.url);
    expect(cimd.documentFetches()).toBeGreaterThanOrEqual(1);

    const exchanges = sdkTraffic.filter((exchange) => exchange.url === `${gateway.url}oauth/token`);
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]).toMatchObject({ status: 200, form: { grant_type: 'authorization_code', client_id: cimd.clientId, redirect_uri: cimd.redirectUri } });
    expect(exchanges[0]!.form!.code_verifier).toBe(provider.codeVerifier());
    expect(idp.tokenCalls.map((call) => `${call.grantType}:${call.status}`)).toEqual(['authorization_code:200']);

    const tokens = provider.tokens()!;
    expect(tokens.token_type).toMatch(/^bearer$/i);
    expect(tokens.access_token.split('.')).toHaveLength(5); // the gateway's bound token (JWE), not the upstream JWT
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.expires_in).toBeLessThanOrEqual(ACCESS_TOKEN_TTL_SECONDS);
    // After the exchange the SDK reconnected with the bearer: initialize went through.
    expect(sdkTraffic.at(-1)).toMatchObject({ method: 'POST', url: gateway.url });
    expect(sdkTraffic.filter((exchange) => exchange.url === gateway.url && exchange.status === 200).length).toBeGreaterThanOrEqual(1);
  });

  it('tools/call execute_query runs as the mapped ClickHouse user, with the upstream id_token (Bearer→Basic learnt)', async () => {
    const bound = provider.tokens()!.access_token;
    // The first authenticated MCP request (initialize) learnt the endpoint's method: the Basic-only sidecar refused
    // the Bearer probe, then Basic `email:id_token` passed.
    expect(sidecar.seen[0]).toMatchObject({ scheme: 'Bearer' });
    expect(sidecar.seen[1]).toMatchObject({ scheme: 'Basic', basicUser: EMAIL });
    sidecar.seen.length = 0;
    expect(await clickhouseUserOf(connection.client)).toBe('tester');
    // Cached since: the query went straight as Basic.
    expect(sidecar.seen.length).toBeGreaterThan(0);
    expect(new Set(sidecar.seen.map((request) => `${request.scheme}:${request.basicUser}`))).toEqual(new Set([`Basic:${EMAIL}`]));
    expect(tokensSeenByClickHouse.length).toBeGreaterThan(0);
    for (const token of tokensSeenByClickHouse) {
      expect(token).not.toBe(bound);
      expect(token.split('.')).toHaveLength(3);
      expect(decodeJwt(token)).toMatchObject({ iss: idp.issuer, aud: idp.clientId, email: EMAIL });
    }
  });

  it('the bound token expires: the next call gets 401, the SDK refreshes (both tokens rotate, upstream too), the call succeeds', async () => {
    const before = provider.tokens()!;
    const historyLength = provider.tokenHistory.length;
    const idpCalls = idp.tokenCalls.length;
    // A token minted now lives ACCESS_TOKEN_TTL_SECONDS (whole seconds): one more second and it is surely over.
    await sleep((ACCESS_TOKEN_TTL_SECONDS + 1) * 1000);
    const expired = await mcpWithBearer(gateway, before.access_token);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token", error_description="OAuth token expired"/);

    const trafficStart = sdkTraffic.length;
    expect(await clickhouseUserOf(connection.client)).toBe('tester');
    const traffic = sdkTraffic.slice(trafficStart);
    expect(traffic[0]).toMatchObject({ method: 'POST', url: gateway.url, status: 401 });
    const refresh = traffic.find((exchange) => exchange.url === `${gateway.url}oauth/token`);
    expect(refresh).toMatchObject({ status: 200, form: { grant_type: 'refresh_token', refresh_token: before.refresh_token, client_id: cimd.clientId } });
    expect(traffic.at(-1)).toMatchObject({ method: 'POST', url: gateway.url, status: 200 });
    expect(provider.authorizationUrls).toHaveLength(1); // no new browser round trip

    expect(idp.tokenCalls.slice(idpCalls).map((call) => `${call.grantType}:${call.status}`)).toEqual(['refresh_token:200']);
    expect(provider.tokenHistory).toHaveLength(historyLength + 1);
    const after = provider.tokenHistory.at(-1)!;
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).toBeTruthy();
    expect(after.refresh_token).not.toBe(before.refresh_token);
  }, 20_000);

  it('a bound token is refused by a gateway with another resource URL or another signing secret', async () => {
    // A fresh pair (the SDK's may be near its 3 s end): a refresh at the issuing gateway.
    const rotated = await tokenRequest(gateway, { grant_type: 'refresh_token', refresh_token: provider.tokens()!.refresh_token!, client_id: cimd.clientId });
    expect(rotated.status).toBe(200);
    const fresh = (await rotated.json()) as { access_token: string; refresh_token: string };
    provider.saveTokens({ ...provider.tokens()!, ...fresh });

    expect((await mcpWithBearer(gateway, fresh.access_token)).status).toBe(200);
    const refusals: Array<[TestGateway, string]> = [
      [otherResourceGateway, 'OAuth token was not issued for this server (audience mismatch)'],
      // Another secret cannot even open it.
      [otherSecretGateway, 'OAuth token is malformed'],
    ];
    for (const [other, description] of refusals) {
      const refused = await mcpWithBearer(other, fresh.access_token);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token", error_description="/);
      expect(await refused.json()).toEqual({ error: 'invalid_token', error_description: description });
    }
  });

  it('a pre-rotation refresh token → 400 invalid_grant (the IdP catches the reuse); secrets stay out of the logs', async () => {
    const [first] = provider.tokenHistory;
    const replay = await tokenRequest(gateway, { grant_type: 'refresh_token', refresh_token: first!.refresh_token!, client_id: cimd.clientId });
    expect(replay.status).toBe(400);
    expect(replay.headers.get('cache-control')).toBe('no-store');
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
    expect(idp.tokenCalls.at(-1)).toEqual({ grantType: 'refresh_token', status: 400 });

    const logs = gateway.logs.join('\n');
    for (const tokens of provider.tokenHistory) {
      expect(logs).not.toContain(tokens.access_token);
      expect(logs).not.toContain(tokens.refresh_token!);
    }
    for (const token of tokensSeenByClickHouse) expect(logs).not.toContain(token);
    expect(logs).not.toContain(SIGNING_SECRET);
    expect(logs).not.toContain(idp.clientSecret);
  });
});

describe('when the upstream token ends first', () => {
  it('the bound token ends with it: 401 → refresh, never an expired upstream token sent to ClickHouse', async () => {
    // id_token 2 s < access_token_ttl_seconds 3 s: the bound token's exp is the upstream token's.
    idp.setTtls({ idToken: 2 });
    const shortProvider = new HarnessOAuthClientProvider({ clientMetadataUrl: cimd.clientId, redirectUrl: cimd.redirectUri });
    const short = await connectWithOAuth(new URL(gateway.url), shortProvider, authorizeInUserAgent);
    try {
      expect(shortProvider.tokens()!.expires_in).toBeLessThanOrEqual(2);
      expect(await clickhouseUserOf(short.client)).toBe('tester');
      await sleep(3000);
      const idpCalls = idp.tokenCalls.length;
      const verifiedBefore = tokensSeenByClickHouse.length;
      expect(await clickhouseUserOf(short.client)).toBe('tester');
      // Upstream: the client's refresh, plus Go's near-expiry id_token refresh (a 2 s id_token is always near expiry).
      const upstreamCalls = idp.tokenCalls.slice(idpCalls).map((call) => `${call.grantType}:${call.status}`);
      expect(upstreamCalls.length).toBeGreaterThanOrEqual(1);
      expect(new Set(upstreamCalls)).toEqual(new Set(['refresh_token:200']));
      expect(shortProvider.tokenHistory).toHaveLength(2);
      expect(shortProvider.authorizationUrls).toHaveLength(1);
      // Every token ClickHouse got since the expiry was still valid when it got it.
      expect(tokensSeenByClickHouse.length).toBeGreaterThan(verifiedBefore);
      tokensSeenByClickHouse.slice(verifiedBefore).forEach((token, index) => {
        expect(decodeJwt(token).exp! * 1000).toBeGreaterThan(clickHouseTokenTimes[verifiedBefore + index]!);
      });
    } finally {
      idp.setTtls({ idToken: 3600 });
      await short.close();
    }
  }, 20_000);
});
