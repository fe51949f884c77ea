import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import { BearerVerifier, type BearerVerifierOptions } from './bearer-verifier.js';
import { authFailureResponse } from './protected-resource.js';

/**
 * Through the real parts: a JWKS / issuer-metadata HTTP server on 127.0.0.1, keys from `jose.generateKeyPair`, tokens
 * signed by `jose.SignJWT`, fetched with the default fetcher (real `fetch`).
 */

const RESOURCE = 'https://mcp.example.com';

interface TestIdp {
  server: Server;
  origin: string;
  /** Keys currently published. */
  published: JWK[];
  /** Requests seen, by path. */
  hits: string[];
  metadataIssuer?: string;
  /** The JWKS endpoint answers 500. */
  down?: boolean;
}

async function startIdp(): Promise<TestIdp> {
  const idp: TestIdp = { server: createServer(), origin: '', published: [], hits: [] };
  idp.server.on('request', (req, res) => {
    const path = req.url ?? '/';
    idp.hits.push(path);
    if (path === '/jwks' && idp.down) {
      res.writeHead(500).end('boom');
    } else if (path === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: idp.published }));
    } else if (path === '/.well-known/oauth-authorization-server/realm') {
      res.writeHead(404).end();
    } else if (path === '/.well-known/openid-configuration/realm') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ issuer: idp.metadataIssuer ?? `${idp.origin}/realm`, jwks_uri: `${idp.origin}/jwks` }));
    } else if (path === '/huge') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(`{"keys":[],"pad":"${'x'.repeat(2_000_000)}"}`);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => idp.server.listen(0, '127.0.0.1', resolve));
  idp.origin = `http://127.0.0.1:${(idp.server.address() as AddressInfo).port}`;
  return idp;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function makeKey(kid: string, alg: 'RS256' | 'ES256' = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, privateKey, publicJwk };
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('BearerVerifier against a local JWKS server', () => {
  let idp: TestIdp;
  let key: SigningKey;
  let issuer: string;

  beforeAll(async () => {
    idp = await startIdp();
    issuer = `${idp.origin}/realm`;
    key = await makeKey('k1');
  });
  afterAll(async () => {
    await new Promise((resolve) => idp.server.close(resolve));
  });
  beforeEach(() => {
    idp.published = [key.publicJwk];
    idp.hits = [];
    idp.metadataIssuer = undefined;
    idp.down = false;
  });

  const verifier = (overrides: Partial<BearerVerifierOptions['oauth']> = {}, extra: Partial<BearerVerifierOptions> = {}) =>
    new BearerVerifier({
      oauth: {
        issuer,
        jwks_url: `${idp.origin}/jwks`,
        audience: RESOURCE,
        public_resource_url: '',
        required_scopes: [],
        jwks_cache_ttl: 0,
        ...overrides,
      },
      ...extra,
    });

  const sign = (claims: JWTPayload = {}, signer: SigningKey = key, header: Record<string, unknown> = {}) => {
    const jwt = new SignJWT({ scope: 'openid email', ...claims }).setProtectedHeader({
      alg: 'RS256',
      kid: signer.kid,
      ...header,
    } as { alg: string });
    if (!('iss' in claims)) jwt.setIssuer(issuer);
    if (!('aud' in claims)) jwt.setAudience(RESOURCE);
    if (!('exp' in claims)) jwt.setExpirationTime('10m');
    if (!('iat' in claims)) jwt.setIssuedAt();
    return jwt.sign(signer.privateKey);
  };

  it('accepts a valid token and returns its claims and scopes', async () => {
    const result = await verifier().verify(await sign({ sub: 'alice' }));
    expect(result).toMatchObject({ ok: true, kind: 'jwt', claims: { sub: 'alice' }, scopes: ['openid', 'email'] });
  });

  it('accepts the trailing-slash variant of the audience, and an audience array containing it', async () => {
    expect((await verifier().verify(await sign({ aud: `${RESOURCE}/` }))).ok).toBe(true);
    expect((await verifier().verify(await sign({ aud: ['other', RESOURCE] }))).ok).toBe(true);
    const fromPublicUrl = verifier({ audience: '', public_resource_url: `${RESOURCE}/` });
    expect((await fromPublicUrl.verify(await sign())).ok).toBe(true);
  });

  it('explicit audiences (broker, issued_tokens upstream): the upstream client_id is accepted, this resource is not', async () => {
    const upstream = verifier({}, { audiences: ['client-123'] });
    expect((await upstream.verify(await sign({ aud: 'client-123' }))).ok).toBe(true);
    expect(await upstream.verify(await sign())).toEqual({ ok: false, reason: 'wrong_audience' });
    expect(() => verifier({}, { audiences: ['  ', ''] })).toThrow(/expected audience/);
  });

  it('refuses a wrong audience, a missing audience and a wrong issuer', async () => {
    expect(await verifier().verify(await sign({ aud: 'https://other.example.com' }))).toEqual({
      ok: false,
      reason: 'wrong_audience',
    });
    expect(await verifier().verify(await sign({ aud: `${RESOURCE}/mcp` }))).toEqual({ ok: false, reason: 'wrong_audience' });
    expect(await verifier().verify(await sign({ iss: `${issuer}/` }))).toEqual({ ok: false, reason: 'wrong_issuer' });
    expect(await verifier().verify(await sign({ iss: 'https://evil.example.com' }))).toEqual({
      ok: false,
      reason: 'wrong_issuer',
    });
  });

  it('refuses expired and not-yet-valid tokens, with a 60 s leeway either side', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await verifier().verify(await sign({ exp: now - 3600 }))).toEqual({ ok: false, reason: 'expired' });
    expect((await verifier().verify(await sign({ exp: now - 30 }))).ok).toBe(true);
    expect(await verifier().verify(await sign({ nbf: now + 3600 }))).toEqual({ ok: false, reason: 'not_yet_valid' });
    expect((await verifier().verify(await sign({ nbf: now + 30 }))).ok).toBe(true);
  });

  it('refuses an iat beyond the 60 s leeway in the future (as altinity-mcp\'s validator), accepts one inside it', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await verifier().verify(await sign({ iat: now + 3600 }))).toEqual({ ok: false, reason: 'not_yet_valid' });
    expect((await verifier().verify(await sign({ iat: now + 30 }))).ok).toBe(true);
  });

  it('refuses a token without exp (access tokens must expire)', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience(RESOURCE)
      .sign(key.privateKey);
    expect(await verifier().verify(token)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('refuses a tampered payload and a token signed by a key the issuer does not publish under that kid', async () => {
    const token = await sign({ sub: 'alice' });
    const [header, , signature] = token.split('.');
    const forgedPayload = b64({ sub: 'admin', iss: issuer, aud: RESOURCE, exp: Math.floor(Date.now() / 1000) + 600 });
    expect(await verifier().verify(`${header}.${forgedPayload}.${signature}`)).toEqual({ ok: false, reason: 'bad_signature' });
    const impostor = { ...(await makeKey('k1')) };
    expect(await verifier().verify(await sign({}, impostor))).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses alg none and HS256 keyed with the published public key, without fetching keys', async () => {
    const claims = { iss: issuer, aud: RESOURCE, exp: Math.floor(Date.now() / 1000) + 600, scope: 'openid' };
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    const noneSigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.c2ln`;
    const hsInput = `${b64({ alg: 'HS256', kid: 'k1' })}.${b64(claims)}`;
    const hmacWithPublicKey = `${hsInput}.${createHmac('sha256', JSON.stringify(key.publicJwk)).update(hsInput).digest('base64url')}`;
    const v = verifier();
    expect(await v.verify(none)).toEqual({ ok: false, reason: 'malformed' });
    expect(await v.verify(noneSigned)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(await v.verify(hmacWithPublicKey)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(idp.hits).toEqual([]);
  });

  it('unknown kid: one refetch, then unknown_kid; a second unknown kid within the cooldown does not refetch', async () => {
    const v = verifier();
    expect((await v.verify(await sign())).ok).toBe(true);
    expect(idp.hits).toEqual(['/jwks']);
    const stranger = await makeKey('k-unknown');
    expect(await v.verify(await sign({}, stranger))).toEqual({ ok: false, reason: 'unknown_kid' });
    expect(idp.hits).toEqual(['/jwks', '/jwks']);
    expect(await v.verify(await sign({}, await makeKey('k-other')))).toEqual({ ok: false, reason: 'unknown_kid' });
    expect(idp.hits).toEqual(['/jwks', '/jwks']);
  });

  it('key rotation: a new kid published after caching verifies after the one refetch', async () => {
    const v = verifier();
    expect((await v.verify(await sign())).ok).toBe(true);
    const rotated = await makeKey('k2', 'ES256');
    idp.published = [key.publicJwk, rotated.publicJwk];
    expect((await v.verify(await sign({}, rotated, { alg: 'ES256' }))).ok).toBe(true);
    expect(idp.hits).toEqual(['/jwks', '/jwks']);
  });

  it('caches the key set for jwks_cache_ttl (with jitter) and refetches after it', async () => {
    let clock = Date.now();
    const v = verifier({ jwks_cache_ttl: 100 }, { now: () => clock });
    const token = await sign();
    await v.verify(token);
    await v.verify(token);
    clock += 89_000; // below the lowest jittered TTL (90 s)
    await v.verify(token);
    expect(idp.hits).toEqual(['/jwks']);
    clock += 22_000; // beyond the highest (110 s)
    await v.verify(token);
    expect(idp.hits).toEqual(['/jwks', '/jwks']);
  });

  it('tries every key when the token has no kid', async () => {
    const other = await makeKey('k0');
    idp.published = [other.publicJwk, key.publicJwk];
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer(issuer)
      .setAudience(RESOURCE)
      .setExpirationTime('5m')
      .sign(key.privateKey);
    expect((await verifier().verify(token)).ok).toBe(true);
  });

  it('required_scopes: all must be granted (scope string or scp array), else insufficient_scope', async () => {
    const v = verifier({ required_scopes: ['openid', 'clickhouse:read'] });
    expect(await v.verify(await sign({ scope: 'openid' }))).toEqual({ ok: false, reason: 'insufficient_scope' });
    expect(await v.verify(await sign({ scope: undefined }))).toEqual({ ok: false, reason: 'insufficient_scope' });
    expect((await v.verify(await sign({ scope: 'openid clickhouse:read' }))).ok).toBe(true);
    expect((await v.verify(await sign({ scope: undefined, scp: ['clickhouse:read', 'openid'] }))).ok).toBe(true);
    expect(await v.verify(await sign({ scope: 42 }))).toEqual({ ok: false, reason: 'malformed' });
  });

  it('opaque bearers are refused by default and soft-passed only with the explicit option', async () => {
    expect(await verifier().verify('opaque-access-token')).toEqual({ ok: false, reason: 'opaque' });
    expect(await verifier().verify('head.!!notbase64!!.sig')).toEqual({ ok: false, reason: 'opaque' });
    expect(await verifier({}, { allowOpaqueTokens: true }).verify('opaque-access-token')).toEqual({ ok: true, kind: 'opaque' });
    // The option never softens a JWT: a bad JWT is still refused.
    const soft = verifier({}, { allowOpaqueTokens: true });
    expect(await soft.verify(await sign({ aud: 'https://other.example.com' }))).toEqual({ ok: false, reason: 'wrong_audience' });
    expect(idp.hits).toEqual(['/jwks']);
  });

  it('discovers the JWKS from the issuer metadata (RFC 8414 4xx → OIDC), checking the metadata issuer', async () => {
    const v = verifier({ jwks_url: '' });
    expect((await v.verify(await sign())).ok).toBe(true);
    expect(idp.hits).toEqual(['/.well-known/oauth-authorization-server/realm', '/.well-known/openid-configuration/realm', '/jwks']);

    idp.metadataIssuer = 'https://evil.example.com/realm';
    expect(await verifier({ jwks_url: '' }).verify(await sign())).toEqual({ ok: false, reason: 'keys_unavailable' });
  });

  it('keys_unavailable when the JWKS is unreachable, too large or not a key set; maps to 503 without a challenge', async () => {
    expect(await verifier({ jwks_url: 'http://127.0.0.1:1/jwks' }).verify(await sign())).toEqual({
      ok: false,
      reason: 'keys_unavailable',
    });
    expect(await verifier({ jwks_url: `${idp.origin}/huge` }).verify(await sign())).toEqual({
      ok: false,
      reason: 'keys_unavailable',
    });
    expect(await verifier({ jwks_url: `${idp.origin}/nope` }).verify(await sign())).toEqual({
      ok: false,
      reason: 'keys_unavailable',
    });
    // http on a non-loopback host is refused before any connection is attempted.
    expect(await verifier({ jwks_url: 'http://idp.example.com/jwks' }).verify(await sign())).toEqual({
      ok: false,
      reason: 'keys_unavailable',
    });
    const response = authFailureResponse('keys_unavailable', {
      resourceMetadataUrl: `${RESOURCE}/.well-known/oauth-protected-resource`,
      oauth: { required_scopes: [], scopes: [] },
    });
    expect(response.status).toBe(503);
    expect(response.headers['WWW-Authenticate']).toBeUndefined();
  });

  it('IdP outage: keys already fetched stay in use; without any, callers fail fast until the back-off ends', async () => {
    let clock = Date.now();
    const cached = verifier({ jwks_cache_ttl: 10 }, { now: () => clock, failureBackoffMs: 5_000 });
    const token = await sign();
    expect((await cached.verify(token)).ok).toBe(true);
    idp.down = true;
    clock += 20_000;
    expect((await cached.verify(token)).ok).toBe(true);
    expect((await cached.verify(token)).ok).toBe(true);
    expect(idp.hits).toEqual(['/jwks', '/jwks']);

    idp.hits = [];
    const cold = verifier({}, { now: () => clock });
    expect(await cold.verify(token)).toEqual({ ok: false, reason: 'keys_unavailable' });
    expect(await cold.verify(token)).toEqual({ ok: false, reason: 'keys_unavailable' });
    expect(idp.hits).toEqual(['/jwks']);
    idp.down = false;
    clock += 6_000;
    expect((await cold.verify(token)).ok).toBe(true);
  });

  it('refuses construction without an issuer or a fixed audience (never derived from the Host header)', () => {
    expect(() => verifier({ issuer: '' })).toThrow(/oauth.issuer/);
    expect(() => verifier({ audience: '', public_resource_url: '' })).toThrow(/oauth.audience or oauth.public_resource_url/);
  });

  it('malformed JWS inputs never throw', async () => {
    const v = verifier();
    const inputs = ['', '.', '..', 'a.b.c', `${b64({ alg: 'RS256' })}..`, `${b64({ alg: 'RS256' })}.e30.`, `${b64({ typ: 'JWT' })}.e30.c2ln`,
      `${b64({ alg: 'RS256', kid: 'k1' })}.bm90LWpzb24.c2ln`, `${b64({ alg: 'RS256', kid: 'k1' })}.e30.c2ln`];
    for (const input of inputs) {
      const result = await v.verify(input);
      expect(result.ok, input).toBe(false);
    }
  });
});
