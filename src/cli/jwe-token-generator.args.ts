import { isAbsolute } from 'node:path';
import type { JweConnectionClaims, JweSecrets } from './jwe-token.js';

/** A mistake on the command line: printed as one line for a person, never with a stack trace. */
export class UsageError extends Error {}

/**
 * Longest lifetime the CLI mints. altinity-mcp's CLI has no bound and its server accepts tokens without `exp`
 * forever; an operator-run tool may mint longer-lived tokens than the HTTP generator (1 day, upstream §G), but a
 * leaked token must still die on its own.
 */
export const MAX_EXPIRY_SECONDS = 30 * 24 * 3600;
const DEFAULT_EXPIRY_SECONDS = 3600;
const DEFAULT_PORT: Record<string, number> = { http: 8123, tcp: 9000 };

type Kind = 'string' | 'bool';
const FLAGS: Record<string, Kind> = {
  'jwe-secret-key': 'string',
  'jwt-secret-key': 'string',
  host: 'string',
  port: 'string',
  database: 'string',
  username: 'string',
  password: 'string',
  protocol: 'string',
  limit: 'string',
  expiry: 'string',
  tls: 'bool',
  'tls-ca-cert': 'string',
  'tls-client-cert': 'string',
  'tls-client-key': 'string',
  'tls-insecure-skip-verify': 'bool',
};

export const JWE_GENERATOR_HELP = `Usage: jwe-token-generator --host HOST --username USER [flags]

Mints a JWE connection token for clickhouse-mcp-gateway / altinity-mcp (server.jwe): A256KW + A256GCM with the
key SHA-256(JWE secret); with a JWT secret the claims are a nested HS256 JWT (cty JWT), otherwise JSON (cty JSON).
The token carries everything the gateway needs to connect (host, username, ...): nothing is taken from the
server's own clickhouse settings.

Required:
  --jwe-secret-key KEY        the server's server.jwe.jwe_secret_key (env MCP_JWE_SECRET_KEY, preferred: a flag
                              is visible to other users in the process list)
  --host HOST                 ClickHouse host
  --username USER             ClickHouse user

Optional:
  --jwt-secret-key KEY        the server's server.jwe.jwt_secret_key (env MCP_JWT_SECRET_KEY): nested HS256 JWT
  --port N                    ClickHouse port (default 8123 for http, 9000 for tcp)
  --database DB               database (default "default")
  --password PASS             password (omitted when empty)
  --protocol http|tcp         (default http)
  --limit N                   row limit carried in the token (default: none, the server's limits apply)
  --expiry SECONDS            lifetime, 1 to ${MAX_EXPIRY_SECONDS} (default ${DEFAULT_EXPIRY_SECONDS})
  --tls                       connect with TLS; the path flags below need it
  --tls-ca-cert PATH          absolute path of a CA file on the gateway's host (inside server.jwe.tls_material_dir)
  --tls-client-cert PATH      absolute path of a client certificate on the gateway's host
  --tls-client-key PATH       absolute path of a client key on the gateway's host
  --tls-insecure-skip-verify  do not verify the server certificate
  -h, --help                  this text

Flags may be written --flag VALUE, --flag=VALUE or with one dash (-flag VALUE), as in altinity-mcp.`;

export type GeneratorCommand = { kind: 'help' } | { kind: 'mint'; claims: JweConnectionClaims; secrets: JweSecrets };

