import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CompactEncrypt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { deriveJweKey, mintJweToken } from '../../jwe/jwe-token.js';
import {
  ARTIFACT_KEY_ID,
  AUTH_CODE_LABEL,
  PENDING_AUTH_LABEL,
  deriveArtifactKey,
  pkceS256Challenge,
} from './artifact-keys.js';
import {
  decodeAuthCode,
  decodePendingAuth,
  encodeAuthCode,
  encodePendingAuth,
  type AuthCode,
  type PendingAuth,
} from './broker-artifacts.js';
import { decodeOAuthArtifact, encodeOAuthArtifact, OAuthArtifactError, type ArtifactFailure } from './oauth-artifact.js';

const SECRET = 'regression-hkdf-secret-32-bytes!';
const NOW = 1_800_000_000;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

const PENDING: PendingAuth = {
  clientId: 'https://client.example/oauth/client.json',
  redirectUri: 'https://client.example/cb?x=1',
  scope: 'openid email',
  clientState: 'client-state',
  codeChallenge: pkceS256Challenge('client-verifier'),
  codeChallengeMethod: 'S256',
  resource: 'https://mcp.example.com/',
  upstreamPkceVerifier: 'u'.repeat(43),
};

const CODE: AuthCode = {
  clientId: PENDING.clientId,
  redirectUri: PENDING.redirectUri,
  scope: PENDING.scope,
  codeChallenge: PENDING.codeChallenge,
  codeChallengeMethod: 'S256',
  resource: PENDING.resource,
  upstreamAuthCode: 'upstream-code',
  upstreamPkceVerifier: PENDING.upstreamPkceVerifier,
};

async function refusal(promise: Promise<unknown>, failure: ArtifactFailure): Promise<OAuthArtifactError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(OAuthArtifactError);
  expect((error as OAuthArtifactError).failure).toBe(failure);
  return error as OAuthArtifactError;
}

/** Re-encrypts arbitrary claims under the real HKDF key, the way a Go replica (or a bug) might have. */
function mintRaw(claims: unknown, label: string, header: Record<string, string> = {}, secret = SECRET): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'A256KW', cty: 'JSON', enc: 'A256GCM', kid: 'v1', typ: 'JWE', ...header })
    .encrypt(deriveArtifactKey(secret, label));
}

describe('artifact keys (spec Appendix A)', () => {
  it('HKDF-SHA256, empty salt, L=32 gives the Go bytes for both labels', () => {
    expect(hex(deriveArtifactKey(SECRET, PENDING_AUTH_LABEL))).toBe('af26a92cc9104d8be251614711ac336a80541ed3af24eaabaaaf5909806b5786');
    expect(hex(deriveArtifactKey(SECRET, AUTH_CODE_LABEL))).toBe('c24d34df10acdf0d88de748a31b3c835bd60b28fbcea2bdc195c4cf9b5d181cc');
  });

  it('trims surrounding white space as Go TrimSpace does (U+0085 yes, BOM no)', () => {
    const key = hex(deriveArtifactKey(SECRET, PENDING_AUTH_LABEL));
    expect(hex(deriveArtifactKey(` \t${SECRET}\n\u0085\u3000`, PENDING_AUTH_LABEL))).toBe(key);
    expect(hex(deriveArtifactKey(`\uFEFF${SECRET}`, PENDING_AUTH_LABEL))).not.toBe(key);
    expect(hex(deriveArtifactKey(`${SECRET.slice(0, 5)} ${SECRET.slice(5)}`, PENDING_AUTH_LABEL))).not.toBe(key);
  });

  it('PKCE S256 vectors', () => {
    expect(pkceS256Challenge('test-verifier')).toBe('JBbiqONGWPaAmwXk_8bT6UnlPfrn65D32eZlJS-zGG0');
    expect(pkceS256Challenge('')).toBe('47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU');
  });
});

