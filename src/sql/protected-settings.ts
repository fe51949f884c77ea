/**
 * ClickHouse settings a caller may never change, whether through a tool's `settings` argument or through
 * `SETTINGS …` / `SET …` in the SQL text. One home for the rule: the config validation of
 * `server.tool_input_settings`, the `settings` argument check and the SQL-text check all ask this module.
 */

/**
 * altinity-mcp's blocked list for `tool_input_settings` (names only, exact, any case). These stay blocked
 * for the `settings` argument whatever `server.protected_settings` says: they carry the connection's
 * identity or its read-only mode.
 */
export const ALWAYS_BLOCKED_INPUT_SETTINGS: readonly string[] = [
  'readonly',
  'allow_ddl',
  'allow_introspection_functions',
  'max_execution_time',
  'max_memory_usage',
  'max_result_rows',
  'max_result_bytes',
  'max_rows_to_read',
  'max_bytes_to_read',
  'password',
  'user',
  'database',
];

/**
 * The default of `server.protected_settings` (`*` matches any run of characters, case-insensitive):
 * - `readonly`, `allow_*`: the read-only mode and every feature switch (`allow_ddl`, `allow_introspection_functions`,
 *   `allow_experimental_*`…);
 * - the limits: `max_execution_time*`, `max_estimated_execution_time`, `max_result_*`, `max_memory_usage*`,
 *   `max_rows_*` and `max_bytes_*` (read, sort, group by, join, set, distinct, transfer), `max_threads`,
 *   `max_concurrent_queries*`, `max_network_*`, `max_query_size`, `max_ast_*`, `max_expanded_ast_elements`,
 *   `max_parser_depth`, `max_columns_to_read`, `max_temporary_*`. Tuning knobs such as `max_block_size` are
 *   not limits and stay free;
 * - `*_overflow_mode`: `throw` ↔ `break` decides whether a limit stops the query or silently cuts it;
 * - `min_execution_speed*`, `timeout_*` and `*_timeout`: the other half of the time limits;
 * - `profile`: switching the settings profile would swap every limit at once;
 * - `log_queries*`: a caller must not take its queries out of the server's query log;
 * - `user`, `password`, `database`: identity, as altinity-mcp.
 */
export const DEFAULT_PROTECTED_SETTINGS: readonly string[] = [
  'readonly',
  'allow_*',
  'max_execution_time*',
  'max_estimated_execution_time',
  'max_result_*',
  'max_memory_usage*',
  'max_rows_*',
  'max_bytes_*',
  'max_threads',
  'max_concurrent_queries*',
  'max_network_*',
  'max_query_size',
  'max_ast_*',
  'max_expanded_ast_elements',
  'max_parser_depth',
  'max_columns_to_read',
  'max_temporary_*',
  '*_overflow_mode',
  'min_execution_speed*',
  'timeout_*',
  '*_timeout',
  'profile',
  'log_queries*',
  'user',
  'password',
  'database',
];

const patternCache = new Map<string, RegExp>();

function patternRegExp(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (!re) {
    const body = pattern
      .trim()
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${body}$`, 'i');
    if (patternCache.size < 1000) patternCache.set(pattern, re);
  }
  return re;
}

/** True when a pattern of `server.protected_settings` is well formed: a setting name, optionally with `*`. */
export function isValidSettingPattern(pattern: string): boolean {
  return /^[A-Za-z0-9_*]+$/.test(pattern) && /[A-Za-z0-9_]/.test(pattern);
}

/** The first pattern of `patterns` that matches setting `name` (case-insensitive), or undefined. */
export function protectedBy(name: string, patterns: readonly string[]): string | undefined {
  return patterns.find((p) => patternRegExp(p).test(name));
}

/** True when the `settings` argument may not carry `name`: altinity-mcp's list or a protected pattern. */
export function isBlockedInputSetting(name: string, patterns: readonly string[]): boolean {
  const lower = name.toLowerCase();
  return ALWAYS_BLOCKED_INPUT_SETTINGS.includes(lower) || protectedBy(name, patterns) !== undefined;
}
