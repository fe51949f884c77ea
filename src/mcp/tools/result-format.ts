/**
 * The text altinity-mcp returns for query results: Go's `json.MarshalIndent(result, "", "  ")` of its
 * QueryResult (MCP tools) or `json.NewEncoder(w).Encode(result)` (OpenAPI), plus the truncation notice and
 * the error texts around them. Written as direct string building: no intermediate objects, no JSON.stringify.
 */
import { ExactNumber, type TabularResult, type Truncation } from '../../clickhouse/clickhouse.types.js';
import { goFormatFloatV } from '../../common/go-compat.js';
import { compareGoStrings, type ToolCallResult } from './tool-types.js';

/** Go's json error for a value JSON cannot hold; `message` is Go's text (`json: unsupported value: NaN`). */
export class UnsupportedValueError extends Error {
  override readonly name = 'UnsupportedValueError';
}

// ---------------------------------------------------------------------------------------------------------
// Go encoding/json string and number rules
// ---------------------------------------------------------------------------------------------------------

/** Characters Go's encoder escapes (HTML-safe mode, the default of Marshal and Encoder), plus surrogates. */
const NEEDS_ESCAPE = /["\\<>&\u0000-\u001f\u2028\u2029\ud800-\udfff]/;

const CONTROL_ESCAPES: string[] = [];
for (let c = 0; c < 0x20; c++) CONTROL_ESCAPES.push(`\\u00${c.toString(16).padStart(2, '0')}`);
CONTROL_ESCAPES[0x08] = '\\b';
CONTROL_ESCAPES[0x09] = '\\t';
CONTROL_ESCAPES[0x0a] = '\\n';
CONTROL_ESCAPES[0x0c] = '\\f';
CONTROL_ESCAPES[0x0d] = '\\r';

/**
 * A JSON string literal exactly as Go writes it: `"` and `\` escaped, control characters as \b \t \n \f \r
 * or \u00XX (lower-case hex), `<` `>` `&` as \u003c \u003e \u0026, U+2028/U+2029 escaped, and invalid text
 * (a lone surrogate here, invalid UTF-8 in Go) as \ufffd.
 */
export function goJsonString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  let out = '"';
  let last = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let rep: string;
    if (c < 0x20) rep = CONTROL_ESCAPES[c]!;
    else if (c === 0x22) rep = '\\"';
    else if (c === 0x5c) rep = '\\\\';
    else if (c === 0x3c) rep = '\\u003c';
    else if (c === 0x3e) rep = '\\u003e';
    else if (c === 0x26) rep = '\\u0026';
    else if (c === 0x2028) rep = '\\u2028';
    else if (c === 0x2029) rep = '\\u2029';
    else if (c >= 0xd800 && c <= 0xdfff) {
      if (c <= 0xdbff && i + 1 < n) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          i++;
          continue;
        }
      }
      rep = '\\ufffd';
    } else continue;
    out += s.slice(last, i) + rep;
    last = i + 1;
  }
  return `${out}${s.slice(last)}"`;
}

/** A float64 as Go's encoder writes it (same digits and exponent style as JavaScript, except `-0`). */
function goJsonNumber(v: number): string {
  if (!Number.isFinite(v)) throw new UnsupportedValueError(`json: unsupported value: ${goFormatFloatV(v)}`);
  return v === 0 && Object.is(v, -0) ? '-0' : String(v);
}

/** RFC 3339 as Go's time.Time marshals it (fraction only when non-zero). */
function goJsonTime(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new UnsupportedValueError('json: error calling MarshalJSON for type time.Time');
  return `"${d.toISOString().replace('.000Z', 'Z')}"`;
}

// ---------------------------------------------------------------------------------------------------------
// Generic encoder (compact when indent is undefined, Go-indented otherwise)
// ---------------------------------------------------------------------------------------------------------

const INDENTS: string[] = ['\n'];
function newline(level: number): string {
  while (INDENTS.length <= level) INDENTS.push(`${INDENTS[INDENTS.length - 1]}  `);
  return INDENTS[level]!;
}

/**
 * Encodes one value like Go's encoding/json: ExactNumber and bigint verbatim, plain objects and Maps with
 * keys sorted as Go sorts map keys, empty arrays/objects as `[]`/`{}` even when indented.
 * `level` undefined = compact. Throws UnsupportedValueError for NaN/±Inf and non-JSON types.
 */
