import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/**
 * Test support: an identity provider on 127.0.0.1 (http on loopback passes the issuer https rule) with OIDC
 * discovery and a JWKS of keys from `jose.generateKeyPair`. It signs access tokens for the OAuth e2e specs and
 * counts the requests it serves, so "the JWKS is cached" is observed, not assumed.
 */
export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface TokenOptions {
  key?: SigningKey;
  /** Header fields on top of `{alg, kid}`. */
  header?: Record<string, unknown>;
  /** Defaults: iss = the issuer, aud = `audience`, exp = +10 min, iat = now. `undefined` values drop the claim. */
  claims?: JWTPayload & Record<string, unknown>;
}

export interface TestIdp {
  readonly issuer: string;
  readonly jwksUrl: string;
  /** The published key; `stranger` signs with an unpublished key under the same kid. */
  readonly key: SigningKey;
  readonly stranger: SigningKey;
  /** Paths requested, in order. */
  readonly hits: string[];
  sign(audience: string, options?: TokenOptions): Promise<string>;
  /** Verifies like a ch-jwt-verify sidecar configured for this IdP would (signature + issuer). */
  verify(token: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

async function makeKey(kid: string, alg: 'RS256' | 'ES256' = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export async function startTestIdp(): Promise<TestIdp> {
  const key = await makeKey('idp-key-1');
  const stranger = await makeKey('idp-key-1');
  const hits: string[] = [];
  let issuer = '';
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.push(path);
    if (path === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    } else if (path === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [key.publicJwk] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const localKeys = createLocalJWKSet({ keys: [key.publicJwk] });

  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    key,
    stranger,
    hits,
    async sign(audience, options = {}) {
      const signer = options.key ?? key;
      const now = Math.floor(Date.now() / 1000);
      const claims: Record<string, unknown> = { iss: issuer, aud: audience, iat: now, exp: now + 600, ...options.claims };
      for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
      return new SignJWT(claims).setProtectedHeader({ alg: signer.alg, kid: signer.kid, ...options.header } as { alg: string }).sign(signer.privateKey);
    },
    async verify(token) {
      return (await jwtVerify(token, localKeys, { issuer, clockTolerance: 60 })).payload as Record<string, unknown>;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
