/**
 * Dynamic tools (altinity-mcp pkg/server/server_dynamic_tools.go): one read tool per ClickHouse view and one
 * insert tool per table that a configured rule matches, built from catalog rows. Everything here is pure:
 * the caller fetches the rows (see the SQL constants below) and may cache the result per identity/cluster.
 *
 * Differences from Go, all on the safe side: identifiers in generated SQL are backquoted, integers outside
 * int64 are refused, NUL is escaped in string literals, required view parameters are checked before the
 * query is sent, unknown argument names are refused, and duplicate names are collapsed where Go would
 * produce an invalid schema.
 */
import { goToLower, goTrimSpace, goQuote } from '../../common/go-compat.js';
import { sqlString } from '../../sql/sql-literals.js';
import { checkUnknownArguments, extractToolInputSettings, normalizeArguments } from './arguments.js';
import { buildInsertSql, buildViewCallSql } from './dynamic-sql.js';
import { objectSchema, type DynamicRule } from './static-tools.js';
import { setOwn, type Checked, type DynamicParam, type JsonSchema, type JsonType, type McpToolDefinition } from './tool-types.js';

export type { DynamicParam, JsonType } from './tool-types.js';

// ---------------------------------------------------------------------------------------------------------
// Catalog rows and the SQL that fetches them
// ---------------------------------------------------------------------------------------------------------

/** A row of {@link VIEWS_SQL}. */
export interface ViewRow {
  database: string;
  name: string;
  create_table_query: string;
  comment: string;
}

/** A row of {@link TABLES_SQL}. */
export interface TableRow {
  database: string;
  name: string;
  comment: string;
}

/** A row of {@link columnsSql}. */
export interface ColumnRow {
  name: string;
  type: string;
  default_kind: string;
  comment: string;
}

/** altinity-mcp's view listing, verbatim. */
export const VIEWS_SQL = "SELECT database, name, create_table_query, comment FROM system.tables WHERE engine='View'";

/** altinity-mcp's writable-table listing, verbatim (note: lower-case `information_schema` is not excluded). */
export const TABLES_SQL =
  "SELECT database, name, comment FROM system.tables WHERE engine NOT IN ('View', 'MaterializedView', 'Alias') AND database NOT IN ('system', 'INFORMATION_SCHEMA')";

/** The column query for one matched table (Go interpolates the names unescaped; here they are escaped). */
export function columnsSql(database: string, table: string): string {
  return `SELECT name, type, default_kind, comment FROM system.columns WHERE database=${sqlString(database)} AND table=${sqlString(table)} ORDER BY position`;
}

/** Key of a table in the `columns` map given to {@link discoverDynamicTools}. */
export function tableKey(database: string, table: string): string {
  return `${database}\u0000${table}`;
}

// ---------------------------------------------------------------------------------------------------------
// Names, titles, comments, types
// ---------------------------------------------------------------------------------------------------------