export function goJsonValue(v: unknown, level?: number): string {
  switch (typeof v) {
    case 'string':
      return goJsonString(v);
    case 'number':
      return goJsonNumber(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return v.toString();
    case 'undefined':
      return 'null';
    case 'object':
      if (v === null) return 'null';
      if (v instanceof ExactNumber) return v.text;
      if (Array.isArray(v)) return goJsonArray(v, level);
      if (v instanceof Date) return goJsonTime(v);
      // Bytes are text to altinity-mcp (the driver hands String columns over as strings).
      if (v instanceof Uint8Array) return goJsonString(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8'));
      if (v instanceof Map) {
        const obj: [string, unknown][] = [];
        for (const [k, val] of v) obj.push([String(k), val]);
        return goJsonEntries(obj, level);
      }
      return goJsonEntries(Object.entries(v as Record<string, unknown>), level);
    default:
      throw new UnsupportedValueError(`json: unsupported type: ${typeof v}`);
  }
}

function goJsonArray(a: readonly unknown[], level: number | undefined): string {
  const n = a.length;
  if (n === 0) return '[]';
  if (level === undefined) {
    let out = '[';
    for (let i = 0; i < n; i++) out += (i === 0 ? '' : ',') + goJsonValue(a[i]);
    return `${out}]`;
  }
  const inner = newline(level + 1);
  let out = '[';
  for (let i = 0; i < n; i++) out += (i === 0 ? inner : `,${inner}`) + goJsonValue(a[i], level + 1);
  return `${out}${newline(level)}]`;
}

function goJsonEntries(entries: [string, unknown][], level: number | undefined): string {
  if (entries.length === 0) return '{}';
  entries.sort((x, y) => compareGoStrings(x[0], y[0]));
  const inner = level === undefined ? '' : newline(level + 1);
  const sep = level === undefined ? ':' : ': ';
  let out = '{';
  for (let i = 0; i < entries.length; i++) {
    const [k, val] = entries[i]!;
    out += (i === 0 ? inner : `,${inner}`) + goJsonString(k) + sep + goJsonValue(val, level === undefined ? undefined : level + 1);
  }
  return level === undefined ? `${out}}` : `${out}${newline(level)}}`;
}

/** Go's json.Marshal of any decoded-JSON-like value (compact, no trailing newline). */
export function goJsonMarshal(v: unknown): string {
  return goJsonValue(v);
}

// ---------------------------------------------------------------------------------------------------------
// QueryResult
// ---------------------------------------------------------------------------------------------------------

function stringArray(a: readonly string[], level: number | undefined): string {
  return goJsonArray(a, level);
}

function truncationJson(t: Truncation, indented: boolean): string {
  if (!indented) {
    return `{"reason":${goJsonString(t.reason)},"limit":${t.limit},"returned_rows":${t.returned_rows},"returned_bytes_approx":${t.returned_bytes_approx}}`;
  }
  return (
    `{\n    "reason": ${goJsonString(t.reason)},\n    "limit": ${t.limit},\n` +
    `    "returned_rows": ${t.returned_rows},\n    "returned_bytes_approx": ${t.returned_bytes_approx}\n  }`
  );
}

function rowsJson(rows: readonly unknown[][], indented: boolean): string {
  const n = rows.length;
  if (n === 0) return 'null'; // Go's nil slice
  if (!indented) {
    let out = '[';
    for (let r = 0; r < n; r++) {
      const row = rows[r]!;
      out += r === 0 ? '[' : ',[';
      for (let c = 0; c < row.length; c++) out += (c === 0 ? '' : ',') + goJsonValue(row[c]);
      out += ']';
    }
    return `${out}]`;
  }
  // rows sit at level 1, each row at level 2, each value at level 3.
  let out = '[';
  for (let r = 0; r < n; r++) {
    const row = rows[r]!;
    out += r === 0 ? '\n    ' : ',\n    ';
    if (row.length === 0) {
      out += '[]';
      continue;
    }
    out += '[';
    for (let c = 0; c < row.length; c++) out += (c === 0 ? '\n      ' : ',\n      ') + goJsonValue(row[c], 3);
    out += '\n    ]';
  }
  return `${out}\n  ]`;
}

/**
 * `json.MarshalIndent(result, "", "  ")` of altinity-mcp's QueryResult: keys `columns, types, rows, count`
 * and `truncated` when a cap fired; `rows` is `null` when there are no rows. Throws UnsupportedValueError
 * (Go's text in `message`) for NaN/±Inf values.
 */
export function formatQueryResult(result: Pick<TabularResult, 'columns' | 'types' | 'rows' | 'truncated'>): string {
  let out =
    `{\n  "columns": ${stringArray(result.columns, 1)},\n  "types": ${stringArray(result.types, 1)},\n` +
    `  "rows": ${rowsJson(result.rows, true)},\n  "count": ${result.rows.length}`;
  if (result.truncated) out += `,\n  "truncated": ${truncationJson(result.truncated, true)}`;
  return `${out}\n}`;
}

/** `json.NewEncoder(w).Encode(result)`: the compact form plus a trailing newline (OpenAPI responses). */
export function formatQueryResultCompact(result: Pick<TabularResult, 'columns' | 'types' | 'rows' | 'truncated'>): string {
  let out =
    `{"columns":${stringArray(result.columns, undefined)},"types":${stringArray(result.types, undefined)},` +
    `"rows":${rowsJson(result.rows, false)},"count":${result.rows.length}`;
  if (result.truncated) out += `,"truncated":${truncationJson(result.truncated, false)}`;
  return `${out}}\n`;
}

// ---------------------------------------------------------------------------------------------------------
// Notices and error texts
// ---------------------------------------------------------------------------------------------------------

/** The second text block of a truncated result (altinity-mcp `truncationNotice`). */
export function truncationNotice(t: Truncation): string {
  switch (t.reason) {
    case 'max_result_rows':
      return (
        `⚠️ Result truncated at the server-configured cap of ${t.limit} rows (the underlying query returns more). ` +
        'This is a hard cap set by the operator, not a SQL LIMIT. ' +
        'To get a complete answer: narrow your WHERE clause, aggregate server-side, or paginate by a key range. ' +
        `Adding LIMIT N (N ≤ ${t.limit}) to your SQL acknowledges the truncation but does not raise the cap.`
      );
    case 'max_result_bytes':
      return (
        `⚠️ Result truncated at the server-configured cap of ~${t.limit} bytes (returned ~${t.returned_bytes_approx} bytes in ${t.returned_rows} rows). ` +
        'This is a hard cap set by the operator, not a SQL LIMIT. ' +
        'Wide rows hit this cap before the row cap — narrow your SELECT list (avoid SELECT *), aggregate server-side, or filter to a smaller subset.'
      );
    default:
      return `⚠️ Result truncated (reason=${String((t as Truncation).reason)}, limit=${(t as Truncation).limit}). Narrow your query and retry.`;
  }
}

/** The text of a marshalling failure as execute_query/write_query report it. */
export function marshalFailedText(err: UnsupportedValueError): string {
  return `Failed to marshal result: ${err.message}`;
}

/**
 * The tool result of a successful query: the indented JSON, plus the truncation notice when a cap fired.
 * A NaN/±Inf value gives `Failed to marshal result: json: unsupported value: NaN` (isError), as in Go;
 * pass `marshalErrorPrefix: ''` for the dynamic view tools, which report the bare Go error.
 */
export function queryResultToolResult(
  result: Pick<TabularResult, 'columns' | 'types' | 'rows' | 'truncated'>,
  marshalErrorPrefix = 'Failed to marshal result: ',
): ToolCallResult {
  let text: string;
  try {
    text = formatQueryResult(result);
  } catch (err) {
    if (err instanceof UnsupportedValueError) return toolError(marshalErrorPrefix + err.message);
    throw err;
  }
  const content: ToolCallResult['content'] = [{ type: 'text', text }];
  if (result.truncated) content.push({ type: 'text', text: truncationNotice(result.truncated) });
  return { content };
}

/** A tool error result with one text block. */
export function toolError(message: string): ToolCallResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

/** A successful tool result with one text block. */
export function toolText(text: string): ToolCallResult {
  return { content: [{ type: 'text', text }] };
}

/** altinity-mcp's cap on error text sent to clients, in bytes. */
export const MAX_CLIENT_ERROR_BYTES = 2000;

/**
 * altinity-mcp `truncateErrForClient`: the message cut at 2000 UTF-8 bytes plus `… (truncated)`.
 * Go slices bytes, so a multi-byte character cut in the middle leaves stray bytes that its JSON encoder
 * then writes as one U+FFFD each; this reproduces that.
 */
export function truncateErrorForClient(message: string): string {
  if (message.length <= MAX_CLIENT_ERROR_BYTES / 3) return message; // cannot exceed the cap
  const bytes = Buffer.from(message, 'utf8');
  if (bytes.length <= MAX_CLIENT_ERROR_BYTES) return message;
  let end = MAX_CLIENT_ERROR_BYTES;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // back to the start of the cut character
  const stray = MAX_CLIENT_ERROR_BYTES - end;
  return `${bytes.subarray(0, end).toString('utf8')}${'\ufffd'.repeat(stray)}… (truncated)`;
}

/** `Query execution failed: <message, truncated for the client>`. */
export function queryExecutionFailedText(message: string): string {
  return `Query execution failed: ${truncateErrorForClient(message)}`;
}
