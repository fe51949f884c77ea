import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { stringify } from 'yaml';
import { startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../../support/gateway.js';
import { startLoopbackHttpsServer, type LoopbackHttpsServer } from './loopback-https-server.js';

/** Test support for the broker e2e files: a scriptable upstream IdP, CIMD documents over TLS, a gateway. */

export const SIGNING_SECRET = 'broker-e2e-signing-secret-of-32-bytes!!';
export const UPSTREAM_CLIENT_ID = 'gateway-upstream-client';
export const UPSTREAM_CLIENT_SECRET = 'upstream-client-secret-never-logged';
export const CLIENT_HOST = 'client.example';
export const CLIENT_ID = `https://${CLIENT_HOST}/oauth/client.json`;
export const CLIENT_REDIRECT = `https://${CLIENT_HOST}/callback`;
export const PKJWT_CLIENT_ID = `https://${CLIENT_HOST}/oauth/pkjwt.json`;
export const CLIENT_NAME = 'Demo <b>Client</b> & "friends"';

export interface TokenCall {
  form: URLSearchParams;
}

export type TokenScript = (call: TokenCall, index: number) => { status?: number; body: unknown; raw?: string };

/** An upstream IdP on loopback http: `/token` (scriptable, counted), `/userinfo`, `/jwks`; id_tokens signed RS256. */
export interface FakeIdp {
  url: string;
  tokenCalls: TokenCall[];
  userinfoCalls: number;
  script: TokenScript;
  idToken(claims?: Record<string, unknown>, options?: { kid?: string; expiresIn?: number }): Promise<string>;
  unsignedJwt(claims: Record<string, unknown>): string;
  close(): Promise<void>;
}

export async function startFakeIdp(issuer?: string): Promise<FakeIdp> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'idp-key-1', alg: 'RS256', use: 'sig' };
  const state = {
    tokenCalls: [] as TokenCall[],
    userinfoCalls: 0,
    script: (() => ({ body: { access_token: 'upstream-access-token', token_type: 'Bearer', expires_in: 3600 } })) as TokenScript,
  };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/jwks') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
      } else if (path === '/token' && req.method === 'POST') {
        const call = { form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')) };
        state.tokenCalls.push(call);
        const answer = state.script(call, state.tokenCalls.length - 1);
        res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' }).end(answer.raw ?? JSON.stringify(answer.body));
      } else if (path === '/userinfo') {
        state.userinfoCalls += 1;
        if (req.headers.authorization === 'Bearer upstream-access-token') {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: 'user-1', email: 'alice@example.com' }));
        } else {
          res.writeHead(401).end();
        }
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const iss = issuer ?? url;
  return {
    url,
    get tokenCalls() {
      return state.tokenCalls;
    },
    get userinfoCalls() {
      return state.userinfoCalls;
    },
    get script() {
      return state.script;
    },
    set script(next: TokenScript) {
      state.script = next;
    },
    idToken: async (claims = {}, options = {}) =>
      new SignJWT({ sub: 'user-1', email: 'alice@example.com', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'idp-key-1' })
        .setIssuer(iss)
        .setAudience(UPSTREAM_CLIENT_ID)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresIn ?? 3600))
        .sign(privateKey),
    unsignedJwt: (claims) =>
      [
        Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url'),
        Buffer.from(JSON.stringify(claims)).toString('base64url'),
        'sig',
      ].join('.'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** CIMD documents (and a client JWKS) served over HTTPS on loopback for `client.example`. */
export interface ClientDocuments {
  server: LoopbackHttpsServer;
  hooks: { oauthOutboundFetch: { resolver: (host: string) => Promise<string[]>; testOnly: { allowLoopback: true; connectPort: number; trustedCa: string } } };
  fetches: () => number;
  setJwks(jwks: unknown): void;
  close(): Promise<void>;
}

export async function startClientDocuments(): Promise<ClientDocuments> {
  const server = await startLoopbackHttpsServer([CLIENT_HOST]);
  let jwks: unknown = { keys: [] };
  server.setHandler((req, res) => {
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(JSON.stringify(body));
    if (req.url === '/oauth/client.json') {
      json({ client_id: CLIENT_ID, client_name: CLIENT_NAME, redirect_uris: [CLIENT_REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] });
    } else if (req.url === '/oauth/pkjwt.json') {
      json({ client_id: PKJWT_CLIENT_ID, client_name: 'Key client', redirect_uris: [CLIENT_REDIRECT], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `https://${CLIENT_HOST}/jwks.json` });
    } else if (req.url === '/jwks.json') {
      json(jwks);
    } else {
      res.writeHead(404).end();
    }
  });
  return {
    server,
    hooks: {
      oauthOutboundFetch: {
        resolver: async () => ['127.0.0.1'],
        testOnly: { allowLoopback: true, connectPort: server.port, trustedCa: server.certificatePem },
      },
    },
    fetches: () => server.requests.length,
    setJwks: (next) => {
      jwks = next;
    },
    close: () => server.close(),
  };
}

export interface BrokerGatewayOptions {
  idp: FakeIdp;
  documents: ClientDocuments;
  oauth?: Record<string, unknown>;
  server?: Record<string, unknown>;
}

/** A gateway with the broker on, pointed at the fake IdP and the real ClickHouse test server. */
export async function startBrokerGateway(options: BrokerGatewayOptions): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'broker-e2e-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(
    file,
    stringify({
      server: {
        oauth: {
          enabled: true,
          broker: true,
          issuer: options.idp.url,
          jwks_url: `${options.idp.url}/jwks`,
          client_id: UPSTREAM_CLIENT_ID,
          client_secret: UPSTREAM_CLIENT_SECRET,
          auth_url: `${options.idp.url}/authorize`,
          token_url: `${options.idp.url}/token`,
          userinfo_url: `${options.idp.url}/userinfo`,
          signing_secret: SIGNING_SECRET,
          public_resource_url: 'https://mcp.example.com',
          public_auth_server_url: 'https://mcp.example.com',
          scopes: ['openid', 'email'],
          consent: false,
          requests_per_minute: 0,
          ...options.oauth,
        },
        ...options.server,
      },
    }),
  );
  return startGateway(['--config', file, ...TEST_CLICKHOUSE_FLAGS], {}, options.documents.hooks);
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(gateway: TestGateway, params: Record<string, string>, path = 'oauth/authorize'): string {
  return `${gateway.url}${path}?${new URLSearchParams(params).toString()}`;
}