/** altinity-mcp `snakeCase`: lower-case, every run of characters outside [a-z0-9] → one `_`, trim `_`. */
export function snakeCase(s: string): string {
  return goToLower(s)
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** altinity-mcp `humanizeToolName`: split on non-letters/digits, each part capitalised, joined by spaces. */
export function humanizeToolName(toolName: string): string {
  return toolName
    .split(/[^\p{L}\p{N}]+/u)
    .filter((part) => part !== '')
    .map((part) => {
      const chars = [...goToLower(part)];
      const first = chars[0]!.toUpperCase();
      chars[0] = [...first].length === 1 ? first : chars[0]!;
      return chars.join('');
    })
    .join(' ');
}

/** COMMENT metadata of a view or table (`{title?, description?, annotations?:{openWorldHint?}, params?}`). */
export interface CommentMetadata {
  title: string;
  description: string;
  openWorldHint?: boolean;
  params?: Record<string, string>;
}

/** Go's encoding/json field-name matching is case-insensitive with Unicode simple folding (ſ ≡ s, K ≡ k). */
const fold = (key: string): string => key.toLowerCase().replace(/\u017f/g, 's');

/**
 * altinity-mcp `parseDynamicToolComment`: the trimmed comment must start with `{` and decode as the metadata
 * object under Go's rules — keys matched case-insensitively, unknown keys ignored, `null` leaves a field
 * unset, and any wrongly typed known field (e.g. `"title":1`) makes the whole comment "not JSON".
 */
export function parseViewComment(comment: string): CommentMetadata | undefined {
  const trimmed = goTrimSpace(comment);
  if (!trimmed.startsWith('{')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const meta: CommentMetadata = { title: '', description: '' };
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    switch (fold(key)) {
      case 'title':
      case 'description': {
        if (value === null) break;
        if (typeof value !== 'string') return undefined;
        meta[fold(key) as 'title' | 'description'] = value;
        break;
      }
      case 'annotations': {
        if (value === null) {
          delete meta.openWorldHint;
          break;
        }
        if (typeof value !== 'object' || Array.isArray(value)) return undefined;
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          if (fold(k) !== 'openworldhint') continue;
          if (v === null) delete meta.openWorldHint;
          else if (typeof v === 'boolean') meta.openWorldHint = v;
          else return undefined;
        }
        break;
      }
      case 'params': {
        if (value === null) {
          delete meta.params;
          break;
        }
        if (typeof value !== 'object' || Array.isArray(value)) return undefined;
        const params: Record<string, string> = meta.params ?? {};
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          if (v !== null && typeof v !== 'string') return undefined;
          setOwn(params, k, v ?? '');
        }
        meta.params = params;
        break;
      }
    }
  }
  return meta;
}

/** altinity-mcp `mapCHType`: the JSON Schema type (and format) of a ClickHouse type; wrappers are not unwrapped. */
export function mapClickHouseType(chType: string): { type: JsonType; format?: string } {
  const t = goToLower(chType);
  if (t.startsWith('uint') || t.startsWith('int')) return { type: 'integer', format: 'int64' };
  if (t.startsWith('float') || t.startsWith('decimal')) return { type: 'number', format: 'double' };
  if (t.startsWith('bool')) return { type: 'boolean' };
  if (t.startsWith('date32') || t === 'date') return { type: 'string', format: 'date' };
  if (t.startsWith('datetime')) return { type: 'string', format: 'date-time' };
  if (t.includes('uuid')) return { type: 'string', format: 'uuid' };
  return { type: 'string' };
}

/** altinity-mcp `isNullableCHType`: `Nullable(…)` or `LowCardinality(Nullable(…))`, any case. */
export function isNullableClickHouseType(chType: string): boolean {
  let s = goToLower(goTrimSpace(chType));
  if (s.startsWith('lowcardinality(')) s = s.slice('lowcardinality('.length);
  return s.startsWith('nullable(');
}

/** altinity-mcp `isUnsupportedCHType`: Dynamic, JSON, Array(…), Tuple(…), JSON(…) columns get no parameter. */
export function isUnsupportedClickHouseType(chType: string): boolean {
  const t = goToLower(goTrimSpace(chType));
  return t === 'dynamic' || t === 'json' || t.startsWith('array(') || t.startsWith('tuple(') || t.startsWith('json(');
}

/** `{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*:\s*([^}]+)}` with Go's ASCII-only `\s`. */
const VIEW_PARAM = /\{[\t\n\f\r ]*([a-zA-Z_][a-zA-Z0-9_]*)[\t\n\f\r ]*:[\t\n\f\r ]*([^}]+)\}/g;

/** altinity-mcp `parseViewParams`: every `{name:Type}` in the view's CREATE text, in order, duplicates kept. */
export function extractViewParams(createTableQuery: string): DynamicParam[] {
  const params: DynamicParam[] = [];
  for (const m of createTableQuery.matchAll(VIEW_PARAM)) {
    const chType = goTrimSpace(m[2]!);
    const { type, format } = mapClickHouseType(chType);
    params.push({ name: m[1]!, chType, jsonType: type, ...(format ? { format } : {}), required: true, description: '' });
  }
  return params;
}

// ---------------------------------------------------------------------------------------------------------
// Tool definitions
// ---------------------------------------------------------------------------------------------------------

export interface DynamicTool {
  kind: 'read' | 'write';
  name: string;
  database: string;
  /** The view (read tools) or table (write tools). */
  table: string;
  /** Unique by name, in order of first appearance. */
  params: DynamicParam[];
  definition: McpToolDefinition;
}

