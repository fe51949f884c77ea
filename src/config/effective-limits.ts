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

export function effectiveLimits(ch: ClickHouseConfig): EffectiveLimits {
  const rows = ch.max_result_rows === 0 && ch.limit > 0 ? ch.limit : ch.max_result_rows;
  return {
    maxResultRows: pick(rows, DEFAULT_MAX_RESULT_ROWS),
    maxResultBytes: pick(ch.max_result_bytes, DEFAULT_MAX_RESULT_BYTES),
    maxQueryLength: pick(ch.max_query_length, DEFAULT_MAX_QUERY_LENGTH),
  };
}
