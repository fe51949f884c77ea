import { RE2JS } from 're2js';
import { REMOVED_KEYS, removedKeyWarning } from '../../config/config.fields.js';
import type { OAuthConfig } from '../../config/config.types.js';

/**
 * Boot-time checks of `server.oauth.*` (spec auth §2.3) and the removed-key warnings (§2.13), as a pure function
 * so the rules can be tested one by one before OAuth is wired into the boot.
 *
 * Messages are altinity-mcp's, byte for byte, so an operator who searches one finds the Go documentation too.
 * Go stops at the first error; we return every issue, in Go's order, so `issues[0]` is what Go would print and an
 * operator fixes a broken file in one pass rather than one restart per mistake.
 */

/** The parts of the gateway config the checks read (a `GatewayConfig` fits). */
export interface OAuthCheckInput {
  clickhouse: { protocol: string };
  server: {
    oauth: Pick<
      OAuthConfig,
      | 'enabled'
      | 'broker'
      | 'issuer'
      | 'jwks_url'
      | 'audience'
      | 'public_resource_url'
      | 'client_id'
      | 'client_secret'
      | 'auth_url'
      | 'token_url'
      | 'signing_secret'
      | 'role_filter'
    >;
  };
}

export interface OAuthConfigCheckResult {
  /** Problems that must stop the boot, in altinity-mcp's order. */
  issues: string[];
  /** Things to log at warn level; the boot goes on. */
  warnings: string[];
}

/** Go's floor for the HKDF master secret of the broker artifacts (counted in UTF-8 bytes after trimming). */
export const MIN_SIGNING_SECRET_BYTES = 32;

export const PUBLIC_RESOURCE_URL_UNSET_WARNING =
  'OAuth: public_resource_url is not set — the resource indicator validation (RFC 8707) and the advertised ' +
  'RFC 9728 `resource` URL fall back to the request Host header. For production deployments behind a single ' +
  'canonical hostname, set MCP_OAUTH_PUBLIC_RESOURCE_URL to lock the resource identity.';

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '::1']);

/**
 * @param rawFile the config file as parsed YAML/JSON, before defaults (optional): removed keys are only visible
 *   there, since the typed config has no place for them. Removed-key warnings do not depend on OAuth being on.
 */
export function checkOAuthConfig(cfg: OAuthCheckInput, rawFile?: unknown): OAuthConfigCheckResult {
  const issues: string[] = [];
  const warnings: string[] = removedKeyWarnings(rawFile);
  const oauth = cfg.server.oauth;
  if (!oauth.enabled) return { issues, warnings };

  // Issuer and JWKS are fetched and trusted to validate signatures: plaintext on a remote host hands the
  // signing keys to whoever sits on the path.
  pushIfSet(issues, httpsUrlIssue('oauth.issuer', oauth.issuer));
  pushIfSet(issues, httpsUrlIssue('oauth.jwks_url', oauth.jwks_url));

  if (cfg.clickhouse.protocol !== 'http') issues.push('oauth requires clickhouse protocol http');

  if (oauth.broker) {
    const upstream: Array<[string, string]> = [
      ['client_id', oauth.client_id],
      ['client_secret', oauth.client_secret],
      ['auth_url', oauth.auth_url],
      ['token_url', oauth.token_url],
    ];
    const missing = upstream.filter(([, value]) => trim(value) === '').map(([name]) => name);
    if (missing.length > 0) issues.push(`oauth: broker=true requires upstream IdP fields: ${missing.join(', ')}`);
    const secret = trim(oauth.signing_secret);
    const secretBytes = Buffer.byteLength(secret, 'utf8');
    if (secret === '') {
      issues.push('oauth signing_secret is required when oauth.broker=true');
    } else if (secretBytes < MIN_SIGNING_SECRET_BYTES) {
      issues.push(
        `oauth signing_secret must be at least ${MIN_SIGNING_SECRET_BYTES} bytes (got ${secretBytes}) — short secrets weaken JWE key wrapping; generate with \`openssl rand -base64 32\` or similar`,
      );
    }
  } else {
    if (trim(oauth.issuer) === '') {
      issues.push(
        'oauth: broker=false requires oauth.issuer (the external AS, e.g. https://your-tenant.us.auth0.com/ or https://accounts.google.com)',
      );
    }
    if (trim(oauth.audience) === '') {
      issues.push('oauth: broker=false requires oauth.audience — it must byte-equal the MCP public resource URL (RFC 8707)');
    }
  }

  const roleFilter = trim(oauth.role_filter);
  if (roleFilter !== '') {
    const reason = re2CompileError(roleFilter);
    if (reason !== undefined) issues.push(`oauth: role_filter is not a valid regex: ${reason}`);
  }

  if (trim(oauth.public_resource_url) === '') warnings.push(PUBLIC_RESOURCE_URL_UNSET_WARNING);
  return { issues, warnings };
}

/**
 * Go's `requireHTTPSOAuthURL`: empty is fine; otherwise it must parse with a host, and be https, or http on a
 * loopback name. `<field>` is Go's spelling (`oauth.issuer`), kept for the documentation's sake.
 */
export function httpsUrlIssue(field: string, rawValue: string): string | undefined {
  const raw = trim(rawValue);
  if (raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return `${field} is not a valid URL: ${goQuote(raw)}`;
  }
  if (parsed.host === '') return `${field} is not a valid URL: ${goQuote(raw)}`;
  const scheme = parsed.protocol.replace(/:$/, '');
  if (scheme === 'https') return undefined;
  if (scheme === 'http') {
    // WHATWG keeps IPv6 brackets in `hostname`; Go's Hostname() drops them.
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    if (LOOPBACK_HOSTS.has(host)) return undefined;
    return `${field} must use https:// (got ${goQuote(raw)}) — http on a remote host lets a network attacker inject signing keys and forge any bearer`;
  }
  return `${field} must use https:// (got scheme ${goQuote(scheme)} in ${goQuote(raw)})`;
}

/** One warning per removed key present in the file (§2.13), in the order of the removed-key table. */
export function removedKeyWarnings(rawFile: unknown): string[] {
  if (!isRecord(rawFile)) return [];
  const warnings: string[] = [];
  for (const [path, hint] of REMOVED_KEYS) {
    if (hasPath(rawFile, path.split('.'))) warnings.push(removedKeyWarning(path, hint));
  }
  return warnings;
}

function hasPath(obj: Record<string, unknown>, parts: string[]): boolean {
  let node: unknown = obj;
  for (const part of parts) {
    if (!isRecord(node) || !Object.prototype.hasOwnProperty.call(node, part)) return false;
    node = node[part];
  }
  return true;
}

function re2CompileError(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (err) {
    // re2js raises Go's own parse messages ("error parsing regexp: missing closing ]: `[`").
    return err instanceof Error ? err.message : String(err);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function pushIfSet(list: string[], item: string | undefined): void {
  if (item !== undefined) list.push(item);
}

/** Go's strings.TrimSpace; tolerant of a non-string where a file put a number or nothing. */
function trim(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

/** Go's %q for the printable strings a config holds (JSON quoting agrees with it there). */
function goQuote(value: string): string {
  return JSON.stringify(value);
}