function paramSchema(p: DynamicParam): JsonSchema {
  const description = p.description !== '' ? p.description : `${p.name} (${p.chType})`;
  return p.format ? { description, format: p.format, type: p.jsonType } : { description, type: p.jsonType };
}

/** The dynamic input schema: `required` always present (possibly empty), `settings` when configured. */
function dynamicInputSchema(params: readonly DynamicParam[], toolInputSettings: readonly string[]) {
  const props: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const p of params) {
    setOwn(props, p.name, paramSchema(p));
    if (p.required) required.push(p.name);
  }
  return objectSchema(props, required, toolInputSettings);
}

function applyParamOverrides(params: DynamicParam[], meta: CommentMetadata | undefined): void {
  if (!meta?.params) return;
  for (const p of params) {
    if (!Object.hasOwn(meta.params, p.name)) continue;
    const desc = goTrimSpace(meta.params[p.name]!);
    if (desc !== '') p.description = desc;
  }
}

/** Collapses repeated names (a view may use `{id:UInt64}` twice): first position, last definition — as Go's schema map. */
function uniqueParams(params: DynamicParam[]): DynamicParam[] {
  const byName = new Map<string, DynamicParam>();
  for (const p of params) byName.set(p.name, p); // an existing key keeps its position
  return [...byName.values()];
}

/** The read tool for one view (altinity-mcp `buildDynamicToolMeta` + registration). */
export function buildViewToolDefinition(toolName: string, view: ViewRow, toolInputSettings: readonly string[]): DynamicTool {
  const meta = parseViewComment(view.comment);
  const params = uniqueParams(extractViewParams(view.create_table_query));
  applyParamOverrides(params, meta);

  const metaTitle = goTrimSpace(meta?.title ?? '');
  const metaDescription = goTrimSpace(meta?.description ?? '');
  const fallback = `Read-only tool to query data from ${view.database}.${view.name}`;
  const description = metaDescription !== '' ? metaDescription : goTrimSpace(view.comment) !== '' ? (meta ? fallback : view.comment) : fallback;

  return {
    kind: 'read',
    name: toolName,
    database: view.database,
    table: view.name,
    params,
    definition: {
      name: toolName,
      title: metaTitle !== '' ? metaTitle : humanizeToolName(toolName),
      description,
      annotations: { destructiveHint: false, openWorldHint: meta?.openWorldHint ?? false, readOnlyHint: true },
      inputSchema: dynamicInputSchema(params, toolInputSettings),
    },
  };
}

/**
 * The insert tool for one table: MATERIALIZED/ALIAS columns and columns of unsupported types are left out
 * (the latter with a warning); a column is required when it has no default and is not Nullable.
 */
export function buildInsertToolDefinition(
  toolName: string,
  table: TableRow,
  columns: readonly ColumnRow[],
  toolInputSettings: readonly string[],
): { tool: DynamicTool; warnings: string[] } {
  const warnings: string[] = [];
  const params: DynamicParam[] = [];
  for (const col of columns) {
    if (col.default_kind === 'MATERIALIZED' || col.default_kind === 'ALIAS') continue;
    if (isUnsupportedClickHouseType(col.type)) {
      warnings.push(
        `dynamic write tool: skipping column with unsupported type (no JSON Schema equivalent): ${table.database}.${table.name} column ${goQuote(col.name)} type ${col.type}`,
      );
      continue;
    }
    const { type, format } = mapClickHouseType(col.type);
    params.push({
      name: col.name,
      chType: col.type,
      jsonType: type,
      ...(format ? { format } : {}),
      required: col.default_kind === '' && !isNullableClickHouseType(col.type),
      description: goTrimSpace(col.comment),
    });
  }
  applyParamOverrides(params, parseViewComment(table.comment));
  const unique = uniqueParams(params);
  return {
    warnings,
    tool: {
      kind: 'write',
      name: toolName,
      database: table.database,
      table: table.name,
      params: unique,
      definition: {
        name: toolName,
        title: humanizeToolName(toolName),
        description: goTrimSpace(table.comment) !== '' ? table.comment : `Insert data in ${table.database}.${table.name}`,
        annotations: { destructiveHint: true, openWorldHint: false, readOnlyHint: false },
        inputSchema: dynamicInputSchema(unique, toolInputSettings),
      },
    },
  };
}