describe('pending-auth and auth-code artifacts (spec §2.6, §5 vectors 47-49)', () => {
  it('pending-auth round trip keeps every field; header and claim set are exactly Go', async () => {
    const token = await encodePendingAuth(PENDING, SECRET, { nowSeconds: NOW });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'A256KW', cty: 'JSON', enc: 'A256GCM', kid: ARTIFACT_KEY_ID, typ: 'JWE' });
    expect(await decodePendingAuth(token, SECRET, { nowSeconds: NOW })).toEqual({ ...PENDING, exp: NOW + 600 });
    const claims = await decodeOAuthArtifact(token, SECRET, PENDING_AUTH_LABEL, { nowSeconds: NOW });
    expect(Object.keys(claims)).toEqual([
      'client_id', 'redirect_uri', 'scope', 'client_state', 'code_challenge', 'code_challenge_method', 'resource',
      'upstream_pkce_verifier', 'exp',
    ]);
  });

  it('auth-code round trip keeps every field and lives 60 s', async () => {
    const token = await encodeAuthCode(CODE, SECRET, { nowSeconds: NOW });
    expect(await decodeAuthCode(token, SECRET, { nowSeconds: NOW })).toEqual({ ...CODE, exp: NOW + 60 });
    const claims = await decodeOAuthArtifact(token, SECRET, AUTH_CODE_LABEL, { nowSeconds: NOW });
    expect(Object.keys(claims)).toEqual([
      'client_id', 'redirect_uri', 'scope', 'code_challenge', 'code_challenge_method', 'resource', 'upstream_auth_code',
      'upstream_pkce_verifier', 'exp',
    ]);
  });

  it('empty fields are still written and read back as ""', async () => {
    const empty = { ...PENDING, clientState: '', resource: '', scope: '' };
    const token = await encodePendingAuth(empty, SECRET, { nowSeconds: NOW });
    const claims = await decodeOAuthArtifact(token, SECRET, PENDING_AUTH_LABEL, { nowSeconds: NOW });
    expect(claims).toMatchObject({ client_state: '', resource: '', scope: '' });
    expect(await decodePendingAuth(token, SECRET, { nowSeconds: NOW })).toMatchObject({ clientState: '', resource: '' });
  });

  it('a missing or non-string claim decodes to "" (Go reads strings by name)', async () => {
    const token = await mintRaw({ client_id: 42, redirect_uri: null, exp: NOW + 10 }, AUTH_CODE_LABEL);
    const code = await decodeAuthCode(token, SECRET, { nowSeconds: NOW });
    expect(code).toMatchObject({ clientId: '', redirectUri: '', upstreamAuthCode: '', exp: NOW + 10 });
  });

  it('a pending-auth does not open as an auth code, nor the reverse (independent keys)', async () => {
    const pending = await encodePendingAuth(PENDING, SECRET, { nowSeconds: NOW });
    const code = await encodeAuthCode(CODE, SECRET, { nowSeconds: NOW });
    await refusal(decodeAuthCode(pending, SECRET, { nowSeconds: NOW }), 'wrong_key');
    await refusal(decodePendingAuth(code, SECRET, { nowSeconds: NOW }), 'wrong_key');
  });

  it('another secret does not open it', async () => {
    const token = await encodeAuthCode(CODE, SECRET, { nowSeconds: NOW });
    await refusal(decodeAuthCode(token, 'another-secret-of-at-least-32-bytes', { nowSeconds: NOW }), 'wrong_key');
  });

  it('expiry: valid at exp, refused one second later (no skew)', async () => {
    const token = await encodeAuthCode(CODE, SECRET, { nowSeconds: NOW });
    await expect(decodeAuthCode(token, SECRET, { nowSeconds: NOW + 60 })).resolves.toMatchObject({ upstreamAuthCode: 'upstream-code' });
    await refusal(decodeAuthCode(token, SECRET, { nowSeconds: NOW + 61 }), 'expired');
    const pending = await encodePendingAuth(PENDING, SECRET, { nowSeconds: NOW, ttlSeconds: 5 });
    await refusal(decodePendingAuth(pending, SECRET, { nowSeconds: NOW + 6 }), 'expired');
  });

  it('a non-numeric exp is refused', async () => {
    const token = await mintRaw({ client_id: 'x', exp: String(NOW + 100) }, AUTH_CODE_LABEL);
    await refusal(decodeAuthCode(token, SECRET, { nowSeconds: NOW }), 'malformed');
  });

  it('a claim outside the whitelist is refused with Go\'s text', async () => {
    const token = await mintRaw({ client_id: 'x', upstream_auth_code: 'c', admin: true }, AUTH_CODE_LABEL);
    const error = await refusal(decodeAuthCode(token, SECRET, { nowSeconds: NOW }), 'disallowed_claim');
    expect(error.message).toBe("invalid token claims format: disallowed claim key 'admin'");
  });

  it('tampering with any segment is refused', async () => {
    const token = await encodeAuthCode(CODE, SECRET, { nowSeconds: NOW });
    const parts = token.split('.');
    for (const index of [0, 1, 2, 3, 4]) {
      const segment = parts[index]!;
      const flipped = (segment[0] === 'A' ? 'B' : 'A') + segment.slice(1);
      const tampered = parts.map((part, i) => (i === index ? flipped : part)).join('.');
      await expect(decodeAuthCode(tampered, SECRET, { nowSeconds: NOW })).rejects.toBeInstanceOf(OAuthArtifactError);
    }
  });

  it('garbage, empty and over-long strings are malformed, never a crash', async () => {
    for (const junk of ['', 'bogus', 'a.b.c.d.e', '....', `${'A'.repeat(20_000)}.a.b.c.d`]) {
      await refusal(decodePendingAuth(junk, SECRET, { nowSeconds: NOW }), 'malformed');
    }
  });

  it('other algorithms and zip are refused', async () => {
    const dir = await new CompactEncrypt(new TextEncoder().encode('{}'))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: 'v1' })
      .encrypt(deriveArtifactKey(SECRET, AUTH_CODE_LABEL));
    await refusal(decodeAuthCode(dir, SECRET, { nowSeconds: NOW }), 'malformed');
    const zipped = await mintRaw({ client_id: 'x' }, AUTH_CODE_LABEL, { zip: 'DEF' });
    await refusal(decodeAuthCode(zipped, SECRET, { nowSeconds: NOW }), 'malformed');
  });

  it('a wrong kid is the legacy format: refused by default', async () => {
    const token = await mintRaw({ client_id: 'x' }, AUTH_CODE_LABEL, { kid: 'v2' });
    await refusal(decodeAuthCode(token, SECRET, { nowSeconds: NOW }), 'legacy_refused');
    // With legacy accepted it is read with the SHA-256 key, which did not encrypt it.
    await refusal(decodeAuthCode(token, SECRET, { nowSeconds: NOW, acceptLegacy: true }), 'wrong_key');
  });

  it('legacy kid-less JWE (GenerateJWEToken(claims, secret, nil)) opens under any label only when accepted (vector 48)', async () => {
    const legacy = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify({ sub: 'alice', exp: NOW + 60 })))
      .setProtectedHeader({ alg: 'A256KW', enc: 'A256GCM', cty: 'JSON', typ: 'JWE' })
      .encrypt(deriveJweKey(SECRET));
    for (const label of [AUTH_CODE_LABEL, PENDING_AUTH_LABEL]) {
      await expect(decodeOAuthArtifact(legacy, SECRET, label, { nowSeconds: NOW, acceptLegacy: true })).resolves.toMatchObject({ sub: 'alice' });
      await refusal(decodeOAuthArtifact(legacy, SECRET, label, { nowSeconds: NOW }), 'legacy_refused');
    }
    // A nested (cty JWT) legacy token is verified with SHA-256(secret) as the HS256 key too.
    const nested = await mintJweToken({ host: 'h', username: 'u', exp: NOW + 60 }, { jweSecretKey: SECRET, jwtSecretKey: SECRET });
    await expect(decodeOAuthArtifact(nested, SECRET, AUTH_CODE_LABEL, { nowSeconds: NOW, acceptLegacy: true })).resolves.toMatchObject({ host: 'h' });
  });

  it('generic encode/decode of another purpose stays separated by its label', async () => {
    const token = await encodeOAuthArtifact({ upstream_refresh_token: 'r', exp: NOW + 5 }, SECRET, 'gateway/oauth/refresh/v1');
    await expect(decodeOAuthArtifact(token, SECRET, 'gateway/oauth/refresh/v1', { nowSeconds: NOW })).resolves.toEqual({ upstream_refresh_token: 'r', exp: NOW + 5 });
    await refusal(decodeOAuthArtifact(token, SECRET, AUTH_CODE_LABEL, { nowSeconds: NOW }), 'wrong_key');
  });
});

