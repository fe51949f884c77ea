import { createHash } from 'node:crypto';
import { compactDecrypt, compactVerify, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { parseGeneratorArgs } from './jwe-token-generator.args.js';
import { deriveJweKey, mintJweToken, type JweConnectionClaims } from './jwe-token.js';

const JWE_SECRET = 'test-jwe-secret';
const JWT_SECRET = 'test-jwt-secret';

/** The server's parse (auth spec §1.3): A256KW/A256GCM only, key SHA-256(secret), then the cty branch. */
async function parseLikeTheServer(token: string, jweSecret: string, jwtSecret = ''): Promise<Record<string, unknown>> {
  const sha = (s: string) => new Uint8Array(createHash('sha256').update(s, 'utf8').digest());
  const { plaintext, protectedHeader } = await compactDecrypt(token, sha(jweSecret), {
    keyManagementAlgorithms: ['A256KW'],
    contentEncryptionAlgorithms: ['A256GCM'],
  });
  const text = new TextDecoder().decode(plaintext);
  const cty = typeof protectedHeader.cty === 'string' ? protectedHeader.cty : 'JWT';
  if (cty === 'JWT' && jwtSecret !== '') {
    const { payload } = await compactVerify(text, sha(jwtSecret), { algorithms: ['HS256'] });
    return JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  }
  return JSON.parse(text) as Record<string, unknown>;
}

const claims: JweConnectionClaims = { host: 'ch.example', port: 8443, database: 'db1', username: 'alice', protocol: 'http', exp: 2_000_000_000 };

describe('mintJweToken (auth spec §1.2)', () => {
  it('derives the key as one SHA-256 of the secret (appendix A vector)', () => {
    expect(Buffer.from(deriveJweKey(JWE_SECRET)).toString('hex')).toBe('67e9ecba47b048f12505ac5458395818f1a836ae099884295039cd6911e540be');
  });

  it('JSON mode: five segments, header {alg A256KW, enc A256GCM, cty JSON, typ JWE}, claims decrypt intact', async () => {
    const token = await mintJweToken(claims, { jweSecretKey: JWE_SECRET });
    expect(token.split('.')).toHaveLength(5);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'A256KW', enc: 'A256GCM', cty: 'JSON', typ: 'JWE' });
    expect(await parseLikeTheServer(token, JWE_SECRET)).toEqual(claims);
    // A server that also has a JWT secret still takes cty JSON as plain claims (§1.3 json_token_with_jwt_secret).
    expect(await parseLikeTheServer(token, JWE_SECRET, JWT_SECRET)).toEqual(claims);
  });

  it('nested mode: cty JWT, the payload is an HS256 JWT signed with SHA-256(jwt secret)', async () => {
    const token = await mintJweToken(claims, { jweSecretKey: JWE_SECRET, jwtSecretKey: JWT_SECRET });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'A256KW', enc: 'A256GCM', cty: 'JWT', typ: 'JWE' });
    expect(await parseLikeTheServer(token, JWE_SECRET, JWT_SECRET)).toEqual(claims);
    const { plaintext } = await compactDecrypt(token, deriveJweKey(JWE_SECRET));
    const inner = new TextDecoder().decode(plaintext);
    expect(decodeProtectedHeader(inner)).toEqual({ alg: 'HS256', typ: 'JWT' });
    await expect(parseLikeTheServer(token, JWE_SECRET, 'another-jwt-secret')).rejects.toThrow(/signature/);
  });

  it('a wrong JWE secret cannot decrypt it', async () => {
    const token = await mintJweToken(claims, { jweSecretKey: JWE_SECRET });
    await expect(parseLikeTheServer(token, 'test-jwe-secreT')).rejects.toThrow(/decryption/i);
  });

  it('two tokens of the same claims differ (fresh CEK and IV each time)', async () => {
    expect(await mintJweToken(claims, { jweSecretKey: JWE_SECRET })).not.toBe(await mintJweToken(claims, { jweSecretKey: JWE_SECRET }));
  });

  it('what the CLI mints decrypts to its flags, with exp = now + expiry', async () => {
    const now = 1_800_000_000;
    const cmd = parseGeneratorArgs(
      ['--host', 'ch.internal', '--username', 'bob', '--password', 'pw', '--database', 'sales', '--expiry', '600', '--limit', '50'],
      { MCP_JWE_SECRET_KEY: JWE_SECRET, MCP_JWT_SECRET_KEY: JWT_SECRET },
      now + 0.7,
    );
    if (cmd.kind !== 'mint') throw new Error('expected a mint command');
    const parsed = await parseLikeTheServer(await mintJweToken(cmd.claims, cmd.secrets), JWE_SECRET, JWT_SECRET);
    expect(parsed).toEqual({ host: 'ch.internal', port: 8123, database: 'sales', username: 'bob', password: 'pw', protocol: 'http', limit: 50, exp: now + 600 });
  });
});
