import type { ClickHouseConfig } from './config.types.js';

export const DEFAULT_MAX_RESULT_ROWS = 500;
export const DEFAULT_MAX_RESULT_BYTES = 50_000;
export const DEFAULT_MAX_QUERY_LENGTH = 10 * 1024 * 1024;

/** The caps in force, as altinity-mcp computes them: 0 means the default, negative means no cap (undefined). */
export interface EffectiveLimits {
  maxResultRows?: number;
  maxResultBytes?: number;
  maxQueryLength?: number;
}

const pick = (value: number, fallback: number): number | undefined => (value < 0 ? undefined : value === 0 ? fallback : value);

/**
 * `connection` is the request's connection overrides: a self-contained (JWE token) connection brings its own
 * deprecated `limit` and never inherits the operator's (upstream §B.2); the operator's caps still apply.
 */
export function effectiveLimits(ch: ClickHouseConfig, connection?: { selfContained?: boolean; limit?: number }): EffectiveLimits {
  const legacyLimit = connection?.selfContained ? (connection.limit ?? 0) : ch.limit;
  const rows = ch.max_result_rows === 0 && legacyLimit > 0 ? legacyLimit : ch.max_result_rows;
  return {
    maxResultRows: pick(rows, DEFAULT_MAX_RESULT_ROWS),
    maxResultBytes: pick(ch.max_result_bytes, DEFAULT_MAX_RESULT_BYTES),
    maxQueryLength: pick(ch.max_query_length, DEFAULT_MAX_QUERY_LENGTH),
  };
}

export const DEFAULT_JWE_GENERATOR_MAX_EXPIRY_SECONDS = 86_400;

/** `server.jwe.token_generator.max_expiry_seconds` in force: 0 (or unset) means one day (upstream §G.1). */
export function jweGeneratorMaxExpirySeconds(maxExpirySeconds: number): number {
  return maxExpirySeconds > 0 ? maxExpirySeconds : DEFAULT_JWE_GENERATOR_MAX_EXPIRY_SECONDS;
}
