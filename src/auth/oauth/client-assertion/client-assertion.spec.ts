import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoopbackHttpsServer, type LoopbackHttpsServer } from '../../../../test/auth/oauth/loopback-https-server.js';
import type { DocumentFetcher } from '../cimd/cimd-resolver.js';
import { SafeFetchError, SsrfBlockedError, type SafeFetchResponse } from '../ssrf/ssrf-safe-fetcher.js';
import { ClientAssertionError, ClientAssertionVerifier, audienceMatches, selectJwk } from './client-assertion.js';
import { JwksCache, createJwksFetcher } from './jwks-cache.js';
import {
  CLIENT_ASSERTION_FOR_PUBLIC_CLIENT,
  CLIENT_ASSERTION_REQUIRED,
  CLIENT_ASSERTION_TYPE_NOT_JWT_BEARER,
  UNSUPPORTED_CLIENT_AUTH_METHOD,
  authenticateTokenClient,
} from './token-client-auth.js';

const CLIENT_ID = 'https://client.example/oauth/client.json';
const JWKS_URI = 'https://client.example/jwks.json';
const TOKEN_URL = 'https://mcp.example.com/oauth/token';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const NOW_MS = 1_800_000_000_000;
const NOW = NOW_MS / 1000;

interface SigningKey {
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function signingKey(alg: string, kid: string, extra: Partial<JWK> = { use: 'sig' }): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, ...extra } };
}

function assertion(key: SigningKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.publicJwk.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

const goodClaims = (overrides: JWTPayload = {}): JWTPayload => ({
  iss: CLIENT_ID,
  sub: CLIENT_ID,
  aud: TOKEN_URL,
  exp: NOW + 120,
  iat: NOW,
  jti: 'jti-1',
  ...overrides,
});

/** A stub fetcher serving a key set that the test can change, counting fetches. */
function stubJwks(initial: JWK[], cacheControl?: string) {
  const state = { keys: initial, calls: 0, error: undefined as Error | undefined };
  const fetcher: DocumentFetcher = {
    fetch: async () => {
      state.calls += 1;
      if (state.error) throw state.error;
      const response: SafeFetchResponse = {
        status: 200,
        headers: cacheControl === undefined ? {} : { 'cache-control': cacheControl },
        body: Buffer.from(JSON.stringify({ keys: state.keys })),
        remoteAddress: '93.184.216.34',
      };
      return response;
    },
  };
  let now = NOW_MS;
  const jwks = new JwksCache({ fetcher, now: () => now });
  const verifier = new ClientAssertionVerifier({ jwks, now: () => now });
  return { state, verifier, jwks, advance: (ms: number) => (now += ms) };
}

async function refusal(promise: Promise<unknown>, detail: string | RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ClientAssertionError);
  expect((error as ClientAssertionError).message).toMatch(/^client_assertion invalid: /);
  if (typeof detail === 'string') expect((error as ClientAssertionError).detail).toBe(detail);
  else expect((error as ClientAssertionError).detail).toMatch(detail);
}

let rsa: SigningKey;
let es: SigningKey;
let other: SigningKey;

beforeAll(async () => {
  rsa = await signingKey('RS256', 'rsa-1');
  es = await signingKey('ES256', 'es-1');
  other = await signingKey('RS256', 'rsa-1'); // same kid, different key: a forger's
});

const input = (token: string) => ({ assertion: token, clientId: CLIENT_ID, jwksUri: JWKS_URI, tokenEndpointUrl: TOKEN_URL });

