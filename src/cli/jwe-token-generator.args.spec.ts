import { describe, expect, it } from 'vitest';
import { MAX_EXPIRY_SECONDS, parseGeneratorArgs, UsageError } from './jwe-token-generator.args.js';

const NOW = 1_700_000_000;
const SECRET = { MCP_JWE_SECRET_KEY: 's3cret' };
const mint = (argv: string[], env: Record<string, string> = SECRET) => {
  const cmd = parseGeneratorArgs(argv, env, NOW);
  if (cmd.kind !== 'mint') throw new Error('expected a mint command');
  return cmd;
};
const refusal = (argv: string[], env: Record<string, string> = SECRET): string => {
  try {
    parseGeneratorArgs(argv, env, NOW);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('jwe-token-generator flags (auth spec §1.7 with upstream §B/§G defaults)', () => {
  it('minimal: host and username; port, database, protocol defaulted; exp one hour; no limit, no password', () => {
    expect(mint(['--host', 'h', '--username', 'u']).claims).toEqual({ host: 'h', port: 8123, database: 'default', username: 'u', protocol: 'http', exp: NOW + 3600 });
  });

  it('tcp defaults to port 9000; Go-style single-dash and = forms work', () => {
    const { claims } = mint(['-host=h', '-username', 'u', '--protocol=tcp']);
    expect(claims).toMatchObject({ protocol: 'tcp', port: 9000 });
  });

  it('the flag secret wins over the env secret; the JWT secret switches to nested mode', () => {
    expect(mint(['--host', 'h', '--username', 'u', '--jwe-secret-key', 'flag'], { MCP_JWE_SECRET_KEY: 'env' }).secrets).toEqual({ jweSecretKey: 'flag' });
    expect(mint(['--host', 'h', '--username', 'u'], { ...SECRET, MCP_JWT_SECRET_KEY: 'j' }).secrets).toEqual({ jweSecretKey: 's3cret', jwtSecretKey: 'j' });
  });

  it('no weak default secret: without one it refuses', () => {
    expect(refusal(['--host', 'h', '--username', 'u'], {})).toMatch(/JWE secret is required: set MCP_JWE_SECRET_KEY/);
    expect(refusal(['--host', 'h', '--username', 'u', '--jwe-secret-key', ''], {})).toMatch(/JWE secret is required/);
  });

  it('host and username are required and not blank', () => {
    expect(refusal(['--username', 'u'])).toBe('--host is required (the ClickHouse host the token connects to)');
    expect(refusal(['--host', '  ', '--username', 'u'])).toMatch(/--host is required/);
    expect(refusal(['--host', 'h'])).toBe('--username is required (the ClickHouse user the token connects as)');
    expect(refusal(['--host', 'a b', '--username', 'u'])).toMatch(/--host must be a host name/);
  });

  it('expiry is positive and bounded', () => {
    expect(refusal(['--host', 'h', '--username', 'u', '--expiry', '0'])).toBe(`--expiry must be between 1 and ${MAX_EXPIRY_SECONDS}, got 0`);
    expect(refusal(['--host', 'h', '--username', 'u', '--expiry', '-5'])).toMatch(/--expiry must be a whole number/);
    expect(refusal(['--host', 'h', '--username', 'u', '--expiry', String(MAX_EXPIRY_SECONDS + 1)])).toMatch(/between 1 and/);
    expect(mint(['--host', 'h', '--username', 'u', '--expiry', String(MAX_EXPIRY_SECONDS)]).claims.exp).toBe(NOW + MAX_EXPIRY_SECONDS);
  });

  it('protocol, port and unknown flags are checked', () => {
    expect(refusal(['--host', 'h', '--username', 'u', '--protocol', 'native'])).toBe('--protocol must be http or tcp, got "native"');
    expect(refusal(['--host', 'h', '--username', 'u', '--protocol', 'toString'])).toMatch(/must be http or tcp/);
    expect(refusal(['--host', 'h', '--username', 'u', '--port', '70000'])).toMatch(/--port must be between 1 and 65535/);
    expect(refusal(['--host', 'h', '--username', 'u', '--hots', 'x'])).toBe('unknown flag --hots');
    expect(refusal(['--host'])).toBe('--host needs a value');
    expect(refusal(['--host', 'h', '--host', 'i'])).toBe('--host is given twice');
  });

  it('TLS claims only with --tls; file paths must be absolute without ..', () => {
    const { claims } = mint(['--host', 'h', '--username', 'u', '--tls', '--tls-ca-cert', '/etc/mcp/tls/ca.pem', '--tls-insecure-skip-verify']);
    expect(claims).toMatchObject({ tls_enabled: true, tls_ca_cert: '/etc/mcp/tls/ca.pem', tls_insecure_skip_verify: true });
    expect(mint(['--host', 'h', '--username', 'u', '--tls=false']).claims).not.toHaveProperty('tls_enabled');
    expect(refusal(['--host', 'h', '--username', 'u', '--tls-ca-cert', '/ca.pem'])).toBe('--tls-ca-cert needs --tls');
    expect(refusal(['--host', 'h', '--username', 'u', '--tls', '--tls-client-key', 'key.pem'])).toMatch(/must be an absolute path/);
    expect(refusal(['--host', 'h', '--username', 'u', '--tls', '--tls-client-key', '/etc/tls/../../shadow'])).toMatch(/without "\.\."/);
  });

  it('-h and --help ask for help', () => {
    expect(parseGeneratorArgs(['-h'], {}, NOW)).toEqual({ kind: 'help' });
    expect(parseGeneratorArgs(['--host', 'h', '--help'], {}, NOW)).toEqual({ kind: 'help' });
  });
});
