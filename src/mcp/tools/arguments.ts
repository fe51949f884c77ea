/**
 * Argument checks for the tools. altinity-mcp's Go SDK does not validate `arguments` against the advertised
 * input schema; here the schema is enforced (unknown names, types, required values), while every check that
 * altinity-mcp does have keeps its exact error text.
 */
import { BLOCKED_TOOL_INPUT_SETTINGS } from '../../config/config.validation.js';
import { closestMatch } from '../../config/did-you-mean.js';
import { goQuote, utf8Length } from '../../common/go-compat.js';
import { READ_ONLY_REJECTION, isReadOnlyStatement } from '../../sql/select-guard.js';
import { scanSql } from '../../sql/sql-scan.js';
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

/**
 * altinity-mcp's `max_query_length` check (bytes of UTF-8): `query exceeds max length (<len> bytes, limit <max>)`.
 * `maxQueryLength` undefined means no cap (a negative config value).
 */
export function checkQueryLength(query: string, maxQueryLength: number | undefined): string | undefined {
  if (maxQueryLength === undefined || maxQueryLength <= 0) return undefined;
  if (query.length * 3 <= maxQueryLength) return undefined; // cannot exceed it
  const bytes = utf8Length(query);
  return bytes > maxQueryLength ? `query exceeds max length (${bytes} bytes, limit ${maxQueryLength})` : undefined;
}

/**
 * Deepest bracket nesting a query may have. ClickHouse's parser recurses per level; old servers (18.16 has
 * no `max_parser_depth`) crash with a stack overflow at around a thousand levels, so far below that the
 * gateway refuses the query itself. Real queries stay well under a few dozen levels.
 */
export const MAX_NESTING_DEPTH = 200;

/**
 * Rejects SQL nested deeper than `limit` levels (outside literals and comments, either lexer): brackets
 * ( [ {, CASE … END, and runs of prefix operators (NOT, INTERVAL, unary - + ~).
 */
export function checkNestingDepth(query: string, limit = MAX_NESTING_DEPTH): string | undefined {
  // Quick exit: every level takes at least one character.
  if (query.length <= limit) return undefined;
  const depth = Math.max(scanSql(query, 'classic').maxDepth, scanSql(query, 'modern').maxDepth);
  return depth > limit
    ? `query nesting too deep: ${depth} levels of nested brackets, CASE expressions or prefix operators (limit ${limit}); simplify the query`
    : undefined;
}

/**
 * The `settings` argument (altinity-mcp `extractToolInputSettings`): absent or `{}` → undefined; errors are
 * returned with the `Invalid settings: ` prefix, e.g. `Invalid settings: settings must be an object`.
 * Keys are checked in argument order (Go's map order is random, so with several bad keys its message varies).
 */
export function extractToolInputSettings(args: ToolArguments, allowlist: readonly string[]): Checked<Record<string, string> | undefined> {
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
    if (BLOCKED_TOOL_INPUT_SETTINGS.has(k.toLowerCase())) {
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
  /**
   * The blocked-clause check (§3.6), if configured: returns the full error text (`Query rejected: …`) or
   * undefined. Runs where altinity-mcp runs it: after the length check, before the settings.
   */
  blockedClauseCheck?: (sql: string) => string | undefined;
}

export interface QueryToolCall {
  query: string;
  /** Validated per-request ClickHouse settings, if any were passed. */
  settings?: Record<string, string>;
}

/**
 * Every argument check of `execute_query` / `write_query`, in altinity-mcp's order, returning the first
 * error text:
 *  1. arguments must be an object;
 *  2. no names outside the schema (`query`, `settings` when configured, and `limit` for write_query);
 *  3. `query parameter is required` / `query parameter must be a non-empty string`;
 *  4. write_query: `limit`, if given, must be a number (it is then ignored, as in altinity-mcp);
 *  5. execute_query: the read-only guard (`isReadOnlyStatement`, the strict one);
 *  6. `query exceeds max length (…)`;
 *  7. bracket nesting;
 *  8. blocked clauses (callback);
 *  9. `Invalid settings: …`.
 */
export function validateQueryToolCall(tool: 'execute_query' | 'write_query', rawArgs: unknown, opts: QueryToolOptions): Checked<QueryToolCall> {
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
  if (tool === 'execute_query' && !isReadOnlyStatement(sql)) return { ok: false, message: READ_ONLY_REJECTION };

  const tooLong = checkQueryLength(sql, opts.maxQueryLength);
  if (tooLong) return { ok: false, message: tooLong };
  const tooDeep = checkNestingDepth(sql, opts.maxNestingDepth);
  if (tooDeep) return { ok: false, message: tooDeep };
  const blocked = opts.blockedClauseCheck?.(sql);
  if (blocked) return { ok: false, message: blocked };

  const settings = extractToolInputSettings(args, opts.toolInputSettings);
  if (!settings.ok) return settings;
  return { ok: true, value: settings.value ? { query: sql, settings: settings.value } : { query: sql } };
}
