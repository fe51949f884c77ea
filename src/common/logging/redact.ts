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

const SECRET_KEYS: ReadonlySet<string> = new Set(REDACTED_KEYS);
const MAX_DEPTH = 4;

/**
 * A copy of a log object with the value of every secret-named key replaced, at any depth up to four levels
 * (objects are copied only along the paths that hold a secret). pino's own wildcard redaction costs ~30 µs
 * per line; this costs well under one for the flat objects most log lines are.
 */
export function redactObject<T>(value: T, depth = 0): T {
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH || value instanceof Error) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const cleaned = redactObject(item, depth + 1);
      if (cleaned !== item) (copy ??= [...value])[i] = cleaned;
    }
    return (copy ?? value) as T;
  }
  let copy: Record<string, unknown> | undefined;
  const source = value as Record<string, unknown>;
  for (const key in source) {
    const item = source[key];
    const cleaned = SECRET_KEYS.has(key.toLowerCase()) ? (item === undefined ? item : '[redacted]') : redactObject(item, depth + 1);
    if (cleaned !== item) (copy ??= { ...source })[key] = cleaned;
  }
  return (copy ?? value) as T;
}

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
