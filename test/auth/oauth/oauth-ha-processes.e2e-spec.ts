import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCimdClient, type CimdClientServer } from '../../support/cimd-client.js';
import { writeBrokerConfig } from '../../support/broker-config.js';
import { startGatewayProcess, type GatewayProcess } from '../../support/gateway-process.js';
import { startJwtVerifySidecar, type JwtVerifySidecar } from '../../support/ch-jwt-verify-sidecar.js';
import { completeUpstreamLogin, startTestIdp, type TestIdp } from '../../support/oidc-idp.js';

/**
 * High availability without a shared store: two gateway PROCESSES with the same configuration (the same
 * signing secret) behind one public name. The test plays the load balancer: the browser's authorize and consent
 * land on replica A, the IdP's callback and the client's token request on replica B, the refresh on A again —
 * the flow completes because every artifact (consent request, state, code, bound tokens) is a JWE either replica
 * opens. A replayed code fails on either replica: the upstream IdP, redeemed only at /token, is the single-use
 * oracle. The upstream is a real OIDC provider (oidc-provider) with rotating refresh tokens.
 */

const PUBLIC_ORIGIN = 'https://mcp.ha.test';
const SIGNING_SECRET = 'ha-processes-signing-secret-of-32-bytes!';

let idp: TestIdp;
let client: CimdClientServer;
let replicaA: GatewayProcess;
let replicaB: GatewayProcess;
let sidecar: JwtVerifySidecar;

/** What a load balancer would do: the same path and query, on the chosen replica. */
function onReplica(replica: GatewayProcess, publicUrl: string): string {
  const url = new URL(publicUrl);
  return new URL(`${url.pathname.replace(/^\//, '')}${url.search}`, replica.url).href;
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function form(url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

const formField = (html: string, name: string): string => {
  const raw = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
  if (raw === undefined) throw new Error(`consent page has no ${name} field`);
  return raw.replace(/&#(\d+);/g, (_match, code: string) => String.fromCharCode(Number(code)));
};

/** An MCP `initialize` with a bearer: 200 when the replica's guard accepts the token. */
async function initializeWith(replica: GatewayProcess, token: string): Promise<number> {
  const response = await fetch(replica.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'ha', version: '1' } } }),
  });
  await response.arrayBuffer();
  return response.status;
}

beforeAll(async () => {
  [idp, client] = await Promise.all([
    startTestIdp({ clientId: 'ha-gateway-upstream', clientSecret: 'ha-gateway-upstream-secret' }),
    startCimdClient({ hostname: 'ha-client.test', clientName: 'HA Test Client' }),
  ]);
  idp.setRedirectUris([`${PUBLIC_ORIGIN}/oauth/callback`]);
  // ClickHouse behind a ch-jwt-verify stand-in that trusts the IdP's id_tokens (what the bound token carries).
  const idpKeys = createRemoteJWKSet(new URL(idp.jwksUrl));
  sidecar = await startJwtVerifySidecar({
    mode: 'basic',
    verify: async (token) => (await jwtVerify(token, idpKeys, { issuer: idp.issuer, audience: idp.clientId })).payload,
    users: { 'henry@example.test': { user: 'tester', password: 'secret' } },
  });
  const file = writeBrokerConfig(idp, SIGNING_SECRET, {
    public_resource_url: PUBLIC_ORIGIN,
    public_auth_server_url: PUBLIC_ORIGIN,
    consent: true,
  });
  const options = { flags: ['--config', file, '--clickhouse-host', '127.0.0.1', '--clickhouse-port', String(sidecar.port)], outboundHooks: client.serializedHooks };
  [replicaA, replicaB] = await Promise.all([startGatewayProcess(options), startGatewayProcess(options)]);
}, 90_000);

afterAll(async () => {
  await Promise.all([replicaA?.close(), replicaB?.close()]);
  await client?.close();
  await sidecar?.close();
  await idp?.close();
});

