import type { OAuthConfig } from '../../../config/config.types.js';

/**
 * Public URL derivation of the OAuth resource server (spec auth-oauth-multicluster §2.4): the URL helpers of
 * altinity-mcp's SDK `broker` package (ported by behaviour, pinned by the specs beside this file) and the rules that
 * turn a request plus `server.oauth.*` into the resource URL, the authorization-server base and the PRM URL.
 *
 * Everything here is a plain function of its inputs; the HTTP layer (not wired yet) builds a `PublicRequestView`.
 * The Host header is attacker-controlled: operators should always set `public_resource_url` (and
 * `public_auth_server_url` with the broker), which makes every URL independent of the request.
 */

export const PRM_WELL_KNOWN = '/.well-known/oauth-protected-resource';
export const AS_METADATA_WELL_KNOWN = '/.well-known/oauth-authorization-server';
export const OIDC_CONFIGURATION_WELL_KNOWN = '/.well-known/openid-configuration';

/** What the URL rules need from the incoming request. */
export interface PublicRequestView {
  /** The raw Host header (may be absent or hostile). */
  host: string | undefined;
  /** The request arrived over TLS. */
  encrypted: boolean;
  /** The request path without the query string. */
  path: string;
}

/** What the URL rules need from the server section besides `server.oauth`. */
export interface PublicServerView {
  address: string;
  port: number;
  /** `server.tls.enabled` */
  tlsEnabled: boolean;
  /** `server.openapi.tls` (altinity-mcp also reads it as "we are behind https") */
  openapiTls: boolean;
}

export type PublicUrlOAuthConfig = Pick<
  OAuthConfig,
  'public_resource_url' | 'public_auth_server_url' | 'audience' | 'issuer' | 'broker'
>;

/** `NormalizeURL`: trim whitespace and every trailing `/`. */
export function normalizeUrl(raw: string): string {
  return raw.trim().replace(/\/+$/, '');
}

/** `CanonicalResourceURL`: "" stays ""; otherwise exactly one trailing `/`. */
export function canonicalResourceUrl(raw: string): string {
  const trimmed = raw.trim();
  if (trimmed === '') return '';
  return `${trimmed.replace(/\/+$/, '')}/`;
}

/** `NormalizedPath(raw, fallback)`: fallback when blank; leading `/` ensured; `/` stays; trailing `/` stripped. */
export function normalizedPath(raw: string, fallback = ''): string {
  let path = raw.trim();
  if (path === '') path = fallback.trim();
  if (path === '') return '';
  if (!path.startsWith('/')) path = `/${path}`;
  if (path === '/') return '/';
  const stripped = path.replace(/\/+$/, '');
  return stripped === '' ? '/' : stripped;
}

/** `JoinURLPath(base, path)`: the normalised base plus the normalised path; "" or `/` returns the base. */
export function joinUrlPath(base: string, path: string): string {
  const normalizedBase = normalizeUrl(base);
  const suffix = normalizedPath(path);
  if (suffix === '' || suffix === '/') return normalizedBase;
  return normalizedBase + suffix;
}

/**
 * `SuffixPrefix(path, markers…)`: the remainder after the first marker that prefixes `path` and leaves something,
 * with a leading `/` ensured and trailing `/` trimmed. A plain string-prefix test, as in Go (`/apistuff` with marker
 * `/api` gives `/stuff`); the callers only pass well-known markers, which end in a word, so this is harmless.
 */
export function suffixPrefix(path: string, ...markers: string[]): string {
  for (const marker of markers) {
    if (!path.startsWith(marker)) continue;
    const rest = path.slice(marker.length);
    if (rest === '') continue;
    const suffix = normalizedPath(rest);
    if (suffix !== '' && suffix !== '/') return suffix;
  }
  return '';
}

/** `PathFromConfiguredURL`: the URL's path without trailing `/`; "" when it is not a URL. */
export function pathFromConfiguredUrl(raw: string): string {
  const absolute = parseAbsoluteHttpUrl(raw);
  if (!absolute) return '';
  return absolute.pathname.replace(/\/+$/, '');
}

/**
 * Characters that make a Host header unusable in a URL we publish. altinity-mcp rejects `/ < > " ' \`; we also
 * reject whitespace, control characters, `@` (userinfo: `http://evil@host`), `?`, `#`, `,` and anything outside
 * printable ASCII, so a hostile Host cannot smuggle a different authority, a query or a header break into the
 * advertised URLs (deliberate hardening; the fallback is the same as Go's).
 */