export interface DynamicToolCall {
  sql: string;
  settings?: Record<string, string>;
  /** Bound query parameters (view tools). */
  params?: Record<string, string | number>;
}

/**
 * All argument handling of a dynamic tool call, in altinity-mcp's order, returning the complete error text:
 * arguments object → unknown names (beyond Go) → `Invalid settings: …` → SQL (view: `Invalid argument …`;
 * insert: `Failed to build query: …`). The read-only check of write tools (`write operations disabled in
 * read-only mode`) and the blocked-clause check of the INSERT are the caller's.
 */
export function prepareDynamicToolCall(
  tool: DynamicTool,
  rawArgs: unknown,
  toolInputSettings: readonly string[],
  protectedSettings?: readonly string[],
): Checked<DynamicToolCall> {
  const normalized = normalizeArguments(rawArgs);
  if (!normalized.ok) return normalized;
  const args = normalized.value;
  const allowed = tool.params.map((p) => p.name);
  if (toolInputSettings.length > 0) allowed.push('settings');
  const unknown = checkUnknownArguments(args, allowed);
  if (unknown) return { ok: false, message: unknown };
  const settings = extractToolInputSettings(args, toolInputSettings, protectedSettings);
  if (!settings.ok) return settings;
  let call: Checked<{ sql: string; params?: Record<string, string | number> }>;
  if (tool.kind === 'read') {
    call = buildViewCallSql(tool.database, tool.table, tool.params, args);
  } else {
    const insert = buildInsertSql(tool.database, tool.table, tool.params, args);
    call = insert.ok ? { ok: true, value: { sql: insert.value } } : { ok: false, message: `Failed to build query: ${insert.message}` };
  }
  if (!call.ok) return call;
  const { sql, params } = call.value;
  return {
    ok: true,
    value: { sql, ...(params && Object.keys(params).length > 0 ? { params } : {}), ...(settings.value ? { settings: settings.value } : {}) },
  };
}

/** The write-tool error when the server has become read-only since discovery. */
export const WRITE_DISABLED_READ_ONLY = 'write operations disabled in read-only mode';

/** Success text of a dynamic write tool. */
export function writeToolSuccessText(toolName: string): string {
  return `Successfully executed ${toolName}`;
}

/** Failure text of a dynamic write tool (not truncated, as in altinity-mcp). */
export function writeToolFailedText(message: string): string {
  return `Query failed: ${message}`;
}

// ---------------------------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------------------------

export interface CatalogRows {
  views: readonly ViewRow[];
  tables: readonly TableRow[];
  /** Columns of matched tables, keyed by {@link tableKey}, in `position` order. */
  columns: ReadonlyMap<string, readonly ColumnRow[]>;
}

export interface DiscoveryOptions {
  /** Read-only servers get no write tools (and need not fetch tables at all). */
  readOnly: boolean;
  toolInputSettings: readonly string[];
  /** Names a dynamic tool must not take (the static tools); Go would silently replace them. */
  reservedNames?: readonly string[];
}

export interface DiscoveryResult {
  /** Sorted by name (the order MCP `tools/list` shows in altinity-mcp). */
  tools: DynamicTool[];
  warnings: string[];
}

function toolNameFor(rule: DynamicRule, full: string): string {
  return snakeCase(rule.prefix + (rule.name ?? full));
}

function matchingRules(rules: readonly DynamicRule[], full: string): DynamicRule[] {
  return rules.filter((r) => r.regexp.test(full));
}

/**
 * The tables whose columns discovery needs: those matched by exactly one write rule (empty in read-only mode).
 * Fetch {@link columnsSql} for each and pass the results to {@link discoverDynamicTools}.
 */
export function selectWriteTables(tables: readonly TableRow[], rules: readonly DynamicRule[], readOnly: boolean): TableRow[] {
  if (readOnly) return [];
  const writeRules = rules.filter((r) => r.type === 'write');
  if (writeRules.length === 0) return [];
  return tables.filter((t) => matchingRules(writeRules, `${t.database}.${t.name}`).length === 1);
}

