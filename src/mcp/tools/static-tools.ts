/**
 * The two static tools (`execute_query`, `write_query`) and the resolution of `server.tools` /
 * `server.dynamic_tools` into "which static tools to register" and "which rules drive dynamic discovery"
 * (altinity-mcp `RegisterTools` / `resolveToolDefinitions`, pkg/server/server.go).
 */
import type { ClickHouseConfig, ServerConfig, ToolDefinition } from '../../config/config.types.js';
import { compileRuleRegexp, type RuleRegexp } from './rule-regexp.js';
import { setOwn, sortedRecord, type JsonSchema, type McpToolDefinition, type ObjectSchema } from './tool-types.js';

export { compileRuleRegexp } from './rule-regexp.js';

export type StaticToolName = 'execute_query' | 'write_query';

export const EXECUTE_QUERY_DESCRIPTION =
  'Executes a read-only SQL query against ClickHouse and returns the results. Only SELECT, WITH, SHOW, DESCRIBE, EXISTS, and EXPLAIN statements are allowed — write operations are rejected; use write_query for those.';
export const EXECUTE_QUERY_QUERY_DESCRIPTION =
  'Read-only SQL query (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN). Add LIMIT in the SQL itself to cap your own result size; the server also enforces operator-configured caps and signals truncation when they fire.';
export const WRITE_QUERY_DESCRIPTION =
  'Executes a write query (INSERT, UPDATE, DELETE, ALTER, CREATE, DROP, TRUNCATE) against ClickHouse. Not registered when the server runs in read-only mode.';
export const WRITE_QUERY_QUERY_DESCRIPTION = 'SQL write query (INSERT, UPDATE, DELETE, ALTER, CREATE, DROP, TRUNCATE).';
export const WRITE_QUERY_LIMIT_DESCRIPTION = 'Maximum number of rows to return for queries that produce result sets';

/**
 * The `settings` property added to every query-running tool when `tool_input_settings` is non-empty
 * (altinity-mcp `buildToolInputSettingsSchema`); undefined when it is empty.
 */
export function buildSettingsSchema(toolInputSettings: readonly string[]): JsonSchema | undefined {
  if (toolInputSettings.length === 0) return undefined;
  const properties: Record<string, JsonSchema> = {};
  for (const name of toolInputSettings) setOwn(properties, name, { type: 'string' });
  return {
    additionalProperties: false,
    description: `Optional ClickHouse settings to apply to this query. Allowed: ${toolInputSettings.join(', ')}`,
    properties: sortedRecord(properties),
    type: 'object',
  };
}

/** An object schema with `additionalProperties: false`, properties in Go's (sorted) order, plus `settings`. */
export function objectSchema(
  properties: Record<string, JsonSchema>,
  required: string[],
  toolInputSettings: readonly string[],
): ObjectSchema {
  const props: Record<string, JsonSchema> = {};
  for (const [k, v] of Object.entries(properties)) setOwn(props, k, v);
  const settings = buildSettingsSchema(toolInputSettings);
  if (settings) setOwn(props, 'settings', settings);
  return { additionalProperties: false, properties: sortedRecord(props), required, type: 'object' };
}

/** The `execute_query` tool: read-only SQL, no `limit` argument. */
export function executeQueryTool(toolInputSettings: readonly string[]): McpToolDefinition {
  return {
    name: 'execute_query',
    title: 'Execute SQL Query',
    description: EXECUTE_QUERY_DESCRIPTION,
    annotations: { destructiveHint: false, openWorldHint: false, readOnlyHint: true },
    inputSchema: objectSchema({ query: { description: EXECUTE_QUERY_QUERY_DESCRIPTION, type: 'string' } }, ['query'], toolInputSettings),
  };
}

/** The `write_query` tool: any SQL; `limit` is accepted (type number) and ignored, as in altinity-mcp. */
export function writeQueryTool(toolInputSettings: readonly string[]): McpToolDefinition {
  return {
    name: 'write_query',
    title: 'Execute Write Query',
    description: WRITE_QUERY_DESCRIPTION,
    annotations: { destructiveHint: true, openWorldHint: false, readOnlyHint: false },
    inputSchema: objectSchema(
      {
        limit: { description: WRITE_QUERY_LIMIT_DESCRIPTION, type: 'number' },
        query: { description: WRITE_QUERY_QUERY_DESCRIPTION, type: 'string' },
      },
      ['query'],
      toolInputSettings,
    ),
  };
}

export function staticToolDefinition(name: StaticToolName, toolInputSettings: readonly string[]): McpToolDefinition {
  return name === 'execute_query' ? executeQueryTool(toolInputSettings) : writeQueryTool(toolInputSettings);
}

/** A validated dynamic-discovery rule with its regexp compiled. */
export interface DynamicRule {
  type: 'read' | 'write';
  /** Fixed tool-name label (before prefix and snake_case); undefined when the name derives from the object. */
  name?: string;
  prefix: string;
  /** Only for write rules. */
  mode?: 'insert';
  regexp: RuleRegexp;
  /** The pattern as configured (for messages). */
  pattern: string;
  /** Where the rule came from, e.g. `server.tools[2]`. */
  origin: string;
}

