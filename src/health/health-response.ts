import type { ServerResponse } from 'node:http';

/** UTC RFC 3339 without fractional seconds, as Go's `time.RFC3339` prints it (`2026-01-02T03:04:05Z`). */
export function rfc3339Now(now: Date = new Date()): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A `/health` body value: text, or a nested object of numbers (`catalog_cache`). */
export type GoJsonValue = string | Readonly<Record<string, number>>;

/**
 * Writes a JSON object the way altinity-mcp's handlers do: `Content-Type: application/json`, top-level keys
 * sorted alphabetically (Go map encoding) and a trailing newline (`json.Encoder`). A nested object keeps its
 * field order (altinity-mcp's `catalog_cache` order, auth spec §4.4).
 */
export function sendGoJson(res: ServerResponse, status: number, body: Record<string, GoJsonValue>): void {
  const sorted: Record<string, GoJsonValue> = {};
  for (const key of Object.keys(body).sort()) sorted[key] = body[key]!;
  const text = `${JSON.stringify(sorted)}\n`;
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.setHeader('Cache-Control', 'no-store');
  res.end(text);
}

/** Go's `w.WriteHeader(http.StatusMethodNotAllowed)` with nothing written: 405 and an empty body. */
export function sendEmpty405(res: ServerResponse): void {
  res.statusCode = 405;
  res.setHeader('Content-Length', '0');
  res.end();
}
