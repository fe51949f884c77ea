import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { GatewayConfig } from '../../../config/config.types.js';
import { goQuote } from '../resource-server/protected-resource.js';
import type { PublicRequestView, PublicServerView } from '../resource-server/public-urls.js';

/** Go's `http.NotFound` body. */
export const NOT_FOUND_BODY = '404 page not found\n';

export function sendNotFound(res: ServerResponse): void {
  res.statusCode = 404;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Length', Buffer.byteLength(NOT_FOUND_BODY));
  res.end(NOT_FOUND_BODY);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/**
 * Go's `writeOAuthTokenError`: `{"error","error_description"}` as JSON; a 401 also carries
 * `WWW-Authenticate: Bearer error="…", error_description="…"` (vector 27). Every broker error is `no-store`:
 * none of them may be replayed from a cache.
 */
export function sendOAuthError(res: ServerResponse, status: number, error: string, description: string): void {
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
  if (status === 401) headers['WWW-Authenticate'] = `Bearer error=${goQuote(error)}, error_description=${goQuote(description)}`;
  sendJson(res, status, { error, error_description: description }, headers);
}

export function sendRedirect(res: ServerResponse, location: string): void {
  res.statusCode = 302;
  res.setHeader('Location', location);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', '0');
  res.end();
}

/** What the public-URL rules need from a request. */
export function publicRequestView(req: IncomingMessage): PublicRequestView {
  const raw = req.url ?? '/';
  const query = raw.indexOf('?');
  return {
    host: typeof req.headers.host === 'string' ? req.headers.host : undefined,
    encrypted: (req.socket as TLSSocket | undefined)?.encrypted === true,
    path: query < 0 ? raw : raw.slice(0, query),
  };
}

export function publicServerView(config: GatewayConfig): PublicServerView {
  return {
    address: config.server.address,
    port: config.server.port,
    tlsEnabled: config.server.tls.enabled,
    openapiTls: config.server.openapi.tls,
  };
}

/** The query of a request; repeated names keep the first value (Go's `Values.Get`). */
export function queryOf(req: IncomingMessage): URLSearchParams {
  const raw = req.url ?? '/';
  const index = raw.indexOf('?');
  return new URLSearchParams(index < 0 ? '' : raw.slice(index + 1));
}

/** First value per name, absent names omitted. */
export function firstValues(params: URLSearchParams, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = params.get(name);
    if (value !== null) out[name] = value;
  }
  return out;
}

/** Cookies of a request by name (first occurrence wins). */
export function cookiesOf(req: IncomingMessage): Map<string, string> {
  const jar = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!jar.has(name)) jar.set(name, part.slice(eq + 1).trim());
  }
  return jar;
}