/**
 * An independent JWE implementation from node:crypto alone (RFC 3394 key wrap + AES-GCM, AAD = the encoded
 * header), standing in for a Go replica: it opens what we mint, and we open what it mints with go-jose's
 * alphabetically sorted header.
 */
describe('interop with an independent A256KW/A256GCM implementation', () => {
  const WRAP_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');

  function openIndependently(token: string, key: Uint8Array): { header: unknown; claims: unknown } {
    const [header, encryptedKey, iv, ciphertext, tag] = token.split('.') as [string, string, string, string, string];
    const unwrap = createDecipheriv('id-aes256-wrap', key, WRAP_IV);
    const cek = Buffer.concat([unwrap.update(Buffer.from(encryptedKey, 'base64url')), unwrap.final()]);
    const gcm = createDecipheriv('aes-256-gcm', cek, Buffer.from(iv, 'base64url'));
    gcm.setAAD(Buffer.from(header, 'ascii'));
    gcm.setAuthTag(Buffer.from(tag, 'base64url'));
    const plaintext = Buffer.concat([gcm.update(Buffer.from(ciphertext, 'base64url')), gcm.final()]);
    return { header: JSON.parse(Buffer.from(header, 'base64url').toString()), claims: JSON.parse(plaintext.toString()) };
  }

  function mintIndependently(claims: unknown, key: Uint8Array): string {
    const header = Buffer.from('{"alg":"A256KW","cty":"JSON","enc":"A256GCM","kid":"v1","typ":"JWE"}').toString('base64url');
    const cek = randomBytes(32);
    const wrap = createCipheriv('id-aes256-wrap', key, WRAP_IV);
    const encryptedKey = Buffer.concat([wrap.update(cek), wrap.final()]);
    const iv = randomBytes(12);
    const gcm = createCipheriv('aes-256-gcm', cek, iv);
    gcm.setAAD(Buffer.from(header, 'ascii'));
    const ciphertext = Buffer.concat([gcm.update(JSON.stringify(claims)), gcm.final()]);
    return [header, ...[encryptedKey, iv, ciphertext, gcm.getAuthTag()].map((part) => part.toString('base64url'))].join('.');
  }

  it('our pending-auth opens with the HKDF key of its label', async () => {
    const token = await encodePendingAuth(PENDING, SECRET, { nowSeconds: NOW });
    const opened = openIndependently(token, deriveArtifactKey(SECRET, PENDING_AUTH_LABEL));
    expect(opened.header).toEqual({ alg: 'A256KW', cty: 'JSON', enc: 'A256GCM', kid: 'v1', typ: 'JWE' });
    expect(opened.claims).toMatchObject({ client_id: PENDING.clientId, upstream_pkce_verifier: PENDING.upstreamPkceVerifier, exp: NOW + 600 });
    expect(() => openIndependently(token, deriveArtifactKey(SECRET, AUTH_CODE_LABEL))).toThrow();
  });

  it('an independently minted auth code decodes', async () => {
    const token = mintIndependently({ client_id: CODE.clientId, upstream_auth_code: 'go-code', exp: NOW + 60 }, deriveArtifactKey(SECRET, AUTH_CODE_LABEL));
    expect(await decodeAuthCode(token, SECRET, { nowSeconds: NOW })).toMatchObject({ clientId: CODE.clientId, upstreamAuthCode: 'go-code', redirectUri: '' });
  });
});
