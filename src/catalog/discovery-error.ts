/**
 * Whether a failed discovery means "this credential was refused", which is cached as a denied entry for
 * `multicluster.catalog_negative_ttl`. Decided by structure only: the HTTP status ClickHouse (or the JWT sidecar)
 * answered with, 401/403, or the exception code the data layer parsed from the header or the start of the body
 * (497 ACCESS_DENIED, 516 AUTHENTICATION_FAILED, 519 NOT_ENOUGH_PRIVILEGES, and 18.16's 192 UNKNOWN_USER,
 * 193 WRONG_PASSWORD, 194 REQUIRED_PASSWORD). altinity-mcp searches the error text for `401`/`403`/`code: 516`
 * (auth §6.2 item 8), so a timeout whose message quoted such a number would deny a good user for a minute;
 * a message is never read here.
 */
const AUTH_CODES: ReadonlySet<number> = new Set([192, 193, 194, 497, 516, 519]);
const AUTH_STATUSES: ReadonlySet<number> = new Set([401, 403]);

export function isAuthDiscoveryError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, httpStatus } = err as { code?: unknown; httpStatus?: unknown };
  if (typeof httpStatus === 'number' && AUTH_STATUSES.has(httpStatus)) return true;
  return typeof code === 'number' && AUTH_CODES.has(code);
}

/** A short class for logs and the denied entry (never the message, which may quote SQL or data). */
export function discoveryErrorClass(err: unknown): string {
  if (typeof err !== 'object' || err === null) return 'unknown';
  const { code, httpStatus, kind } = err as { code?: unknown; httpStatus?: unknown; kind?: unknown };
  if (typeof code === 'number') return `code_${code}`;
  if (typeof httpStatus === 'number') return `http_${httpStatus}`;
  return typeof kind === 'string' ? kind : 'unknown';
}
