import type { IncomingHttpHeaders } from 'node:http';
import { MAX_JWE_TOKEN_LENGTH } from './jwe-token.js';

/**
 * Where a JWE token is looked for in a request, and which MCP paths exist in JWE mode (auth spec §1.5, upstream
 * §D.1). Pure functions: the guard decides, the controllers never see a token.
 */

/** Longer candidates are refused as malformed before any decryption (the core's bound). */
export { MAX_JWE_TOKEN_LENGTH };

/** How an MCP path is served in JWE-only mode. */
export type JweMcpRoute =
  | {
      found: true;
      /** The `{token}` path value (percent-decoded), when the path carries one. */
      pathToken?: string;
      /** The path up to the transport's own part: `/{token}` as sent, or `` for the pathless form. */
      prefix: string;
      /** Metrics/log label: `/{token}`, `/{token}/sse`, `/`, `/sse` — never the raw path. */
      template: string;
    }
  | { found: false; template: string };

/** altinity-mcp's `stripTrailingSlash`: one trailing `/` removed from any path but `/`. */
export function stripOneTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** A path segment as Go's mux hands it to a handler (percent-decoded); undecodable text is kept as sent. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * The MCP routes of JWE-only mode: streamable HTTP at `/{token}`, legacy SSE at `/{token}/sse` (GET stream and
 * its message POSTs), `{token}` being exactly one non-empty segment. The pathless `/` (HTTP) and `/sse` (SSE)
 * stay routed so a client that sends its token in a header gets a clear 401 or an answer rather than a 404;
 * every other path is not found. Literal routes (`/health`, `/openapi`, …) are matched by Nest before this.
 */
export function classifyJweMcpPath(rawPath: string, transport: 'http' | 'sse'): JweMcpRoute {
  const path = stripOneTrailingSlash(rawPath);
  const segments = path.split('/').slice(1);
  if (transport === 'http') {
    if (path === '/') return { found: true, prefix: '', template: '/' };
    if (segments.length === 1 && segments[0] !== '') {
      return { found: true, pathToken: decodeSegment(segments[0]!), prefix: `/${segments[0]}`, template: '/{token}' };
    }
    return { found: false, template: '/{token}' };
  }
  if (path === '/sse') return { found: true, prefix: '', template: '/sse' };
  if (segments.length === 2 && segments[0] !== '' && segments[1] === 'sse') {
    return { found: true, pathToken: decodeSegment(segments[0]!), prefix: `/${segments[0]}`, template: '/{token}/sse' };
  }
  return { found: false, template: '/{token}/sse' };
}

/** `Authorization: Bearer <x>` or `Basic <x>`: the raw remainder (not base64-decoded, not trimmed); case-sensitive. */
function authorizationToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const scheme of ['Bearer ', 'Basic ']) {
    if (header.startsWith(scheme)) return header.slice(scheme.length) || undefined;
  }
  return undefined;
}

function singleHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** `/my-token/openapi/execute_query` → `my-token`: the segment right before a segment equal to `openapi`. */
export function segmentBeforeOpenApi(rawPath: string): string | undefined {
  const segments = rawPath.split('/');
  const at = segments.indexOf('openapi');
  if (at < 2) return undefined;
  return decodeSegment(segments[at - 1]!) || undefined;
}

/**
 * The JWE token of a request in JWE-only mode, in upstream's `ValidateAuth` order, which both the MCP transport
 * and OpenAPI use since #182: the `{token}` path value, then `Authorization: Bearer|Basic`, then
 * `x-altinity-mcp-key`, then (OpenAPI) the segment before `openapi`. The first non-empty candidate wins.
 */
export function requestJweToken(headers: IncomingHttpHeaders, pathToken: string | undefined, rawPath?: string): string | undefined {
  if (pathToken) return pathToken;
  const fromAuthorization = authorizationToken(singleHeader(headers.authorization));
  if (fromAuthorization) return fromAuthorization;
  const key = singleHeader(headers['x-altinity-mcp-key']);
  if (key) return key;
  return rawPath === undefined ? undefined : segmentBeforeOpenApi(rawPath);
}

/**
 * The JWE token of a request when OAuth is on too (auth spec §1.5(2), both surfaces): the `{token}` path value,
 * then `x-altinity-mcp-key`. `Authorization` is never read as a JWE here: it carries the OAuth bearer.
 */
export function combinedModeJweToken(headers: IncomingHttpHeaders, pathToken: string | undefined): string | undefined {
  if (pathToken) return pathToken;
  return singleHeader(headers['x-altinity-mcp-key']) || undefined;
}