export interface ResolvedTools {
  /** Static tools to register, in configuration order, without duplicates. */
  static: StaticToolName[];
  dynamicRules: DynamicRule[];
  /** Problems with entries (each entry with a problem is skipped; none is fatal). */
  warnings: string[];
  /** Informational lines altinity-mcp logs at info level (e.g. write_query skipped in read-only mode). */
  notes: string[];
}

type ToolsSource = { server: Pick<ServerConfig, 'tools' | 'dynamic_tools'>; clickhouse: Pick<ClickHouseConfig, 'read_only'> };

const q = (v: string | undefined): string => JSON.stringify(v ?? '');

/**
 * Picks the tool definitions (non-empty `server.tools`; else the deprecated `server.dynamic_tools`, converted
 * with a warning; else `execute_query` + `write_query`) and sorts them into static tools and dynamic rules,
 * logging-and-skipping every invalid entry with altinity-mcp's message. `write_query` is left out in
 * read-only mode. Rule regexps are compiled here (Go compiles them at discovery); an invalid one skips the
 * rule with a warning either way.
 */
export function resolveToolDefinitions(config: ToolsSource): ResolvedTools {
  const warnings: string[] = [];
  const notes: string[] = [];
  let entries: { def: ToolDefinition; origin: string }[];
  const { tools, dynamic_tools: legacy } = config.server;
  if (tools.length > 0) {
    entries = tools.map((def, i) => ({ def, origin: `server.tools[${i}]` }));
  } else if (legacy.length > 0) {
    warnings.push('dynamic_tools config is deprecated, use tools instead');
    entries = legacy.map((old, i) => {
      const def: ToolDefinition = { type: old.type ?? '', name: old.name, prefix: old.prefix, mode: old.mode };
      // Legacy entries had no type: a rule with a regexp described view-based read tools.
      if (!def.type && old.regexp) def.type = 'read';
      if (def.type === 'write') def.table_regexp = old.regexp;
      else def.view_regexp = old.regexp;
      return { def, origin: `server.dynamic_tools[${i}]` };
    });
  } else {
    entries = [
      { def: { type: 'read', name: 'execute_query' }, origin: 'default' },
      { def: { type: 'write', name: 'write_query' }, origin: 'default' },
    ];
  }

  const statics: StaticToolName[] = [];
  const dynamicRules: DynamicRule[] = [];
  for (const { def, origin } of entries) {
    const type = def.type ?? '';
    if (type !== 'read' && type !== 'write') {
      warnings.push(`${origin}: Invalid tool type, must be 'read' or 'write' (type ${q(type)}); skipping`);
      continue;
    }
    const name = def.name ?? '';
    const viewRe = def.view_regexp ?? '';
    const tableRe = def.table_regexp ?? '';
    const isDynamic = viewRe !== '' || tableRe !== '';

    if (name !== '' && !isDynamic) {
      if (type === 'read') {
        if (name === 'execute_query') {
          if (!statics.includes('execute_query')) statics.push('execute_query');
        } else {
          warnings.push(`${origin}: Unknown static read tool name ${q(name)} (only execute_query exists); skipping`);
        }
      } else if (name === 'write_query') {
        if (config.clickhouse.read_only) notes.push('Write tool skipped (read-only mode): write_query');
        else if (!statics.includes('write_query')) statics.push('write_query');
      } else {
        warnings.push(`${origin}: Unknown static write tool name ${q(name)} (only write_query exists); skipping`);
      }
      continue;
    }
    if (!isDynamic) {
      warnings.push(`${origin}: Tool definition must have either name (static) or view_regexp/table_regexp (dynamic); skipping`);
      continue;
    }
    if (type === 'write') {
      if (tableRe === '') {
        warnings.push(`${origin}: Write tool must use table_regexp, not view_regexp (view_regexp ${q(viewRe)}); skipping`);
        continue;
      }
      if (!def.mode) {
        warnings.push(`${origin}: Write tool must specify mode (only 'insert' is supported) (table_regexp ${q(tableRe)}); skipping`);
        continue;
      }
      if (def.mode !== 'insert') {
        warnings.push(`${origin}: Write tool mode not supported (only 'insert' is implemented) (mode ${q(def.mode)}); skipping`);
        continue;
      }
    } else if (tableRe !== '') {
      warnings.push(`${origin}: Read tool must use view_regexp, not table_regexp (table_regexp ${q(tableRe)}); skipping`);
      continue;
    }
    // A write rule matches with table_regexp, a read rule with view_regexp. (Go takes view_regexp whenever
    // it is set, so a write rule that also carries a view_regexp would match tables with the wrong pattern.)
    const pattern = type === 'write' ? tableRe : viewRe;
    const compiled = compileRuleRegexp(pattern);
    if (!compiled.ok) {
      warnings.push(`${origin}: dynamic_tools: ${compiled.error}, skipping rule`);
      continue;
    }
    dynamicRules.push({
      type,
      name: name !== '' ? name : undefined,
      prefix: def.prefix ?? '',
      mode: type === 'write' ? 'insert' : undefined,
      regexp: compiled.regexp,
      pattern,
      origin,
    });
  }
  return { static: statics, dynamicRules, warnings, notes };
}
