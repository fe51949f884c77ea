import type { IncomingMessage } from 'node:http';
import type { ServerConfig } from '../../config/config.types.js';

/**
 * Cross-site browser requests to the OpenAPI routes that run SQL. A web page can make the visitor's browser
 * send a GET (or a "simple" POST) to a gateway on loopback; without this check any page could run queries
 * through it. Browsers mark such requests with `Sec-Fetch-Site: cross-site` (another site) or `same-site`
 * (another port or subdomain of the same site); those are refused unless their `Origin` is one the operator
 * allowed (`server.allowed_origins`, or an explicit `server.cors_origin`). Requests without `Sec-Fetch-Site`
 * (curl, GPT Actions, server-side clients) and same-origin/user-initiated (`none`) requests are not affected.
 */
export function crossSiteRefusal(req: IncomingMessage, server: ServerConfig): string | undefined {
  const raw = req.headers['sec-fetch-site'];
  const site = (Array.isArray(raw) ? raw[0] : raw)?.trim().toLowerCase();
  if (site !== 'cross-site' && site !== 'same-site') return undefined;
  const origin = req.headers.origin;
  if (origin !== undefined && (server.allowed_origins.includes(origin) || (server.cors_origin !== '*' && server.cors_origin !== '' && server.cors_origin === origin))) {
    return undefined;
  }
  const from = origin === undefined ? 'without an Origin header' : `from Origin "${origin}"`;
  return `Forbidden: cross-site browser request (Sec-Fetch-Site: ${site}) ${from}; add the page's origin to server.allowed_origins to allow it`;
}
