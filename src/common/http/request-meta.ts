import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The header a caller may use to correlate its request with our logs; echoed on every response. */
export const REQUEST_ID_HEADER = 'X-Request-Id';

/** Label used for requests that matched no route (the raw path never becomes a label: it may carry a token). */
export const UNMATCHED_ROUTE = 'unmatched';

const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Keeps a caller's request id when it is short and plain; anything else gets a fresh UUID. */
export function resolveRequestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

interface RequestMeta {
  requestId: string;
  /** Set by handlers mounted outside Nest's router (e.g. an MCP transport) so metrics and logs can name them. */
  routeTemplate?: string;
  /** The CORS middleware answered this OPTIONS request itself; no route ran. */
  preflight?: boolean;
  /** The path carries a credential (JWE `/{token}`): logs show the route template instead. */
  secretPath?: boolean;
}

const META = Symbol('gatewayRequestMeta');

type WithMeta = IncomingMessage & { [META]?: RequestMeta };

export function initRequestMeta(req: IncomingMessage, requestId: string): void {
  (req as WithMeta)[META] = { requestId };
}

/** The id of this request (set by the request-id middleware, which runs first for every route). */
export function getRequestId(req: IncomingMessage): string | undefined {
  return (req as WithMeta)[META]?.requestId;
}

/**
 * Names the route that served this request, as a template (`/{token}`, `/mcp/{cluster}`), never the raw path.
 * Needed only by handlers that Express's router does not describe (plain `app.use` mounts); Nest controller
 * routes are named automatically.
 */
export function setRouteTemplate(req: IncomingMessage, template: string): void {
  const meta = (req as WithMeta)[META];
  if (meta) meta.routeTemplate = template;
}

/**
 * Marks a path that carries a credential (a JWE token in `/{token}`): the access log then shows the route
 * template instead. Text redaction alone only catches whole tokens; a cut or re-shaped one would be logged.
 */
export function markSecretPath(req: IncomingMessage): void {
  const meta = (req as WithMeta)[META];
  if (meta) meta.secretPath = true;
}

/** The path as the access log may show it: the route template when the path carries a credential. */
export function loggablePath(req: IncomingMessage): string {
  const meta = (req as WithMeta)[META];
  return meta?.secretPath ? routeTemplateOf(req) : pathOf(req);
}

/** Marks a request the CORS middleware answered itself (altinity-mcp counts no preflight in its metrics). */
export function markPreflight(req: IncomingMessage): void {
  const meta = (req as WithMeta)[META];
  if (meta) meta.preflight = true;
}

export function isPreflight(req: IncomingMessage): boolean {
  return (req as WithMeta)[META]?.preflight === true;
}

/** The route template that served the request, or `unmatched`. */
export function routeTemplateOf(req: IncomingMessage): string {
  const meta = (req as WithMeta)[META];
  if (meta?.routeTemplate) return meta.routeTemplate;
  const r = req as IncomingMessage & { route?: { path?: unknown }; baseUrl?: string };
  const path = r.route?.path;
  if (typeof path === 'string' && path.length > 0) return `${r.baseUrl ?? ''}${path}` || '/';
  return UNMATCHED_ROUTE;
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Request methods are client-controlled text: anything unusual is folded into `other` before it becomes a label. */
export function normalizeMethod(method: string | undefined): string {
  return method && KNOWN_METHODS.has(method) ? method : 'other';
}

/** The path without its query string (which is never logged). */
export function pathOf(req: IncomingMessage): string {
  const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  const q = url.search(/[?#]/);
  return q >= 0 ? url.slice(0, q) : url;
}