export function defaultAuthorizeParams(challenge: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    client_id: CLIENT_ID,
    redirect_uri: CLIENT_REDIRECT,
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'client-state',
    ...extra,
  };
}

export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
  });
}

/** Runs /authorize (consent off) and /callback; returns the downstream code and the PKCE verifier. */
export async function obtainCode(
  gateway: TestGateway,
  extra: Record<string, string> = {},
  upstreamCode = 'upstream-code',
  callbackGateway: TestGateway = gateway,
): Promise<{ code: string; verifier: string; location: URL }> {
  const { verifier, challenge } = pkcePair();
  const authorize = await fetch(authorizeUrl(gateway, defaultAuthorizeParams(challenge, extra)), { redirect: 'manual' });
  if (authorize.status !== 302) throw new Error(`authorize answered ${authorize.status}: ${await authorize.text()}`);
  const upstream = new URL(authorize.headers.get('location')!);
  const state = upstream.searchParams.get('state')!;
  const callback = await fetch(`${callbackGateway.url}oauth/callback?${new URLSearchParams({ state, code: upstreamCode })}`, { redirect: 'manual' });
  if (callback.status !== 302) throw new Error(`callback answered ${callback.status}: ${await callback.text()}`);
  const location = new URL(callback.headers.get('location')!);
  return { code: location.searchParams.get('code')!, verifier, location };
}

export function redeem(gateway: TestGateway, code: string, verifier: string, extra: Record<string, string> = {}): Promise<Response> {
  return postForm(`${gateway.url}oauth/token`, {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    client_id: CLIENT_ID,
    redirect_uri: CLIENT_REDIRECT,
    ...extra,
  });
}