describe('ClientAssertionVerifier (spec §2.8, §5 vector 58)', () => {
  it('accepts the happy case for every allowed algorithm family', async () => {
    const keys = await Promise.all(
      (['RS256', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const).map((alg, i) => signingKey(alg, `k${i}`)),
    );
    const { verifier } = stubJwks(keys.map((key) => key.publicJwk));
    for (const key of keys) {
      await expect(verifier.verify(input(await assertion(key, goodClaims())))).resolves.toMatchObject({ iss: CLIENT_ID, jti: 'jti-1' });
    }
  });

  it('refuses wrong iss, wrong sub, and each wrong audience', async () => {
    const { verifier } = stubJwks([rsa.publicJwk]);
    await refusal(verifier.verify(input(await assertion(rsa, goodClaims({ iss: 'https://attacker.example/c.json' })))), 'iss must be the client_id');
    await refusal(verifier.verify(input(await assertion(rsa, goodClaims({ sub: 'someone-else' })))), 'sub must be the client_id');
    for (const aud of ['https://mcp.example.com', `${TOKEN_URL}/`, [], ['https://attacker.example/token']]) {
      await refusal(verifier.verify(input(await assertion(rsa, goodClaims({ aud })))), 'aud must contain the token endpoint URL');
    }
    await expect(verifier.verify(input(await assertion(rsa, goodClaims({ aud: ['other', TOKEN_URL, 'third'] }))))).resolves.toBeDefined();
  });

  it('time claims: 60 s leeway, each optional, 10 minute cap on exp - iat', async () => {
    const { verifier } = stubJwks([rsa.publicJwk]);
    const verify = async (claims: JWTPayload) => verifier.verify(input(await assertion(rsa, claims)));
    await refusal(verify(goodClaims({ exp: NOW - 120, iat: NOW - 200 })), 'the assertion has expired');
    await expect(verify(goodClaims({ exp: NOW - 30, iat: NOW - 100 }))).resolves.toBeDefined();
    await refusal(verify(goodClaims({ nbf: NOW + 61 })), 'the assertion is not valid yet (nbf)');
    await expect(verify(goodClaims({ nbf: NOW + 60 }))).resolves.toBeDefined();
    await refusal(verify(goodClaims({ iat: NOW + 61, exp: NOW + 200 })), 'the assertion is issued in the future (iat)');
    await refusal(verify(goodClaims({ iat: NOW, exp: NOW + 11 * 60 })), 'the assertion lives longer than 10 minutes');
    await expect(verify(goodClaims({ iat: NOW, exp: NOW + 10 * 60 }))).resolves.toBeDefined();
    await expect(verify({ iss: CLIENT_ID, sub: CLIENT_ID, aud: TOKEN_URL })).resolves.toBeDefined();
    await refusal(verify({ ...goodClaims(), exp: `${NOW + 60}` as unknown as number }), 'exp must be a number');
  });

  it('refuses a tampered signature and a token signed by another key with the same kid', async () => {
    const { verifier } = stubJwks([rsa.publicJwk]);
    const token = await assertion(rsa, goodClaims());
    const [head, body, signature] = token.split('.') as [string, string, string];
    const tamperedBody = Buffer.from(JSON.stringify({ ...goodClaims(), jti: 'other' })).toString('base64url');
    await refusal(verifier.verify(input(`${head}.${tamperedBody}.${signature}`)), 'the signature does not verify');
    await refusal(verifier.verify(input(`${head}.${body}.${signature.slice(0, -4)}AAAA`)), 'the signature does not verify');
    await refusal(verifier.verify(input(await assertion(other, goodClaims()))), 'the signature does not verify');
  });

  it('refuses HMAC, none, and an HS256 token keyed with the public key', async () => {
    const { verifier } = stubJwks([rsa.publicJwk]);
    const hs = await new SignJWT(goodClaims()).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(new TextEncoder().encode(JSON.stringify(rsa.publicJwk)));
    await refusal(verifier.verify(input(hs)), 'the signature algorithm is not allowed');
    const none = `${Buffer.from('{"alg":"none","kid":"rsa-1"}').toString('base64url')}.${Buffer.from(JSON.stringify(goodClaims())).toString('base64url')}.`;
    await refusal(verifier.verify(input(none)), 'the assertion is not a compact JWS');
    const noneSigned = `${none}AAAA`;
    await refusal(verifier.verify(input(noneSigned)), 'the signature algorithm is not allowed');
  });

  it('refuses header-embedded keys (jwk, jku, x5u)', async () => {
    const { verifier } = stubJwks([rsa.publicJwk]);
    for (const header of [{ jwk: rsa.publicJwk }, { jku: 'https://attacker.example/jwks' }, { x5u: 'https://attacker.example/x5' }]) {
      await refusal(verifier.verify(input(await assertion(rsa, goodClaims(), header))), /not accepted/);
    }
  });

  it('missing jwks_uri, empty or malformed assertion', async () => {
    const { verifier, state } = stubJwks([rsa.publicJwk]);
    const token = await assertion(rsa, goodClaims());
    await refusal(verifier.verify({ ...input(token), jwksUri: undefined }), 'the client document has no jwks_uri');
    await refusal(verifier.verify({ ...input(token), jwksUri: '' }), 'the client document has no jwks_uri');
    await refusal(verifier.verify(input('')), 'the assertion is empty');
    for (const junk of ['a.b', 'a.b.c.d', 'not a jwt', `${'A'.repeat(17_000)}.b.c`, '!!.??.**']) {
      await refusal(verifier.verify(input(junk)), 'the assertion is not a compact JWS');
    }
    await refusal(verifier.verify(input('AAAA.AAAA.AAAA')), 'the assertion header does not decode');
    expect(state.calls).toBe(0);
  });

  it('an unknown kid refetches once, then fails with the key in the text', async () => {
    const { verifier, state } = stubJwks([es.publicJwk]);
    await refusal(verifier.verify(input(await assertion(rsa, goodClaims()))), 'no matching key for kid="rsa-1" alg="RS256"');
    expect(state.calls).toBe(2);
  });

  it('a rotated key is found by the one refetch', async () => {
    const { verifier, state } = stubJwks([es.publicJwk], 'max-age=3600');
    await expect(verifier.verify(input(await assertion(es, goodClaims())))).resolves.toBeDefined();
    state.keys = [es.publicJwk, rsa.publicJwk];
    await expect(verifier.verify(input(await assertion(rsa, goodClaims())))).resolves.toBeDefined();
    expect(state.calls).toBe(2);
    await expect(verifier.verify(input(await assertion(rsa, goodClaims())))).resolves.toBeDefined();
    expect(state.calls).toBe(2);
  });

  it('a key whose alg differs from the header is not used to verify', async () => {
    const ps = { ...rsa.publicJwk, alg: 'PS256' };
    const { verifier } = stubJwks([ps]);
    await refusal(verifier.verify(input(await assertion(rsa, goodClaims()))), 'the key is not for this algorithm');
  });

  it('caches the key set by Cache-Control and never caches failures', async () => {
    const cached = stubJwks([rsa.publicJwk], 'max-age=60');
    const token = await assertion(rsa, goodClaims({ exp: NOW + 500, iat: NOW }));
    await cached.verifier.verify(input(token));
    await cached.verifier.verify(input(token));
    expect(cached.state.calls).toBe(1);
    cached.advance(61_000);
    await cached.verifier.verify(input(token));
    expect(cached.state.calls).toBe(2);

    const noStore = stubJwks([rsa.publicJwk], 'no-store');
    await noStore.verifier.verify(input(token));
    await noStore.verifier.verify(input(token));
    expect(noStore.state.calls).toBe(2);

    const failing = stubJwks([rsa.publicJwk]);
    failing.state.error = new SafeFetchError('status', 'the server answered 500');
    await refusal(failing.verifier.verify(input(token)), 'jwks fetch failed: the key set could not be fetched');
    failing.state.error = new SsrfBlockedError('client.example', '169.254.169.254', 'link-local');
    await refusal(failing.verifier.verify(input(token)), 'jwks fetch failed: the key set could not be fetched');
    failing.state.error = undefined;
    await expect(failing.verifier.verify(input(token))).resolves.toBeDefined();
    expect(failing.state.calls).toBe(3);
  });

  it('an empty or missing keys array is a fetch failure, not cached', async () => {
    const { verifier, state } = stubJwks([]);
    const token = await assertion(rsa, goodClaims());
    await refusal(verifier.verify(input(token)), 'jwks fetch failed: the key set has no keys');
    await refusal(verifier.verify(input(token)), 'jwks fetch failed: the key set has no keys');
    expect(state.calls).toBe(2);
  });
});

describe('selectJwk and audienceMatches', () => {
  it('a kid pointing at a use:enc key selects nothing; without kid the sig key is chosen', () => {
    const enc: JWK = { kty: 'RSA', kid: 'k', use: 'enc', n: 'x', e: 'AQAB' };
    const sig: JWK = { kty: 'RSA', kid: 'k2', use: 'sig', n: 'y', e: 'AQAB' };
    expect(selectJwk([enc, sig], { kid: 'k', alg: 'RS256' })).toBeUndefined();
    expect(selectJwk([enc, sig], { alg: 'RS256' })).toBe(sig);
    expect(selectJwk([{ ...sig, alg: 'ES256' }], { alg: 'RS256' })).toBeUndefined();
    expect(selectJwk([{ ...sig, d: 'secret' }], { kid: 'k2', alg: 'RS256' })).toBeUndefined();
    expect(selectJwk([{ kty: 'oct', kid: 'h', k: 'abc' }], { kid: 'h', alg: 'RS256' })).toBeUndefined();
  });

  it('audience: an exact entry only', () => {
    expect(audienceMatches([TOKEN_URL], TOKEN_URL)).toBe(true);
    expect(audienceMatches(['other', TOKEN_URL, 'third'], TOKEN_URL)).toBe(true);
    expect(audienceMatches(TOKEN_URL, TOKEN_URL)).toBe(true);
    for (const aud of [['https://mcp.example.com'], [`${TOKEN_URL}/`], [], ['attacker'], undefined, 42]) {
      expect(audienceMatches(aud, TOKEN_URL)).toBe(false);
    }
  });
});

describe('authenticateTokenClient (spec §2.5 token step 3)', () => {
  const pkjClient = { clientId: CLIENT_ID, tokenEndpointAuthMethod: 'private_key_jwt' as const, jwksUri: JWKS_URI };
  const publicClient = { clientId: CLIENT_ID, tokenEndpointAuthMethod: 'none' as const };

  it('public clients: no assertion passes, any assertion field is refused', async () => {
    const { verifier } = stubJwks([rsa.publicJwk]);
    const options = { verifier, tokenEndpointUrl: TOKEN_URL };
    expect(await authenticateTokenClient(publicClient, {}, options)).toEqual({ ok: true, method: 'none', assertionVerified: false });
    for (const credentials of [{ clientAssertion: 'x' }, { clientAssertionType: JWT_BEARER }]) {
      expect(await authenticateTokenClient(publicClient, credentials, options)).toMatchObject({
        ok: false,
        status: 401,
        error: 'invalid_client',
        description: CLIENT_ASSERTION_FOR_PUBLIC_CLIENT,
      });
    }
  });

  it('private_key_jwt: type check, verification, and the no-assertion rule (strict by default, Go lenient as option)', async () => {
    const { verifier } = stubJwks([rsa.publicJwk]);
    const options = { verifier, tokenEndpointUrl: TOKEN_URL };
    const token = await assertion(rsa, goodClaims());
    expect(await authenticateTokenClient(pkjClient, { clientAssertion: token, clientAssertionType: JWT_BEARER }, options)).toEqual({
      ok: true,
      method: 'private_key_jwt',
      assertionVerified: true,
    });
    expect(await authenticateTokenClient(pkjClient, { clientAssertion: token, clientAssertionType: 'urn:other' }, options)).toMatchObject({
      description: CLIENT_ASSERTION_TYPE_NOT_JWT_BEARER,
    });
    expect(await authenticateTokenClient(pkjClient, { clientAssertion: token }, options)).toMatchObject({ description: CLIENT_ASSERTION_TYPE_NOT_JWT_BEARER });
    const bad = await authenticateTokenClient(pkjClient, { clientAssertion: await assertion(other, goodClaims()), clientAssertionType: JWT_BEARER }, options);
    expect(bad).toMatchObject({ ok: false, status: 401, description: 'client_assertion invalid', detail: 'the signature does not verify' });
    expect(await authenticateTokenClient(pkjClient, {}, options)).toMatchObject({ ok: false, description: CLIENT_ASSERTION_REQUIRED });
    expect(await authenticateTokenClient(pkjClient, {}, { ...options, lenientPrivateKeyJwt: true })).toEqual({
      ok: true,
      method: 'private_key_jwt',
      assertionVerified: false,
    });
  });

  it('any other method is refused', async () => {
    const { verifier } = stubJwks([]);
    const client = { clientId: CLIENT_ID, tokenEndpointAuthMethod: 'client_secret_post' as never };
    expect(await authenticateTokenClient(client, {}, { verifier, tokenEndpointUrl: TOKEN_URL })).toMatchObject({
      description: UNSUPPORTED_CLIENT_AUTH_METHOD,
    });
  });
});

describe('JWKS through the real SSRF-safe fetcher (loopback HTTPS)', () => {
  let server: LoopbackHttpsServer;
  beforeAll(async () => {
    server = await startLoopbackHttpsServer(['keys.test']);
  });
  afterAll(async () => {
    await server.close();
  });

  const verifierFor = (addresses: string[], allowLoopback: boolean) =>
    new ClientAssertionVerifier({
      jwks: new JwksCache({
        fetcher: createJwksFetcher({
          resolver: async () => addresses,
          testOnly: allowLoopback ? { allowLoopback: true, connectPort: server.port, trustedCa: server.certificatePem } : undefined,
        }),
      }),
    });

  it('verifies with keys served over TLS, and refuses oversized or non-JSON key sets', async () => {
    const jwksUri = 'https://keys.test/jwks.json';
    const token = await new SignJWT({ iss: CLIENT_ID, sub: CLIENT_ID, aud: TOKEN_URL, exp: Math.floor(Date.now() / 1000) + 60 })
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
      .sign(rsa.privateKey);
    const real = { assertion: token, clientId: CLIENT_ID, jwksUri, tokenEndpointUrl: TOKEN_URL };

    server.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ keys: [rsa.publicJwk] }));
    });
    await expect(verifierFor(['127.0.0.1'], true).verify(real)).resolves.toMatchObject({ sub: CLIENT_ID });
    expect(server.requests.at(-1)).toMatchObject({ host: 'keys.test', servername: 'keys.test', path: '/jwks.json' });

    server.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [rsa.publicJwk], pad: 'x'.repeat(70_000) }));
    });
    await refusal(verifierFor(['127.0.0.1'], true).verify(real), 'jwks fetch failed: the key set could not be fetched');

    server.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' }).end(JSON.stringify({ keys: [rsa.publicJwk] }));
    });
    await refusal(verifierFor(['127.0.0.1'], true).verify(real), 'jwks fetch failed: the key set could not be fetched');
  });

  it('a jwks_uri host resolving to a blocked address is never dialled (vector 56)', async () => {
    const before = server.requests.length;
    const real = { assertion: await assertion(rsa, goodClaims()), clientId: CLIENT_ID, jwksUri: 'https://keys.test/jwks.json', tokenEndpointUrl: TOKEN_URL };
    await refusal(verifierFor(['169.254.169.254'], true).verify(real), 'jwks fetch failed: the key set could not be fetched');
    await refusal(verifierFor(['127.0.0.1'], false).verify(real), 'jwks fetch failed: the key set could not be fetched');
    expect(server.requests.length).toBe(before);
  });
});
