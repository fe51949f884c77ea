import { ALWAYS_BLOCKED_INPUT_SETTINGS, DEFAULT_PROTECTED_SETTINGS, isValidSettingPattern, protectedBy } from '../sql/protected-settings.js';
import { isOutboundName } from '../sql/table-functions.js';
import { checkOAuthConfig } from '../auth/oauth/oauth-config-checks.js';
import { CLUSTER_PLACEHOLDER, isValidClusterName } from '../clusters/cluster-name.js';
import type { GatewayConfig } from './config.types.js';
import { formatDuration } from './duration.js';

/** altinity-mcp's blocked `tool_input_settings` names; the rule itself lives in src/sql/protected-settings.ts. */
export const BLOCKED_TOOL_INPUT_SETTINGS: ReadonlySet<string> = new Set(ALWAYS_BLOCKED_INPUT_SETTINGS);

const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', 'localhost', '[::1]']);

export function isLoopbackAddress(address: string): boolean {
  return LOOPBACK_ADDRESSES.has(address) || /^127\.\d+\.\d+\.\d+$/.test(address);
}

/** altinity-mcp's `connect_host` rule: a bare hostname or unbracketed IP, nothing else. Returns the error text. */
export function checkConnectHost(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.trim() !== value) return 'clickhouse.connect_host must not contain surrounding whitespace';
  if (isIpAddress(value)) return undefined;
  if (/[/\\?#@[\]:]/.test(value)) {
    return `clickhouse.connect_host "${value}" must contain only a hostname or unbracketed IP address, without a scheme, port, path, userinfo, query, or fragment`;
  }
  const host = value.endsWith('.') ? value.slice(0, -1) : value;
  if (host.length === 0 || host.length > 253 || !host.split('.').every((label) => HOST_LABEL.test(label))) {
    return `clickhouse.connect_host "${value}" is not a valid hostname or IP address`;
  }
  return undefined;
}

function isIpAddress(value: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(value)) return value.split('.').every((o) => Number(o) <= 255);
  // IPv6: hex groups and colons (one "::"), optionally ending in a dotted IPv4.
  if (!/^[0-9A-Fa-f:.]+$/.test(value) || !value.includes(':')) return false;
  if ((value.match(/::/g) ?? []).length > 1) return false;
  const groups = value.split(':');
  return groups.length >= 3 && groups.length <= 8 && groups.every((g) => g === '' || /^[0-9A-Fa-f]{1,4}$/.test(g) || /^\d+\.\d+\.\d+\.\d+$/.test(g));
}

/** Checks `tool_input_settings` as altinity-mcp does: blocked names and duplicates are errors. */
export function checkToolInputSettings(
  names: readonly string[],
  issues: string[],
  warnings: string[],
  protectedSettings: readonly string[] = DEFAULT_PROTECTED_SETTINGS,
): void {
  const seen = new Set<string>();
  for (const name of names) {
    const lower = name.toLowerCase();
    const pattern = protectedBy(name, protectedSettings);
    if (BLOCKED_TOOL_INPUT_SETTINGS.has(lower)) {
      issues.push(`server.tool_input_settings: tool_input_settings: setting "${name}" is blocked (callers may never change it)`);
    } else if (pattern) {
      issues.push(
        `server.tool_input_settings: setting "${name}" is protected by server.protected_settings pattern "${pattern}" (callers may not change it); remove it here or from server.protected_settings`,
      );
    } else if (seen.has(lower)) {
      issues.push(`server.tool_input_settings: tool_input_settings: duplicate setting "${name}"`);
    } else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      issues.push(`server.tool_input_settings: "${name}" is not a ClickHouse setting name (letters, digits and _ only)`);
    } else if (!lower.startsWith('custom_')) {
      warnings.push(
        `tool_input_settings: setting "${name}" does not start with 'custom_'; ensure custom_settings_prefixes is configured on ClickHouse`,
      );
    }
    seen.add(lower);
  }
}

/**
 * `server.jwe.token_generator` (upstream §G.1): the generator mints connection tokens for any host, so it only
 * exists behind JWE and a long admin secret. The secret itself is never echoed.
 */
function checkJweTokenGenerator(cfg: GatewayConfig, issues: string[]): void {
  const gen = cfg.server.jwe.token_generator;
  if (gen.max_expiry_seconds < 0) {
    issues.push('server.jwe.token_generator.max_expiry_seconds: max_expiry_seconds must be positive');
  }
  if (!gen.enabled) return;
  if (!cfg.server.jwe.enabled) {
    issues.push('server.jwe.token_generator.enabled: the JWE token generator requires server.jwe.enabled');
  }
  if (Buffer.byteLength(gen.admin_token, 'utf8') < 32) {
    issues.push('server.jwe.token_generator.admin_token: admin_token must be at least 32 bytes when the JWE token generator is enabled');
  }
}