/**
 * Builds the dynamic tools from catalog rows (altinity-mcp `discoverReadToolsWith` + `discoverWriteToolsWith`
 * + merge). Per object `<db>.<name>`: no matching rule → ignored; more than one → skipped with a warning; one
 * → a tool named `snakeCase(prefix + (rule name || "<db>.<name>"))`. Named read rules that match no view or
 * several views are reported. Tools with the same name: the later one wins, write tools over read tools (as
 * Go's map merge). Beyond Go: empty names, names of static tools, and parameters called `settings` while
 * `tool_input_settings` is on are skipped with a warning instead of producing a broken or shadowing tool.
 */
export function discoverDynamicTools(rows: CatalogRows, rules: readonly DynamicRule[], options: DiscoveryOptions): DiscoveryResult {
  const warnings: string[] = [];
  const byName = new Map<string, DynamicTool>();
  const origins = (rs: readonly DynamicRule[]): string => rs.map((r) => r.origin).join(', ');

  const readRules = rules.filter((r) => r.type === 'read');
  if (readRules.length > 0) {
    const namedMatches = new Map<DynamicRule, string[]>();
    for (const r of readRules) if (r.name !== undefined) namedMatches.set(r, []);
    for (const view of rows.views) {
      const full = `${view.database}.${view.name}`;
      const matched = matchingRules(readRules, full);
      for (const r of matched) namedMatches.get(r)?.push(full);
      if (matched.length === 0) continue;
      if (matched.length > 1) {
        warnings.push(`dynamic_tools: overlap between read rules, skipping view ${full} (matched by ${origins(matched)})`);
        continue;
      }
      const name = toolNameFor(matched[0]!, full);
      byName.delete(name);
      byName.set(name, buildViewToolDefinition(name, view, options.toolInputSettings));
    }
    for (const [r, matches] of namedMatches) {
      if (matches.length === 0) {
        warnings.push(`dynamic_tools: named read rule matched no views (${r.origin}, name ${goQuote(r.name!)}, regexp ${goQuote(r.pattern)})`);
      } else if (matches.length > 1) {
        warnings.push(
          `dynamic_tools: named read rule matched multiple views, expected exactly one (${r.origin}, name ${goQuote(r.name!)}, regexp ${goQuote(r.pattern)}, matched ${matches.join(', ')}); the last one is used`,
        );
      }
    }
  }

  const writeRules = options.readOnly ? [] : rules.filter((r) => r.type === 'write');
  if (writeRules.length > 0) {
    for (const table of rows.tables) {
      const full = `${table.database}.${table.name}`;
      const matched = matchingRules(writeRules, full);
      if (matched.length === 0) continue;
      if (matched.length > 1) {
        warnings.push(`dynamic_tools: overlap between write rules, skipping table ${full} (matched by ${origins(matched)})`);
        continue;
      }
      const columns = rows.columns.get(tableKey(table.database, table.name));
      if (!columns) {
        warnings.push(`dynamic_tools: failed to get columns for write tool, skipping table ${full}`);
        continue;
      }
      const name = toolNameFor(matched[0]!, full);
      const built = buildInsertToolDefinition(name, table, columns, options.toolInputSettings);
      warnings.push(...built.warnings);
      byName.delete(name);
      byName.set(name, built.tool);
    }
  }

  const reserved = new Set(options.reservedNames ?? []);
  const tools: DynamicTool[] = [];
  for (const tool of byName.values()) {
    const where = `${tool.kind === 'read' ? 'view' : 'table'} ${tool.database}.${tool.table}`;
    if (tool.name === '') {
      warnings.push(`dynamic_tools: the tool name for ${where} is empty after snake_case; skipping`);
    } else if (reserved.has(tool.name)) {
      warnings.push(`dynamic_tools: tool name ${goQuote(tool.name)} for ${where} is taken by a static tool; skipping`);
    } else if (options.toolInputSettings.length > 0 && tool.params.some((p) => p.name === 'settings')) {
      warnings.push(`dynamic_tools: ${where} has a parameter named "settings", which clashes with the settings argument; skipping`);
    } else {
      tools.push(tool);
    }
  }
  tools.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { tools, warnings };
}
