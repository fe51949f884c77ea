/**
 * Shapes of the MCP tool definitions this layer produces. Plain JSON objects, independent of any MCP SDK:
 * transports serialise them as they are.
 */

/** MCP tool annotations (the subset altinity-mcp sets). */
export interface ToolAnnotations {
  destructiveHint?: boolean;
  openWorldHint?: boolean;
  readOnlyHint?: boolean;
}

/** A JSON Schema fragment. */
export type JsonSchema = Record<string, unknown>;

/**
 * A tool's input schema. Keys are in the order Go's encoding/json writes a map (sorted), so the JSON text
 * matches altinity-mcp's byte for byte.
 */
export interface ObjectSchema {
  additionalProperties: false;
  properties: Record<string, JsonSchema>;
  required: string[];
  type: 'object';
}

export interface McpToolDefinition {
  name: string;
  title: string;
  description: string;
  annotations: ToolAnnotations;
  inputSchema: ObjectSchema;
}

/** One text block of a tool result. */
export interface TextContent {
  type: 'text';
  text: string;
}

/** A tool result as MCP `tools/call` returns it (isError only when set). */
export interface ToolCallResult {
  content: TextContent[];
  isError?: true;
}

/** A result, or the exact text a tool returns as its error. */
export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/** Defines an own, enumerable property even for keys such as `__proto__` that plain assignment would misuse. */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Go's sort order for map keys: byte-wise over UTF-8, i.e. code point order (not UTF-16 unit order). */
export function compareGoStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1; // a surrogate starts an astral code point, above every BMP one
    return x - y;
  }
  return a.length - b.length;
}

/** A copy of `record` with its keys in Go's map order. */
export function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(record).sort(compareGoStrings)) setOwn(out, key, record[key]!);
  return out;
}

/** A parameter of a dynamic tool: a view's `{name:Type}` placeholder or a table column. */
export interface DynamicParam {
  name: string;
  /** ClickHouse type as written (trimmed for view parameters). */
  chType: string;
  jsonType: JsonType;
  format?: string;
  required: boolean;
  /** From a column COMMENT or the COMMENT JSON `params`; empty → `<name> (<chType>)` in the schema. */
  description: string;
}

export type JsonType = 'integer' | 'number' | 'boolean' | 'string';

