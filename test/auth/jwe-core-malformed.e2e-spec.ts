import { describe, expect, it } from 'vitest';
import { JweAuthenticatorService } from '../../src/auth/jwe/jwe-authenticator.service.js';
import { mintJweToken } from '../../src/auth/jwe/jwe-token.js';
import { parseArgs } from '../../src/config/config.cli.js';
import { loadConfig } from '../../src/config/config.loader.js';
import type { ConfigStore } from '../../src/config/config.store.js';

const SECRET = 'malformed-corpus-secret';

/** Hostile inputs: none may throw, none may be accepted, no message may echo the input. */
async function corpus(): Promise<string[]> {
  const good = await mintJweToken({ host: 'h', username: 'u', password: 'corpus-password', exp: 4_102_444_800 }, { jweSecretKey: SECRET });
  const parts = good.split('.');
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const inputs = [
    '', ' ', '.', '....', '.....', 'a.b.c.d.e', 'a.b.c', good.slice(0, -1), good.slice(0, 20), `${good}.`, `.${good}`, `${good}x`,
    `${good} `, ` ${good}`, `${good}\n`, good.replace(/\./g, '..'), parts.slice(0, 4).join('.'), [...parts, parts[4]].join('.'),
    good.replace(/-/g, '+'), good.replace(/_/g, '/'), `${parts[0]}==.${parts.slice(1).join('.')}`, '%2e%2e%2f', '../../etc/passwd',
    '..%2F..%2Fetc%2Fpasswd', 'x'.repeat(16 * 1024 + 1), `${good}${'A'.repeat(16 * 1024)}`, '\u0000', '🙂.🙂.🙂.🙂.🙂',
    [b64({ alg: 'none', enc: 'A256GCM' }), ...parts.slice(1)].join('.'),
    [b64({ alg: 'A256KW', enc: 'A128CBC-HS256' }), ...parts.slice(1)].join('.'),
    [b64({ alg: 'RSA-OAEP', enc: 'A256GCM' }), ...parts.slice(1)].join('.'),
    [b64({ alg: 'A256KW', enc: 'A256GCM', zip: 'DEF' }), ...parts.slice(1)].join('.'),
    [b64({ alg: 'A256KW', enc: 'A256GCM', crit: ['exp'] }), ...parts.slice(1)].join('.'),
    [b64([1, 2]), ...parts.slice(1)].join('.'), [b64('str'), ...parts.slice(1)].join('.'), [b64(null), ...parts.slice(1)].join('.'),
    ['!!!', ...parts.slice(1)].join('.'), [parts[0], '!!!', ...parts.slice(2)].join('.'),
  ];
  for (let segment = 0; segment < 5; segment++) {
    inputs.push(parts.map((p, i) => (i === segment ? '' : p)).join('.'));
    inputs.push(parts.map((p, i) => (i === segment ? flip(p, Math.floor(p.length / 2)) : p)).join('.'));
    inputs.push(parts.map((p, i) => (i === segment ? p.slice(0, -2) : p)).join('.'));
    inputs.push(parts.map((p, i) => (i === segment ? `${p}A` : p)).join('.'));
  }
  for (const claims of [[1], 'str', 42, null, { host: 'h', username: 'u', exp: '1' }, { host: 'h', username: 'u', exp: 1e300 }, { host: ['h'], username: 'u' }, { host: 'a@b', username: 'u' }, { host: 'h/x', username: 'u' }, { host: 'h:1', username: 'u' }, { host: 'h', username: 'u', port: 70000 }, { host: 'h', username: 'u', protocol: 'https' }, { host: 'h', username: 'u', tls_client_key: 5 }, { host: 'h', username: 'u', tls_ca_cert: '../../etc/passwd' }, { host: 'h', username: 'u', __proto__x: 1 }]) {
    inputs.push(await mintJweToken(claims as never, { jweSecretKey: SECRET }));
  }
  // Variants that only rewrite characters the token may not contain (`-`, `_`) equal the good token when it has
  // none (a few percent of random tokens): those are not hostile inputs.
  return inputs.filter((input) => input !== good);
}

describe('malformed and hostile tokens', () => {
  it('60+ inputs: every one refused with a known outcome, never thrown, never echoing input or secret', async () => {
    const config = loadConfig({ args: parseArgs([]), env: {} }).config;
    Object.assign(config.server.jwe, { enabled: true, jwe_secret_key: SECRET });
    const auth = new JweAuthenticatorService({ current: config } as unknown as ConfigStore);
    const inputs = await corpus();
    expect(inputs.length).toBeGreaterThanOrEqual(60);
    for (const input of inputs) {
      const result = await auth.authenticate(input);
      expect(result.ok, JSON.stringify(input.slice(0, 80))).toBe(false);
      if (result.ok) continue;
      expect(['malformed', 'bad_signature', 'disallowed_claim', 'expired', 'missing_claim', 'invalid_claim']).toContain(result.outcome);
      expect(result.message.length).toBeLessThan(300);
      expect(result.message).not.toMatch(/corpus-password|malformed-corpus-secret|etc\/passwd/);
      if (input.length > 8) expect(result.message).not.toContain(input);
    }
  });
});