/** Cross-key rules that a single key's type cannot express. Adds one issue per broken rule. */
export function validateConfig(cfg: GatewayConfig, issues: string[], warnings: string[]): void {
  const chc = cfg.clickhouse;
  const connectHostIssue = checkConnectHost(chc.connect_host);
  if (connectHostIssue) issues.push(connectHostIssue);
  if (chc.host.trim() === '') issues.push('clickhouse.host: must not be empty');
  if (chc.host.startsWith('[') !== chc.host.endsWith(']')) issues.push(`clickhouse.host: "${chc.host}" has an unbalanced IPv6 bracket`);
  if (/^[a-z]+:\/\//i.test(chc.host)) {
    issues.push(`clickhouse.host: "${chc.host}" must be a host name, not a URL (use clickhouse.tls.enabled for https)`);
  }
  if (Boolean(chc.tls.client_cert) !== Boolean(chc.tls.client_key)) {
    issues.push('clickhouse.tls.client_cert: client_cert and client_key must be set together');
  }
  for (const name of Object.keys(chc.http_headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) issues.push(`clickhouse.http_headers: "${name}" is not a valid HTTP header name`);
  }
  for (const name of Object.keys(chc.extra_settings)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) issues.push(`clickhouse.extra_settings: "${name}" is not a ClickHouse setting name`);
  }
  if (chc.limit > 0) {
    warnings.push('clickhouse.limit is deprecated; use clickhouse.max_result_rows');
  }
  if (chc.protocol === 'embedded' && cfg.server.transport !== 'stdio' && !isLoopbackAddress(cfg.server.address)) {
    issues.push(
      `clickhouse.protocol: "embedded" runs an in-process development engine with no users or passwords, so the gateway only listens on loopback with it; set server.address to 127.0.0.1 (got "${cfg.server.address}")`,
    );
  }

  const srv = cfg.server;
  if (srv.tls.enabled && (!srv.tls.cert_file || !srv.tls.key_file)) {
    issues.push('server.tls.enabled: needs server.tls.cert_file and server.tls.key_file');
  }
  checkToolInputSettings(srv.tool_input_settings, issues, warnings, srv.protected_settings);
  for (const pattern of srv.protected_settings) {
    if (!isValidSettingPattern(pattern)) {
      issues.push(`server.protected_settings: "${pattern}" is not a setting name or pattern (letters, digits, _ and *)`);
    }
  }
  for (const name of srv.allowed_table_functions) {
    if (name !== '*' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      issues.push(`server.allowed_table_functions: "${name}" is not a table function name (letters, digits and _, or * for all)`);
    } else if (chc.protocol === 'embedded' && (name === '*' || isOutboundName(name))) {
      issues.push(
        `server.allowed_table_functions: "${name}" cannot be allowed with clickhouse.protocol "embedded" (the engine runs inside the gateway, so network and file functions stay refused; only local-data table functions may be added)`,
      );
    }
  }
  for (const clause of srv.blocked_query_clauses) {
    if (!/^[A-Za-z][A-Za-z ]*$/.test(clause)) {
      issues.push(`server.blocked_query_clauses: "${clause}" is not a clause name (letters and spaces, e.g. SETTINGS, INTO OUTFILE)`);
    }
  }

  if (srv.jwe.enabled && srv.jwe.jwe_secret_key === '') {
    issues.push('server.jwe.enabled: JWE encryption is enabled but no JWE secret key is provided');
  }
  if (srv.jwe.enabled && srv.transport === 'stdio') {
    // A stdio client has no path or header to carry a token: every call would run without one. Refused rather
    // than falling back to the static credentials.
    issues.push('server.jwe.enabled: JWE tokens travel in HTTP paths and headers; the stdio transport cannot carry them (use transport http or sse)');
  }
  checkJweTokenGenerator(cfg, issues);
  // OAuth (auth spec §2.3): altinity-mcp's boot checks and messages, each under the key an operator edits.
  // Removed legacy keys are reported by the loader (it sees the raw file); JWE together with OAuth is allowed.
  const oauthCheck = checkOAuthConfig(cfg);
  for (const issue of oauthCheck.issues) issues.push(`${oauthIssueKey(issue)}: ${issue}`);
  warnings.push(...oauthCheck.warnings);
  if (srv.oauth.enabled && srv.transport === 'stdio') {
    // Same reason as JWE: a stdio client has no header to carry a bearer, so every call would be refused.
    issues.push('server.oauth.enabled: OAuth bearers travel in the HTTP Authorization header; the stdio transport cannot carry them (use transport http or sse)');
  }

  validateMulticluster(cfg, issues, warnings);
}

