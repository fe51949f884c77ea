import { CompactEncrypt, SignJWT } from 'jose';
import { deriveJweKey, mintJweToken } from '../../src/auth/jwe/jwe-token.js';

/**
 * The JWE part of the bad-input corpus: malformed and refused tokens, generated (they depend on the gateway's
 * secrets and on the clock, so they cannot be static YAML). Every one points — where it has claims at all — at
 * a canary listener, so a token that wrongly got through would be seen connecting. Replayed by
 * `bad-inputs-jwe.e2e-spec.ts` in the path, in `Authorization: Bearer` and in `x-altinity-mcp-key`.
 */
export interface BadToken {
  id: string;
  /** The token text (may hold characters that are no valid path text; those are percent-encoded in paths). */
  token: string;
}

export interface CorpusSecrets {
  jweSecret: string;
  jwtSecret: string;
  /** Host and port of the canary listener. */
  canaryHost: string;
  canaryPort: number;
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

export async function badJweTokens(s: CorpusSecrets): Promise<BadToken[]> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { host: s.canaryHost, port: s.canaryPort, username: 'default', exp: now + 3600 };
  const jweKey = deriveJweKey(s.jweSecret);
  const encrypt = (plaintext: string, header: Record<string, unknown> = { alg: 'A256KW', enc: 'A256GCM', cty: 'JSON', typ: 'JWE' }, key: Uint8Array = jweKey) =>
    new CompactEncrypt(new TextEncoder().encode(plaintext)).setProtectedHeader(header as never).encrypt(key);
  const good = await mintJweToken(claims, { jweSecretKey: s.jweSecret, jwtSecretKey: s.jwtSecret });
  const parts = good.split('.');
  const flip = (segment: string): string => `${segment[0] === 'A' ? 'B' : 'A'}${segment.slice(1)}`;
  const withPart = (i: number, value: string): string => parts.map((p, j) => (j === i ? value : p)).join('.');

  const out: BadToken[] = [];
  const add = (id: string, token: string): void => void out.push({ id, token });

