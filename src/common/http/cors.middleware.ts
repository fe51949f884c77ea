import type { IncomingMessage, ServerResponse } from 'node:http';
import { markPreflight } from './request-meta.js';

export const CORS_ALLOW_METHODS = 'GET, POST, PUT, DELETE, OPTIONS';
export const CORS_DEFAULT_ALLOW_HEADERS =
  'Content-Type, Authorization, X-Altinity-MCP-Key, Mcp-Protocol-Version, Mcp-Method, Referer, User-Agent';

/**
 * CORS exactly as altinity-mcp does it (core.md §2.5): every response carries
 * `Access-Control-Allow-Origin: <server.cors_origin>`, and any OPTIONS request on any path is answered here
 * with 200 and an empty body, whatever route would otherwise have matched.
 */
export function createCorsMiddleware(origin: () => string) {
  return function cors(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    res.setHeader('Access-Control-Allow-Origin', origin());
    if (req.method !== 'OPTIONS') {
      next();
      return;
    }
    markPreflight(req);
    const requested = req.headers['access-control-request-headers'];
    res.setHeader('Access-Control-Allow-Methods', CORS_ALLOW_METHODS);
    res.setHeader('Access-Control-Allow-Headers', requested ? String(requested) : CORS_DEFAULT_ALLOW_HEADERS);
    res.setHeader('Access-Control-Max-Age', '86400');
    res.setHeader('Vary', 'Access-Control-Request-Headers');
    res.statusCode = 200;
    res.end();
  };
}