const UNSAFE_HOST = /[/<>"'\\@?#,\s]|[^\x21-\x7e]/;

/** `schemeAndHost(r)`: `https` iff TLS on the request or configured; `X-Forwarded-Proto` is ignored as in Go. */
export function schemeAndHost(request: PublicRequestView, server: PublicServerView): string {
  const scheme = request.encrypted || server.openapiTls || server.tlsEnabled ? 'https' : 'http';
  const host = request.host?.trim() ?? '';
  const usable = host !== '' && !UNSAFE_HOST.test(host) && isUrlAuthority(scheme, host);
  return `${scheme}://${usable ? host : `${server.address}:${server.port}`}`;
}

/**
 * Ours (Go checks characters only): a Host such as `a:b`, `[::1` or `a:99999` passes the character filter but is
 * no URL authority, and every URL built from it would fail to parse further on; such a Host falls back like an
 * unsafe one.
 */
function isUrlAuthority(scheme: string, host: string): boolean {
  try {
    return new URL(`${scheme}://${host}/`).hostname !== '';
  } catch {
    return false;
  }
}

function parseAbsoluteHttpUrl(raw: string): URL | undefined {
  const trimmed = raw.trim();
  if (trimmed === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    return undefined;
  }
  if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.hostname === '') return undefined;
  return parsed;
}

/**
 * `resourcePrefix(r)`: the suffix after a well-known marker in the request path, else the path of `audience`.
 *
 * Deliberate fix: Go feeds any `audience` string to `url.Parse`, which reads `clickhouse-mcp` as a relative path and
 * yields the broken resource `http://hostclickhouse-mcp`. We take the audience's path only when the audience is an
 * absolute http(s) URL; otherwise there is no prefix.
 */
export function resourcePrefix(request: PublicRequestView, oauth: PublicUrlOAuthConfig): string {
  const fromPath = suffixPrefix(request.path, PRM_WELL_KNOWN, AS_METADATA_WELL_KNOWN, OIDC_CONFIGURATION_WELL_KNOWN);
  if (fromPath !== '') return fromPath;
  // Go's second source, the path of `public_resource_url`, is always "" on this branch (it is unset here).
  return pathFromConfiguredUrl(oauth.audience);
}

/** `resourceBaseURL(r)`: `public_resource_url` (trailing `/` removed) if set, else derived from the request. */
export function resourceBaseUrl(
  request: PublicRequestView,
  server: PublicServerView,
  oauth: PublicUrlOAuthConfig,
): string {
  const configured = normalizeUrl(oauth.public_resource_url);
  if (configured !== '') return configured;
  return schemeAndHost(request, server) + resourcePrefix(request, oauth);
}

/**
 * `oauthAuthorizationServerBaseURL(r)`: `public_auth_server_url` if set, else the serving origin plus the suffix
 * after an AS/OIDC well-known marker.
 *
 * Deliberate fix: Go's last fallback is the path of `oauth.issuer`, which is the *upstream* IdP's issuer, so a
 * Keycloak issuer `…/realms/mcp` made us advertise `https://mcp-host/realms/mcp/oauth/authorize`, a route we never
 * serve. Our endpoints live at the serving origin, so there is no issuer fallback.
 */
export function authorizationServerBaseUrl(
  request: PublicRequestView,
  server: PublicServerView,
  oauth: PublicUrlOAuthConfig,
): string {
  const configured = normalizeUrl(oauth.public_auth_server_url);
  if (configured !== '') return configured;
  return schemeAndHost(request, server) + suffixPrefix(request.path, AS_METADATA_WELL_KNOWN, OIDC_CONFIGURATION_WELL_KNOWN);
}

/**
 * The PRM URL named in `resource_metadata=` of the challenge.
 *
 * - Multicluster (a cluster on the request): `<serving origin>/mcp/<cluster>/.well-known/oauth-protected-resource`,
 *   as in Go, upgraded to https when the resource base is https but the serving scheme came out http (vector 26).
 * - Otherwise the RFC 9728 §3.1 location for the resource: the well-known segment goes between the origin and the
 *   resource path. For a resource at the origin root this is byte-identical to Go; for a resource with a path Go
 *   appends the well-known segment after the path (`https://h/mcp/.well-known/…`), a URL its single-cluster mux
 *   does not serve — a deliberate difference (the path-aware route `/.well-known/oauth-protected-resource/<path>`
 *   is the one MCP clients try).
 */
export function protectedResourceMetadataUrl(
  request: PublicRequestView,
  server: PublicServerView,
  oauth: PublicUrlOAuthConfig,
  cluster?: string,
): string {
  const resourceBase = resourceBaseUrl(request, server, oauth);
  if (cluster !== undefined && cluster !== '') {
    let origin = schemeAndHost(request, server);
    if (resourceBase.startsWith('https://') && origin.startsWith('http://')) origin = `https://${origin.slice(7)}`;
    return `${origin}/mcp/${encodeURIComponent(cluster)}${PRM_WELL_KNOWN}`;
  }
  const parsed = parseAbsoluteHttpUrl(resourceBase);
  if (!parsed) return joinUrlPath(resourceBase, PRM_WELL_KNOWN);
  const resourcePath = parsed.pathname.replace(/\/+$/, '');
  return `${parsed.origin}${PRM_WELL_KNOWN}${resourcePath}`;
}
