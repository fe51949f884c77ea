import { isIPv6 } from 'node:net';
import type { ConnectionOverrides } from '../../common/request-context.js';
import { INVALID_TLS_MATERIAL_PATH, resolveTlsMaterialPath } from './tls-material.js';

export const INCOMPLETE_CONNECTION = 'jwe: token must carry host and username claims';
export const INVALID_PROTOCOL = 'jwe: protocol must be http or tcp';
export const TCP_NOT_SUPPORTED =
  'jwe: protocol tcp (the ClickHouse native protocol) is not supported: this gateway reaches ClickHouse over HTTP only; mint the token with protocol http (and the HTTP port, 8123 by default)';
export const INVALID_HOST = 'jwe: host must be a host name or IP address';
export const INVALID_PORT = 'jwe: port must be between 1 and 65535';

export type ClaimsVerdict =
  | { ok: true; connection: ConnectionOverrides; username: string }
  | { ok: false; reason: 'missing_claim' | 'invalid_claim'; message: string };

/** What the connection rules read from the operator's configuration in force. */
export interface ClaimsContext {
  /** `clickhouse.protocol` (`http` or `embedded`; a token without `protocol` speaks HTTP either way). */
  operatorProtocol: string;
  /** `server.jwe.tls_material_dir`; "" refuses every TLS file path. */
  tlsMaterialDir: string;
}

const TLS_PATH_CLAIMS = [
  ['tls_ca_cert', 'caCert'],
  ['tls_client_cert', 'clientCert'],
  ['tls_client_key', 'clientKey'],
] as const;

const nonBlankString = (value: unknown): value is string => typeof value === 'string' && value.trim() !== '';
const positiveNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value > 0;

/**
 * A host that can only name a machine: a DNS name (underscores allowed, as container names have them) or an IP
 * literal. Anything else (`user@host`, `host/path`, `host:port`, a URL) could change where the HTTP client goes.
 */
function isHostName(host: string): boolean {
  const bare = /^\[(.*)\]$/.exec(host)?.[1] ?? host;
  if (bare.includes(':')) return isIPv6(bare);
  return bare.length <= 253 && /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/.test(bare) && !bare.includes('..');
}

/**
 * A token's claims → its own, self-contained ClickHouse connection (upstream §B.2, which supersedes auth
 * spec §1.4's inheritance): host and username are required; password and database come from the token or are
 * empty; the port follows the protocol; TLS only from the token, its file paths inside the allowlist. Nothing
 * of the operator's endpoint, credentials, headers, TLS or roles; `read_only` and `max_execution_time` claims
 * are ignored (the operator's apply).
 */
export function connectionFromClaims(claims: Record<string, unknown>, ctx: ClaimsContext): ClaimsVerdict {
  const { host, username } = claims;
  if (!nonBlankString(host) || !nonBlankString(username)) {
    return { ok: false, reason: 'missing_claim', message: INCOMPLETE_CONNECTION };
  }
  const protocol = nonBlankString(claims.protocol) ? claims.protocol.trim() : ctx.operatorProtocol === 'tcp' ? 'tcp' : 'http';
  if (protocol !== 'http' && protocol !== 'tcp') return { ok: false, reason: 'invalid_claim', message: INVALID_PROTOCOL };
  // Go would dial the native port here; this gateway has no native client, and quietly speaking HTTP to a
  // native port would only produce a confusing connection error later, so the token is refused up front.
  if (protocol === 'tcp') return { ok: false, reason: 'invalid_claim', message: TCP_NOT_SUPPORTED };

  const trimmedHost = host.trim();
  if (!isHostName(trimmedHost)) return { ok: false, reason: 'invalid_claim', message: INVALID_HOST };
  let port: number | undefined;
  if (positiveNumber(claims.port)) {
    port = Math.trunc(claims.port);
    if (port > 65535) return { ok: false, reason: 'invalid_claim', message: INVALID_PORT };
  }

  // Every path claim is checked whatever tls_enabled says: a path a token names is never opened unchecked.
  const material: NonNullable<ConnectionOverrides['tlsMaterial']> = {};
  for (const [claim, field] of TLS_PATH_CLAIMS) {
    if (!Object.hasOwn(claims, claim)) continue;
    const value = claims[claim];
    if (typeof value !== 'string') return { ok: false, reason: 'invalid_claim', message: INVALID_TLS_MATERIAL_PATH };
    const resolved = resolveTlsMaterialPath(ctx.tlsMaterialDir, value);
    if (resolved === undefined) return { ok: false, reason: 'invalid_claim', message: INVALID_TLS_MATERIAL_PATH };
    if (resolved !== '') material[field] = resolved;
  }
  if (claims.tls_insecure_skip_verify === true) material.insecureSkipVerify = true;

  const connection: ConnectionOverrides = {
    selfContained: true,
    host: trimmedHost,
    port: port ?? 8123,
    database: typeof claims.database === 'string' ? claims.database : '',
    username,
    password: typeof claims.password === 'string' ? claims.password : '',
    tls: claims.tls_enabled === true,
    ...(Object.keys(material).length > 0 ? { tlsMaterial: material } : {}),
    ...(positiveNumber(claims.limit) ? { limit: Math.trunc(claims.limit) } : {}),
  };
  return { ok: true, connection, username };
}
