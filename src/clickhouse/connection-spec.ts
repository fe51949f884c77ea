import { createHash } from 'node:crypto';
import type { ConnectionOverrides } from '../common/request-context.js';
import type { ClickHouseConfig } from '../config/config.types.js';
import type { ConnectionSpec } from './clickhouse.types.js';

/** `[::1]` → `::1` (altinity-mcp accepts a bracketed IPv6 host and strips the brackets). */
export function normalizeHost(host: string): string {
  const m = /^\[([^\]]+)\]$/.exec(host.trim());
  return m ? m[1]! : host.trim();
}

/** The host as it goes in a URL: IPv6 literals get their brackets back. */
export function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * altinity-mcp moves an `Authorization: Bearer <token>` entry of `http_headers` into the driver's token hook
 * when the connection uses TLS (and leaves the headers alone otherwise).
 */
function splitBearerHeader(headers: Record<string, string>, tls: boolean): { headers: Record<string, string>; token?: string } {
  const copy = { ...headers };
  if (!tls) return { headers: copy };
  for (const name of Object.keys(copy)) {
    if (name.toLowerCase() !== 'authorization') continue;
    const value = copy[name]!.trim();
    if (!value.startsWith('Bearer ')) return { headers: copy };
    const token = value.slice('Bearer '.length);
    if (!token) return { headers: copy };
    delete copy[name];
    return { headers: copy, token };
  }
  return { headers: copy };
}

/** Default ClickHouse HTTP port of a self-contained (token) connection; the operator's port is never used. */
export const DEFAULT_HTTP_PORT = 8123;

/**
 * A self-contained connection (upstream §B.2): endpoint, credentials and TLS from the overrides only; the
 * operator contributes its guard rails (read-only, execution time, settings) and nothing that would let a
 * token borrow its identity (credentials, headers such as `Authorization`, client certificates, roles) or
 * its network position (`connect_host`). Always HTTP: the gateway has no other ClickHouse protocol.
 */
function selfContainedConnection(cfg: ClickHouseConfig, overrides: ConnectionOverrides): ConnectionSpec {
  const material = overrides.tlsMaterial ?? {};
  return {
    protocol: 'http',
    host: normalizeHost(overrides.host ?? ''),
    port: overrides.port ?? DEFAULT_HTTP_PORT,
    database: overrides.database ?? '',
    username: overrides.username ?? '',
    password: overrides.password ?? '',
    tls: {
      enabled: overrides.tls ?? false,
      caCert: material.caCert || undefined,
      clientCert: material.clientCert || undefined,
      clientKey: material.clientKey || undefined,
      insecureSkipVerify: material.insecureSkipVerify ?? false,
      ...(material.caCert || material.clientCert || material.clientKey ? { fromToken: true } : {}),
    },
    httpHeaders: {},
    // A copy: nothing a request does to its settings can reach the operator's map (upstream §C).
    settings: { ...(cfg.extra_settings ?? {}) },
    maxExecutionTime: cfg.max_execution_time,
    readOnly: cfg.read_only,
    embeddedPath: '',
  };
}

/** The connection for a request: the configured ClickHouse, with what an auth guard established on top. */
export function connectionFromConfig(cfg: ClickHouseConfig, overrides: ConnectionOverrides = {}): ConnectionSpec {
  if (overrides.selfContained) return selfContainedConnection(cfg, overrides);
  const tlsEnabled = overrides.tls ?? cfg.tls.enabled;
  const { headers, token } = splitBearerHeader(cfg.http_headers ?? {}, tlsEnabled);
  const bearerToken = overrides.bearerToken ?? token;
  return {
    protocol: cfg.protocol,
    host: normalizeHost(overrides.host ?? cfg.host),
    connectHost: cfg.connect_host ? normalizeHost(cfg.connect_host) : undefined,
    port: overrides.port ?? cfg.port,
    database: overrides.database ?? cfg.database,
    username: overrides.username ?? cfg.username,
    password: overrides.password ?? cfg.password,
    ...(bearerToken ? { bearerToken } : {}),
    ...(overrides.roles?.length ? { roles: [...overrides.roles] } : {}),
    tls: {
      enabled: tlsEnabled,
      caCert: cfg.tls.ca_cert || undefined,
      clientCert: cfg.tls.client_cert || undefined,
      clientKey: cfg.tls.client_key || undefined,
      insecureSkipVerify: cfg.tls.insecure_skip_verify,
    },
    httpHeaders: headers,
    settings: { ...(cfg.extra_settings ?? {}) },
    maxExecutionTime: cfg.max_execution_time,
    readOnly: cfg.read_only,
    embeddedPath: cfg.embedded_path,
  };
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The pool key: every field of the connection, so equal specs share a client and any difference (another
 * user, another token, another setting) gets its own. Hashed, so no secret is kept in the key.
 */
export function poolKey(spec: ConnectionSpec): string {
  let key = POOL_KEYS.get(spec);
  if (key === undefined) {
    key = computePoolKey(spec);
    POOL_KEYS.set(spec, key);
  }
  return key;
}

/** Specs are immutable once built; the configured one is reused for every request, so its key is hashed once. */
const POOL_KEYS = new WeakMap<ConnectionSpec, string>();

function computePoolKey(spec: ConnectionSpec): string {
  if (spec.protocol === 'embedded') return `embedded:${spec.embeddedPath}`;
  const canonical = JSON.stringify([
    spec.protocol,
    spec.host,
    spec.connectHost ?? '',
    spec.port,
    spec.database,
    spec.username,
    spec.password,
    spec.bearerToken ?? '',
    [...(spec.roles ?? [])],
    spec.tls.enabled,
    spec.tls.caCert ?? '',
    spec.tls.clientCert ?? '',
    spec.tls.clientKey ?? '',
    spec.tls.insecureSkipVerify,
    Object.entries(spec.httpHeaders).sort(),
    Object.entries(spec.settings).sort(),
    spec.maxExecutionTime,
    spec.readOnly,
  ]);
  return `http:${sha256(canonical)}`;
}

/** A description of the connection safe for logs (no password, token or header values). */
export function describeConnection(spec: ConnectionSpec): Record<string, unknown> {
  if (spec.protocol === 'embedded') return { protocol: 'embedded', path: spec.embeddedPath };
  return {
    protocol: spec.tls.enabled ? 'https' : 'http',
    host: spec.host,
    ...(spec.connectHost ? { connect_host: spec.connectHost } : {}),
    port: spec.port,
    database: spec.database,
    user: spec.bearerToken ? '(bearer token)' : spec.username,
  };
}

/** host:port actually dialled, for error messages. */
export function dialAddress(spec: ConnectionSpec): string {
  if (spec.protocol === 'embedded') return `embedded engine (${spec.embeddedPath})`;
  return `${hostForUrl(spec.connectHost ?? spec.host)}:${spec.port}`;
}

/** Values that must never appear in an error message or log line for this connection. */
export function secretsOf(spec: ConnectionSpec): string[] {
  const secrets = [spec.password, spec.bearerToken ?? ''];
  for (const [name, value] of Object.entries(spec.httpHeaders)) {
    if (/authorization|key|token|secret|password/i.test(name)) secrets.push(value);
  }
  return secrets.filter((s) => s.length > 0);
}
