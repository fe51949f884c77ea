/**
 * Argument checks for the tools. altinity-mcp's Go SDK does not validate `arguments` against the advertised
 * input schema; here the schema is enforced (unknown names, types, required values), while every check that
 * altinity-mcp does have keeps its exact error text.
 */
import { closestMatch } from '../../config/did-you-mean.js';
import { goQuote } from '../../common/go-compat.js';
import { DEFAULT_PROTECTED_SETTINGS, isBlockedInputSetting } from '../../sql/protected-settings.js';
import type { SqlPolicy } from '../../sql/sql-policy.js';
import { checkSqlText } from './sql-checks.js';
import type { Checked } from './tool-types.js';

export type ToolArguments = Record<string, unknown>;

/**
 * Tool arguments as an object: absent or `null` → `{}` (as in Go); any other non-object gives Go's text
 * `failed to parse tool arguments: json: cannot unmarshal <kind> into Go value of type map[string]interface {}`.
 */
export function normalizeArguments(raw: unknown): Checked<ToolArguments> {
  if (raw === undefined || raw === null) return { ok: true, value: {} };
  if (typeof raw === 'object' && !Array.isArray(raw)) return { ok: true, value: raw as ToolArguments };
  const kind = Array.isArray(raw) ? 'array' : typeof raw === 'boolean' ? 'bool' : typeof raw === 'string' ? 'string' : 'number';
  return {
    ok: false,
    message: `failed to parse tool arguments: json: cannot unmarshal ${kind} into Go value of type map[string]interface {}`,
  };
}

/**
 * Rejects argument names the tool's schema does not declare (`additionalProperties: false`), naming the
 * offender and the allowed names. Returns the error text, or undefined when every name is known.
 */
export function checkUnknownArguments(args: ToolArguments, allowed: readonly string[]): string | undefined {
  for (const key of Object.keys(args)) {
    if (allowed.includes(key)) continue;
    if (allowed.length === 0) return `argument ${goQuote(key)} is not allowed; this tool takes no arguments`;
    const hint = key.length >= 3 ? closestMatch(key, allowed) : undefined; // no guesses for one-letter typos
    return `argument ${goQuote(key)} is not allowed; allowed arguments: ${allowed.join(', ')}${hint ? ` (did you mean ${goQuote(hint)}?)` : ''}`;
  }
  return undefined;
}

/** The `query` argument, with altinity-mcp's texts for a missing or empty/non-string value. */
export function extractQuery(args: ToolArguments): Checked<string> {
  if (!Object.hasOwn(args, 'query')) return { ok: false, message: 'query parameter is required' };
  const query = args.query;
  if (typeof query !== 'string' || query === '') return { ok: false, message: 'query parameter must be a non-empty string' };
  return { ok: true, value: query };
}

export { checkNestingDepth, checkQueryLength, MAX_NESTING_DEPTH } from './sql-checks.js';

/**
 * The `settings` argument (altinity-mcp `extractToolInputSettings`): absent or `{}` → undefined; errors are
 * returned with the `Invalid settings: ` prefix, e.g. `Invalid settings: settings must be an object`.
 * Keys are checked in argument order (Go's map order is random, so with several bad keys its message varies).
 */
export function extractToolInputSettings(
  args: ToolArguments,
  allowlist: readonly string[],
  protectedSettings: readonly string[] = DEFAULT_PROTECTED_SETTINGS,
): Checked<Record<string, string> | undefined> {
  if (!Object.hasOwn(args, 'settings')) return { ok: true, value: undefined };
  const raw = args.settings;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, message: 'Invalid settings: settings must be an object' };
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length === 0) return { ok: true, value: undefined };
  const settings: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (!allowlist.includes(k)) {
      return { ok: false, message: `Invalid settings: setting ${goQuote(k)} is not allowed; allowed settings: ${allowlist.join(', ')}` };
    }
    if (isBlockedInputSetting(k, protectedSettings)) {
      return { ok: false, message: `Invalid settings: setting ${goQuote(k)} is blocked` };
    }
    if (typeof v !== 'string') return { ok: false, message: `Invalid settings: setting ${goQuote(k)} value must be a string` };
    Object.defineProperty(settings, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return { ok: true, value: settings };
}

export interface QueryToolOptions {
  /** `server.tool_input_settings`. */
  toolInputSettings: readonly string[];
  /** Effective `max_query_length`; undefined = no cap. */
  maxQueryLength?: number;
  /** Defaults to MAX_NESTING_DEPTH. */
  maxNestingDepth?: number;
  /** `server.blocked_query_clauses`. */
  blockedClauses?: readonly string[];
  /** The SQL policy; defaults to the built-in one (local table functions only, protected settings). */
  policy?: SqlPolicy;
  /** See SqlCheckOptions.onBlockedClause. */
  onBlockedClause?: (clause: string) => void;
}

export interface QueryToolCall {
  query: string;
  /** Validated per-request ClickHouse settings, if any were passed. */
  settings?: Record<string, string>;
}

const DEFAULT_POLICY: SqlPolicy = { allowedTableFunctions: [], embedded: false };

/**
 * Every argument check of `execute_query` / `write_query`, in altinity-mcp's order, returning the first
 * error text:
 *  1. arguments must be an object;
 *  2. no names outside the schema (`query`, `settings` when configured, and `limit` for write_query);
 *  3. `query parameter is required` / `query parameter must be a non-empty string`;
 *  4. write_query: `limit`, if given, must be a number (it is then ignored, as in altinity-mcp);
 *  5. the SQL checks (sql-checks.ts): execute_query's read-only guard first, then length, nesting, the SQL
 *     policy and blocked clauses;
 *  6. `Invalid settings: …`.
 */
export async function validateQueryToolCall(
  tool: 'execute_query' | 'write_query',
  rawArgs: unknown,
  opts: QueryToolOptions,
): Promise<Checked<QueryToolCall>> {
  const normalized = normalizeArguments(rawArgs);
  if (!normalized.ok) return normalized;
  const args = normalized.value;

  const allowed = tool === 'write_query' ? ['query', 'limit'] : ['query'];
  if (opts.toolInputSettings.length > 0) allowed.push('settings');
  const unknown = checkUnknownArguments(args, allowed);
  if (unknown) return { ok: false, message: unknown };

  const query = extractQuery(args);
  if (!query.ok) return query;
  const sql = query.value;

  if (tool === 'write_query' && Object.hasOwn(args, 'limit') && typeof args.limit !== 'number') {
    return { ok: false, message: 'limit parameter must be a number' };
  }
  const policy = opts.policy ?? DEFAULT_POLICY;
  const failed = await checkSqlText(sql, {
    readOnlyGuard: tool === 'execute_query' ? 'first' : 'off',
    maxQueryLength: opts.maxQueryLength,
    maxNestingDepth: opts.maxNestingDepth,
    blockedClauses: opts.blockedClauses,
    policy,
    onBlockedClause: opts.onBlockedClause,
  });
  if (failed) return { ok: false, message: failed.message };

  const settings = extractToolInputSettings(args, opts.toolInputSettings, policy.protectedSettings);
  if (!settings.ok) return settings;
  return { ok: true, value: settings.value ? { query: sql, settings: settings.value } : { query: sql } };
}