/** altinity-mcp's warning for a host without `{cluster}` (exact text; logged at boot). */
export const MULTICLUSTER_NO_PLACEHOLDER_WARNING =
  'multicluster: clickhouse.host does not contain the {cluster} placeholder — all clusters will route to the same host. Almost certainly a misconfiguration; set host to e.g. chi-{cluster}-{cluster}-0-0.demo';

/**
 * `validateMulticlusterRuntimeConfig` (auth spec §3.2): altinity-mcp's texts in its order, each under the key an
 * operator edits; plus the start-time transport rule. Go stops at the first; we list every broken rule. The
 * OAuth rules run before (above). Deliberately stricter than Go: the cache sizes and the allowlist are checked
 * even while multicluster is off, so a typo is found before the day it is switched on.
 */
function validateMulticluster(cfg: GatewayConfig, issues: string[], warnings: string[]): void {
  const mc = cfg.multicluster;
  const srv = cfg.server;
  if (mc.enabled) {
    if (srv.jwe.enabled) {
      issues.push(
        'server.jwe.enabled: multicluster: JWE is incompatible with multicluster mode (JWE claims carry their own host — bypass cluster routing). Disable server.jwe.enabled or server.multicluster.enabled',
      );
    }
    if (!srv.oauth.enabled) {
      issues.push(
        'server.oauth.enabled: multicluster: requires OAuth (server.oauth.enabled=true) — multicluster relies on per-bearer cache keying and per-cluster PRM advertisement',
      );
    }
    if (srv.openapi.enabled) {
      issues.push('server.openapi.enabled: multicluster: OpenAPI must be disabled in v1 (server.openapi.enabled=false) — per-cluster OpenAPI schema is deferred to v2');
    }
    if (srv.transport !== 'http') {
      issues.push(
        `server.transport: multicluster mode requires transport: http (got ${JSON.stringify(srv.transport)}) — stdio/sse cannot carry per-cluster routing`,
      );
    }
    if (!cfg.clickhouse.host.includes(CLUSTER_PLACEHOLDER)) warnings.push(MULTICLUSTER_NO_PLACEHOLDER_WARNING);
  }
  if (mc.catalog_cache_max < 100) {
    issues.push(
      `multicluster.catalog_cache_max: multicluster: catalog_cache_max=${mc.catalog_cache_max} is too small (min 100) — the cache would thrash under any meaningful number of concurrent users`,
    );
  }
  if (mc.catalog_ttl_fallback < 60_000 || mc.catalog_ttl_fallback > 24 * 3_600_000) {
    issues.push(`multicluster.catalog_ttl_fallback: multicluster: catalog_ttl_fallback=${formatDuration(mc.catalog_ttl_fallback)} must be between 1m and 24h`);
  }
  if (mc.catalog_negative_ttl < 10_000 || mc.catalog_negative_ttl > 300_000) {
    issues.push(`multicluster.catalog_negative_ttl: multicluster: catalog_negative_ttl=${formatDuration(mc.catalog_negative_ttl)} must be between 10s and 5m`);
  }
  for (const entry of mc.cluster_allowlist) {
    const name = entry.trim();
    if (name !== '' && !isValidClusterName(name)) {
      issues.push(`multicluster.cluster_allowlist: multicluster: cluster_allowlist entry ${JSON.stringify(name)} is not a valid RFC 1123 DNS label`);
    }
  }
}

/** The config key an OAuth boot message is about (the messages themselves are altinity-mcp's, unchanged). */
function oauthIssueKey(issue: string): string {
  if (issue.startsWith('oauth.issuer') || issue.includes('requires oauth.issuer')) return 'server.oauth.issuer';
  if (issue.startsWith('oauth.jwks_url')) return 'server.oauth.jwks_url';
  if (issue.includes('clickhouse protocol')) return 'clickhouse.protocol';
  if (issue.includes('upstream IdP fields')) return 'server.oauth.broker';
  if (issue.includes('signing_secret')) return 'server.oauth.signing_secret';
  if (issue.includes('oauth.audience')) return 'server.oauth.audience';
  if (issue.includes('role_filter')) return 'server.oauth.role_filter';
  return 'server.oauth';
}