  // Truncated and re-shaped segments.
  for (let n = 1; n <= 4; n++) add(`first-${n}-segments`, parts.slice(0, n).join('.'));
  add('six-segments', `${good}.AAAA`);
  add('trailing-dot', `${good}.`);
  add('leading-dot', `.${good}`);
  add('double-dot', good.replace('.', '..'));
  add('cut-by-one-char', good.slice(0, -1));
  add('cut-in-half', good.slice(0, Math.floor(good.length / 2)));
  for (let i = 0; i < 5; i++) add(`segment-${i}-empty`, withPart(i, ''));
  for (let i = 0; i < 5; i++) add(`segment-${i}-flipped`, withPart(i, flip(parts[i]!)));
  add('segments-swapped', [parts[0], parts[1], parts[3], parts[2], parts[4]].join('.'));
  add('tag-truncated', withPart(4, parts[4]!.slice(0, 8)));
  add('iv-truncated', withPart(2, parts[2]!.slice(0, 4)));
  // Not base64url.
  add('non-base64-header', withPart(0, '!!!!'));
  add('standard-base64-chars', withPart(3, parts[3]!.replace(/[-_]/g, '+') + '/='));
  add('padding', withPart(1, `${parts[1]}==`));
  add('spaces-inside', good.replace('.', ' . '));
  add('percent-junk', `%zz${good}`);
  add('unicode', `токен.${good}`);
  add('nul-byte', `${parts[0]}\u0000.${parts.slice(1).join('.')}`);
  add('header-not-json', withPart(0, b64('not json')));
  add('header-json-array', withPart(0, b64('[1,2]')));
  add('header-json-string', withPart(0, b64('"A256KW"')));
  add('header-empty-object', withPart(0, b64('{}')));
  // Wrong algorithms and encodings (each properly formed otherwise).
  add('alg-dir', withPart(0, b64(JSON.stringify({ alg: 'dir', enc: 'A256GCM', cty: 'JSON' }))));
  add('alg-none', withPart(0, b64(JSON.stringify({ alg: 'none', enc: 'A256GCM' }))));
  add('alg-RSA-OAEP', withPart(0, b64(JSON.stringify({ alg: 'RSA-OAEP', enc: 'A256GCM' }))));
  add('alg-A128KW-header-only', withPart(0, b64(JSON.stringify({ alg: 'A128KW', enc: 'A256GCM' }))));
  add('enc-A128GCM-header-only', withPart(0, b64(JSON.stringify({ alg: 'A256KW', enc: 'A128GCM' }))));
  add('enc-A256CBC-HS512-header-only', withPart(0, b64(JSON.stringify({ alg: 'A256KW', enc: 'A256CBC-HS512' }))));
  add('zip-DEF', withPart(0, b64(JSON.stringify({ alg: 'A256KW', enc: 'A256GCM', zip: 'DEF' }))));
  add('alg-A128KW-real', await encrypt(JSON.stringify(claims), { alg: 'A128KW', enc: 'A256GCM', cty: 'JSON' }, jweKey.slice(0, 16)));
  add('enc-A128GCM-real', await encrypt(JSON.stringify(claims), { alg: 'A256KW', enc: 'A128GCM', cty: 'JSON' }));
  add('enc-A256CBC-HS512-real', await encrypt(JSON.stringify(claims), { alg: 'A256KW', enc: 'A256CBC-HS512', cty: 'JSON' }));
  add('alg-dir-real', await encrypt(JSON.stringify(claims), { alg: 'dir', enc: 'A256GCM', cty: 'JSON' }));
  // Right shape, wrong keys.
  add('wrong-jwe-secret', await mintJweToken(claims, { jweSecretKey: `${s.jweSecret}x`, jwtSecretKey: s.jwtSecret }));
  add('wrong-jwt-secret', await mintJweToken(claims, { jweSecretKey: s.jweSecret, jwtSecretKey: `${s.jwtSecret}x` }));
  add('nested-hs512', await encrypt(await new SignJWT(claims).setProtectedHeader({ alg: 'HS512' }).sign(new Uint8Array(64)), { alg: 'A256KW', enc: 'A256GCM', cty: 'JWT' }));
  add('nested-alg-none', await encrypt(`${b64('{"alg":"none"}')}.${b64(JSON.stringify(claims))}.`, { alg: 'A256KW', enc: 'A256GCM', cty: 'JWT' }));
  add('nested-garbage', await encrypt('a.b.c', { alg: 'A256KW', enc: 'A256GCM', cty: 'JWT' }));
  // Decrypts, but the claims are no acceptable object.
  add('claims-json-array', await encrypt(JSON.stringify([claims])));
  add('claims-json-string', await encrypt('"host"'));
  add('claims-json-number', await encrypt('42'));
  add('claims-json-null', await encrypt('null'));
  add('claims-not-json', await encrypt('{host: nope'));
  add('claims-empty', await encrypt(''));
  add('claims-invalid-utf8', await new CompactEncrypt(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])).setProtectedHeader({ alg: 'A256KW', enc: 'A256GCM', cty: 'JSON' }).encrypt(jweKey));
  add('exp-string', await encrypt(JSON.stringify({ ...claims, exp: 'not-a-number' })));
  add('exp-null', await encrypt(JSON.stringify({ ...claims, exp: null })));
  add('exp-bool', await encrypt(JSON.stringify({ ...claims, exp: true })));
  add('exp-array', await encrypt(JSON.stringify({ ...claims, exp: [now + 3600] })));
  add('exp-huge', await encrypt(`{"host":"${s.canaryHost}","username":"default","exp":1e400}`));
  add('exp-past', await encrypt(JSON.stringify({ ...claims, exp: now - 1 })));
  add('exp-past-fraction', await encrypt(JSON.stringify({ ...claims, exp: now - 1.5 })));
  add('disallowed-claim', await encrypt(JSON.stringify({ ...claims, roles: ['admin'] })));
  add('disallowed-proto-claim', await encrypt(`{"host":"${s.canaryHost}","username":"default","__proto__":{"x":1}}`));
  add('missing-host', await encrypt(JSON.stringify({ username: 'default', exp: now + 3600 })));
  add('missing-username', await encrypt(JSON.stringify({ host: s.canaryHost, port: s.canaryPort, exp: now + 3600 })));
  add('blank-host', await encrypt(JSON.stringify({ ...claims, host: '   ' })));
  add('host-number', await encrypt(JSON.stringify({ ...claims, host: 123 })));
  add('protocol-native', await encrypt(JSON.stringify({ ...claims, protocol: 'native' })));
  add('tls-path-etc-passwd', await encrypt(JSON.stringify({ ...claims, tls_enabled: true, tls_ca_cert: '/etc/passwd' })));
  add('tls-path-relative', await encrypt(JSON.stringify({ ...claims, tls_client_key: '../key.pem' })));
  add('empty-object-claims', await encrypt('{}'));
  // Size.
  add('over-16KiB', `${good}${'A'.repeat(16 * 1024)}`);
  add('over-16KiB-in-claims', await encrypt(JSON.stringify({ ...claims, password: 'p'.repeat(17 * 1024) })));
  return out;
}

/** Paths that are no `/{token}` route at all in JWE mode (expected 404), or a token that is traversal text (401). */
export const BAD_JWE_PATHS: ReadonlyArray<{ id: string; path: string; status: number[] }> = [
  { id: 'traversal-etc-passwd', path: '/../../etc/passwd', status: [400, 404] },
  { id: 'traversal-dotdot', path: '/..', status: [400, 401, 404] },
  { id: 'traversal-encoded', path: '/%2e%2e%2fetc%2fpasswd', status: [401] },
  { id: 'traversal-encoded-slash', path: '/a%2F..%2F..%2Fetc', status: [401] },
  { id: 'two-segments', path: '/token/extra', status: [404] },
  { id: 'token-then-sse-on-http', path: '/token/sse', status: [404] },
  { id: 'deep', path: '/a/b/c/d/e', status: [404] },
  { id: 'double-slash', path: '//token', status: [404] },
  { id: 'dot-segment', path: '/./token', status: [404] },
  { id: 'backslashes', path: '/..\\..\\etc\\passwd', status: [400, 401] },
];