describe('two gateway processes, same config, no shared store', () => {
  it('authorize + consent on A, callback + token on B, refresh on A; a replayed code fails on both', async () => {
    expect(replicaA.pid).not.toBe(replicaB.pid);
    const { verifier, challenge } = pkce();
    const authorize = `${PUBLIC_ORIGIN}/oauth/authorize?${new URLSearchParams({
      client_id: client.clientId,
      redirect_uri: client.redirectUri,
      response_type: 'code',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'ha-state',
      scope: 'openid email',
      resource: `${PUBLIC_ORIGIN}/`,
    })}`;

    // Replica A: the consent page, then the approval (with A's CSRF cookie) → the IdP.
    const page = await fetch(onReplica(replicaA, authorize), { redirect: 'manual' });
    expect(page.status).toBe(200);
    const html = await page.text();
    const csrfCookie = page.headers.getSetCookie().find((cookie) => cookie.includes('csrf'))!.split(';')[0]!;
    const approved = await form(
      onReplica(replicaA, `${PUBLIC_ORIGIN}/oauth/consent`),
      { request: formField(html, 'request'), csrf: formField(html, 'csrf'), decision: 'approve' },
      { cookie: csrfCookie, origin: PUBLIC_ORIGIN, 'sec-fetch-site': 'same-origin' },
    );
    expect(approved.status).toBe(302);
    const upstream = approved.headers.get('location')!;
    expect(upstream.startsWith(idp.authUrl)).toBe(true);

    // The IdP sends the browser to the public callback; the balancer picks replica B.
    const callbackUrl = await completeUpstreamLogin(upstream, 'henry');
    expect(callbackUrl.startsWith(`${PUBLIC_ORIGIN}/oauth/callback?`)).toBe(true);
    // The approval on A bound the state to this browser (an HMAC cookie any replica checks): B needs it too.
    const stateCookie = approved.headers.getSetCookie().find((cookie) => cookie.startsWith('__Host-mcp_oauth_state='))!.split(';')[0]!;
    expect((await fetch(onReplica(replicaB, callbackUrl), { redirect: 'manual' })).status).toBe(400);
    const callback = await fetch(onReplica(replicaB, callbackUrl), { redirect: 'manual', headers: { cookie: stateCookie } });
    expect(callback.status).toBe(302);
    const toClient = new URL(callback.headers.get('location')!);
    expect(toClient.origin + toClient.pathname).toBe(client.redirectUri);
    expect(toClient.searchParams.get('state')).toBe('ha-state');
    expect(toClient.searchParams.get('iss')).toBe(PUBLIC_ORIGIN);
    const code = toClient.searchParams.get('code')!;
    expect(idp.tokenCalls).toHaveLength(0);

    // Token on B: one upstream redemption, a bound access token and a refresh token.
    const redeem = (replica: GatewayProcess) =>
      form(onReplica(replica, `${PUBLIC_ORIGIN}/oauth/token`), {
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        client_id: client.clientId,
        redirect_uri: client.redirectUri,
        resource: `${PUBLIC_ORIGIN}/`,
      });
    const issued = await redeem(replicaB);
    expect(issued.status).toBe(200);
    const tokens = (await issued.json()) as { access_token: string; refresh_token: string; expires_in: number };
    expect(tokens.refresh_token).toBeTruthy();
    expect(idp.tokenCalls.map((call) => `${call.grantType}:${call.status}`)).toEqual(['authorization_code:200']);

    // Either replica accepts the token the other issued.
    expect(await initializeWith(replicaA, tokens.access_token)).toBe(200);
    expect(await initializeWith(replicaB, tokens.access_token)).toBe(200);

    // Refresh on A: the upstream refresh token rotates, and so do ours.
    const refreshed = await form(onReplica(replicaA, `${PUBLIC_ORIGIN}/oauth/token`), {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: client.clientId,
    });
    expect(refreshed.status).toBe(200);
    const rotated = (await refreshed.json()) as { access_token: string; refresh_token: string };
    expect(rotated.refresh_token).toBeTruthy();
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    expect(rotated.access_token).not.toBe(tokens.access_token);
    expect(await initializeWith(replicaB, rotated.access_token)).toBe(200);
    expect(idp.tokenCalls.map((call) => `${call.grantType}:${call.status}`)).toEqual(['authorization_code:200', 'refresh_token:200']);

    // The old refresh token, replayed on B, is refused (the IdP's rotation caught the reuse).
    const reusedRefresh = await form(onReplica(replicaB, `${PUBLIC_ORIGIN}/oauth/token`), {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: client.clientId,
    });
    expect(reusedRefresh.status).toBe(400);
    expect(await reusedRefresh.json()).toMatchObject({ error: 'invalid_grant' });

    // The code, replayed on either replica: refused.
    for (const replica of [replicaA, replicaB]) {
      const replay = await redeem(replica);
      expect(replay.status).toBe(400);
      expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
    }
    // ClickHouse (through the sidecar) saw the upstream identity, never our bound token: Basic as henry.
    expect(sidecar.seen.some((request) => request.scheme === 'Basic' && request.basicUser === 'henry@example.test')).toBe(true);
    // Logs of both processes carry no token, code or secret.
    for (const line of [...replicaA.logs, ...replicaB.logs]) {
      for (const secret of [code, tokens.access_token, tokens.refresh_token, rotated.refresh_token, SIGNING_SECRET, idp.clientSecret]) {
        expect(line).not.toContain(secret);
      }
    }
  }, 60_000);
});