function readFlags(argv: readonly string[]): Map<string, string | boolean> {
  const values = new Map<string, string | boolean>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help' || arg === '-help') return new Map([['help', true]]);
    const m = /^--?([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new UsageError(`unexpected argument "${arg}" (flags start with --)`);
    const name = m[1]!;
    const kind = FLAGS[name];
    if (!kind) throw new UsageError(`unknown flag --${name}`);
    if (values.has(name)) throw new UsageError(`--${name} is given twice`);
    if (kind === 'bool') {
      if (m[2] === undefined || m[2] === 'true') values.set(name, true);
      else if (m[2] === 'false') values.set(name, false);
      else throw new UsageError(`--${name} takes no value (or =true / =false)`);
      continue;
    }
    if (m[2] !== undefined) {
      values.set(name, m[2]);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined) throw new UsageError(`--${name} needs a value`);
    values.set(name, next);
    i++;
  }
  return values;
}

function integerFlag(raw: string | undefined, name: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[0-9]+$/.test(raw.trim())) throw new UsageError(`--${name} must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** Where the token names a file the gateway will open, the path must be one its allowlist can accept (§B.2). */
function tlsPath(raw: string | undefined, name: string, tls: boolean): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!tls) throw new UsageError(`--${name} needs --tls`);
  if (!isAbsolute(raw) || raw.split('/').includes('..')) {
    throw new UsageError(`--${name} must be an absolute path without ".." (a file inside the gateway's server.jwe.tls_material_dir)`);
  }
  return raw;
}

/** Turns the command line and environment into the claims and secrets to mint with, or a UsageError. */
export function parseGeneratorArgs(argv: readonly string[], env: Record<string, string | undefined>, nowSeconds: number): GeneratorCommand {
  const flags = readFlags(argv);
  if (flags.get('help') === true) return { kind: 'help' };
  const str = (name: string): string | undefined => flags.get(name) as string | undefined;

  const jweSecretKey = str('jwe-secret-key') ?? env.MCP_JWE_SECRET_KEY ?? '';
  if (jweSecretKey === '') {
    throw new UsageError('a JWE secret is required: set MCP_JWE_SECRET_KEY (or --jwe-secret-key) to the server\'s server.jwe.jwe_secret_key');
  }
  const jwtSecretKey = str('jwt-secret-key') ?? env.MCP_JWT_SECRET_KEY ?? '';

  const host = (str('host') ?? '').trim();
  if (host === '') throw new UsageError('--host is required (the ClickHouse host the token connects to)');
  if (/[\s\p{Cc}/]/u.test(host)) throw new UsageError(`--host must be a host name or address, got "${host}"`);
  const username = (str('username') ?? '').trim();
  if (username === '') throw new UsageError('--username is required (the ClickHouse user the token connects as)');

  const protocol = (str('protocol') ?? 'http').trim();
  if (!Object.hasOwn(DEFAULT_PORT, protocol)) throw new UsageError(`--protocol must be http or tcp, got "${protocol}"`);
  const port = integerFlag(str('port'), 'port', 1, 65535) ?? DEFAULT_PORT[protocol]!;
  const limit = integerFlag(str('limit'), 'limit', 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const expiry = integerFlag(str('expiry'), 'expiry', 1, MAX_EXPIRY_SECONDS) ?? DEFAULT_EXPIRY_SECONDS;

  const tls = flags.get('tls') === true;
  const claims: JweConnectionClaims = {
    host,
    port,
    database: str('database') ?? 'default',
    username,
    protocol,
    exp: Math.floor(nowSeconds) + expiry,
  };
  const password = str('password');
  if (password) claims.password = password;
  if (limit > 0) claims.limit = limit;
  const caCert = tlsPath(str('tls-ca-cert'), 'tls-ca-cert', tls);
  const clientCert = tlsPath(str('tls-client-cert'), 'tls-client-cert', tls);
  const clientKey = tlsPath(str('tls-client-key'), 'tls-client-key', tls);
  if (flags.get('tls-insecure-skip-verify') === true && !tls) throw new UsageError('--tls-insecure-skip-verify needs --tls');
  if (tls) {
    claims.tls_enabled = true;
    if (caCert) claims.tls_ca_cert = caCert;
    if (clientCert) claims.tls_client_cert = clientCert;
    if (clientKey) claims.tls_client_key = clientKey;
    if (flags.get('tls-insecure-skip-verify') === true) claims.tls_insecure_skip_verify = true;
  }
  return { kind: 'mint', claims, secrets: { jweSecretKey, ...(jwtSecretKey ? { jwtSecretKey } : {}) } };
}
