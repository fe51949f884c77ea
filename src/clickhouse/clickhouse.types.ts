/**
 * The contract of the ClickHouse module: the only place in the gateway that talks to ClickHouse.
 * It knows nothing of MCP or HTTP requests; callers pass a ConnectionSpec and get rows or a ClickHouseQueryError.
 */

import type { QueryEvent as PublishedQueryEvent } from '../common/events/query-events.js';

export interface ConnectionTls {
  enabled: boolean;
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  insecureSkipVerify: boolean;
  /** The file paths came from a JWE token: a failure to load them is reported without paths or loader errors. */
  fromToken?: boolean;
}

/** Everything needed to reach ClickHouse as one identity. Equal specs share one pooled client. */
export interface ConnectionSpec {
  protocol: 'http' | 'embedded';
  host: string;
  /** Address actually dialled; `host` stays the HTTP Host and TLS server name. */
  connectHost?: string;
  port: number;
  database: string;
  username: string;
  password: string;
  bearerToken?: string;
  roles?: string[];
  tls: ConnectionTls;
  httpHeaders: Record<string, string>;
  /** Settings sent with every query (`clickhouse.extra_settings`). */
  settings: Record<string, string>;
  /** Seconds; sent as `max_execution_time` and used for the client-side deadline. */
  maxExecutionTime: number;
  /** When true, every query also carries ClickHouse's `readonly` setting. */
  readOnly: boolean;
  embeddedPath: string;
}

export interface QueryOptions {
  /** Aborting it cancels the query on the server too (KILL QUERY by id). */
  signal?: AbortSignal;
  /** Extra per-query settings (already allowlisted by the caller). */
  settings?: Record<string, string>;
  /** Defaults to a random UUID; returned in results and errors for correlation. */
  queryId?: string;
  /** Stop reading after this many rows (and mark the result truncated). */
  maxRows?: number;
  /** Stop reading once the approximate encoded size passes this many bytes (the crossing row is kept). */
  maxBytes?: number;
  /** Force ClickHouse `readonly` for this query even if the connection is not read-only. */
  readOnly?: boolean;
  /**
   * Values for `{name:Type}` placeholders in the SQL, sent as ClickHouse query parameters (never spliced into
   * the SQL text). Needs a server that supports them (19.15+; every server with parameterized views does).
   */
  params?: Record<string, string | number>;
}

/**
 * A number whose JSON text must be kept exactly (64-bit and wider integers, decimals): JavaScript numbers
 * would round them. Result encoders write `text` verbatim.
 */
export class ExactNumber {
  constructor(readonly text: string) {}
  toJSON(): string {
    return this.text;
  }
}

export interface Truncation {
  reason: 'max_result_rows' | 'max_result_bytes';
  limit: number;
  returned_rows: number;
  returned_bytes_approx: number;
}

export interface TabularResult {
  columns: string[];
  types: string[];
  /** Values: null, boolean, number, string, ExactNumber, arrays and plain objects of those. */
  rows: unknown[][];
  truncated?: Truncation;
  queryId: string;
  /** Approximate encoded size of the returned rows, as altinity-mcp counts it. */
  approxBytes: number;
}

export type ClickHouseErrorKind =
  | 'auth_failed'
  | 'unknown_table'
  | 'unknown_database'
  | 'unknown_identifier'
  | 'syntax'
  | 'readonly'
  | 'timeout'
  | 'too_many_rows'
  | 'cancelled'
  | 'unreachable'
  | 'memory'
  /** Refused by the gateway before it reached ClickHouse (the query guard, or INTO OUTFILE on the embedded engine). */
  | 'rejected'
  | 'other';

/** Options of `ClickHouseService.command()` (statements without a result set). */
export interface CommandOptions {
  /** Aborting it cancels the statement on the server too (KILL QUERY by id). */
  signal?: AbortSignal;
  /** Extra per-statement settings (already allowlisted by the caller). */
  settings?: Record<string, string>;
  queryId?: string;
  /** Force ClickHouse `readonly` for this statement even if the connection is not read-only. */
  readOnly?: boolean;
}

export interface CommandResult {
  queryId: string;
}

export interface PingOptions {
  signal?: AbortSignal;
  /** Gives up after this many milliseconds (default 5000). */
  timeoutMs?: number;
}

/**
 * What the data layer reports after every ClickHouse call (see `ClickHouseService.onQuery`): the contract in
 * `common/events`, with the label fields narrowed to the data layer's own sets.
 */
export interface QueryEvent extends PublishedQueryEvent {
  errorKind?: ClickHouseErrorKind;
  truncated?: Truncation['reason'];
}

export type QueryListener = (event: QueryEvent) => void;
