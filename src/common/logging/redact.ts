/** Field names whose values never reach a log line, wherever they appear in a logged object. */
export const REDACTED_KEYS = [
  'password',
  'authorization',
  'cookie',
  'set-cookie',
  'x-altinity-mcp-key',
  'x-clickhouse-key',
  'token',
  'access_token',
  'refresh_token',
  'jwe_secret_key',
  'jwt_secret_key',
  'client_secret',
  'signing_secret',
  'secret',
] as const;

/** pino `redact` paths covering those keys at the depths the gateway logs them. */
export const PINO_REDACT_PATHS = [
  ...REDACTED_KEYS.map((k) => `["${k}"]`),
  ...REDACTED_KEYS.map((k) => `*["${k}"]`),
  ...REDACTED_KEYS.map((k) => `*.*["${k}"]`),
  'req.headers.authorization',
  'req.headers.cookie',
];

// A compact JWE (five base64url segments) or JWS/JWT (three) in a URL path or text.
const TOKEN_LIKE = /\b[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]{4,}){2,4}\b/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const URL_CREDENTIALS = /(\/\/)[^/\s:@]+:[^/\s@]+@/g;
const PASSWORD_PAIRS = /\b(password|passwd|pwd|secret|token|key)=([^&\s,;]+)/gi;

/** Removes anything that looks like a credential from free text (error messages, URLs, paths). */
export function redactText(text: string): string {
  return text
    .replace(BEARER, '$1 [redacted]')
    .replace(URL_CREDENTIALS, '$1[redacted]@')
    .replace(PASSWORD_PAIRS, '$1=[redacted]')
    .replace(TOKEN_LIKE, '[redacted-token]');
}
