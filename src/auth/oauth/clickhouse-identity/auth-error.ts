/**
 * Whether a ClickHouse connection error means "this credential was refused" (spec auth §2.12,
 * `ClassifyDiscoveryError`): the signal to fall back from Bearer to Basic. It is a substring test on the error
 * text, as in altinity-mcp: HTTP 401/403 (the sidecar's answers), ClickHouse's "Token authentication is not
 * configured", or a first `code: NNN` that is ACCESS_DENIED (497), AUTHENTICATION_FAILED (516) or
 * NOT_ENOUGH_PRIVILEGES (519). Timeouts, refused connections and unknown errors are not auth errors, so they
 * never push a caller onto the other method.
 */
const AUTH_ERROR_MARKERS = ['401', 'Unauthorized', '403', 'Forbidden', 'Token authentication is not configured'];
const AUTH_ERROR_CODES: ReadonlySet<string> = new Set(['497', '516', '519']);

export function isClickHouseAuthError(message: string): boolean {
  if (AUTH_ERROR_MARKERS.some((marker) => message.includes(marker))) return true;
  const code = /code: (\d+)/i.exec(message);
  return code !== null && AUTH_ERROR_CODES.has(code[1]);
}
