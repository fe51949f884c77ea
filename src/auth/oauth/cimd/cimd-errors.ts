/**
 * The four CIMD failure classes of altinity-mcp (`cimd.go`), with Go's exact texts as the message prefix
 * (auth-oauth-multicluster §2.7). The kind decides caching: `fetch` is transient and never negative-cached.
 */
export type CimdErrorKind = 'invalid_url' | 'ssrf_blocked' | 'fetch' | 'invalid_metadata';

export const CIMD_ERROR_TEXT: Readonly<Record<CimdErrorKind, string>> = {
  invalid_url: 'cimd: invalid client_id URL',
  ssrf_blocked: 'cimd: target address blocked by SSRF policy',
  fetch: 'cimd: metadata fetch failed',
  invalid_metadata: 'cimd: invalid metadata document',
};

export class CimdError extends Error {
  constructor(
    readonly kind: CimdErrorKind,
    /** Why, in words a client developer can act on; never contains fetched content beyond short quoted values. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${CIMD_ERROR_TEXT[kind]}: ${detail}`, options);
    this.name = 'CimdError';
  }
}

/** Quotes a client-supplied value for an error text, cut short so a hostile document cannot flood logs. */
export function quoteForError(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text);
}
