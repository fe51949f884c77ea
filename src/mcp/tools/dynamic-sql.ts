/**
 * The SQL of the dynamic tools: view calls (`SELECT * FROM db.view(p = {p:T})`, values bound as query
 * parameters) and inserts (`INSERT INTO db.table (c) VALUES (literal)`), with altinity-mcp's literal rules and
 * error texts. Identifiers and strings go through the one quoter/escaper in `src/sql/sql-literals.ts`.
 */
import { goFormatFloatF, goFormatFloatV, goQuote, goTypeName } from '../../common/go-compat.js';
import { quoteIdentifier, sqlString } from '../../sql/sql-literals.js';
import { goJsonMarshal, UnsupportedValueError } from './result-format.js';
import { setOwn, type Checked, type DynamicParam } from './tool-types.js';

const INT64_MIN = -(2 ** 63);
const INT64_LIMIT = 2 ** 63; // exclusive

/**
 * altinity-mcp `sqlLiteralChecked`: a JSON argument as a SQL literal for the parameter's JSON type, with Go's
 * error texts (`expected integer, got non-integer number 1.5`, `expected integer, got string`, Go type names
 * `string`, `bool`, `float64`, `map[string]interface {}`, `[]interface {}`, `<nil>`).
 * Beyond Go: integers outside int64 are refused (`integer 1e+19 out of range for int64`) where Go silently
 * wraps, and non-finite numbers are refused.
 */
export function sqlLiteral(jsonType: string, value: unknown): Checked<string> {
  switch (jsonType) {
    case 'integer': {
      if (typeof value === 'bigint') {
        if (value < BigInt(INT64_MIN) || value >= BigInt(INT64_LIMIT)) return { ok: false, message: `integer ${value} out of range for int64` };
        return { ok: true, value: value.toString() };
      }
      if (typeof value !== 'number') return { ok: false, message: `expected integer, got ${goTypeName(value)}` };
      if (!Number.isInteger(value)) return { ok: false, message: `expected integer, got non-integer number ${goFormatFloatV(value)}` };
      if (value < INT64_MIN || value >= INT64_LIMIT) return { ok: false, message: `integer ${goFormatFloatV(value)} out of range for int64` };
      return { ok: true, value: Number.isSafeInteger(value) ? String(value === 0 ? 0 : value) : BigInt(value).toString() };
    }
    case 'number': {
      if (typeof value === 'bigint') return { ok: true, value: value.toString() };
      if (typeof value !== 'number') return { ok: false, message: `expected number, got ${goTypeName(value)}` };
      if (!Number.isFinite(value)) return { ok: false, message: `expected number, got non-finite number ${goFormatFloatV(value)}` };
      return { ok: true, value: goFormatFloatF(value) };
    }
    case 'boolean':
      if (typeof value !== 'boolean') return { ok: false, message: `expected boolean, got ${goTypeName(value)}` };
      return { ok: true, value: value ? '1' : '0' };
    default: {
      // Strings as they are; any other JSON value as Go's json.Marshal writes it (`42` → '42').
      if (typeof value === 'string') return { ok: true, value: sqlString(value) };
      try {
        return { ok: true, value: sqlString(goJsonMarshal(value)) };
      } catch (err) {
        if (err instanceof UnsupportedValueError) return { ok: false, message: `failed to encode string value: ${err.message}` };
        throw err;
      }
    }
  }
}

/** A view call: SQL with `{name:Type}` placeholders and the values bound to them. */
export interface ViewCall {
  sql: string;
  params: Record<string, string | number>;
}

/**
 * The value of a view parameter as ClickHouse receives a query parameter: checked like altinity-mcp's
 * literals (same error texts), but never quoted or spliced — the client sends it beside the SQL.
 */
export function viewParamValue(jsonType: string, value: unknown): Checked<string | number> {
  const literal = sqlLiteral(jsonType, value);
  if (!literal.ok) return literal;
  if (jsonType === 'integer' || jsonType === 'number' || jsonType === 'boolean') return { ok: true, value: literal.value };
  return { ok: true, value: typeof value === 'string' ? value : goJsonMarshal(value) };
}

/**
 * `SELECT * FROM db.view(p1 = {p1:T1}, …)` over the view's parameters present in `args` (no parentheses
 * when none are), with the values as bound query parameters. altinity-mcp splices literals into the SQL; a
 * parameterized view exists only on servers that support query parameters, so binding always works here.
 * Errors are complete tool texts: `Invalid argument "<name>": <literal error>` (Go), or
 * `required parameter missing: <name>` for an absent parameter (Go sends the query and lets ClickHouse fail).
 */
export function buildViewCallSql(database: string, view: string, params: readonly DynamicParam[], args: Record<string, unknown>): Checked<ViewCall> {
  const parts: string[] = [];
  const values: Record<string, string | number> = {};
  for (const p of params) {
    if (!Object.hasOwn(args, p.name)) {
      if (p.required) return { ok: false, message: `required parameter missing: ${p.name}` };
      continue;
    }
    const value = viewParamValue(p.jsonType, args[p.name]);
    if (!value.ok) return { ok: false, message: `Invalid argument ${goQuote(p.name)}: ${value.message}` };
    // Names match [a-zA-Z_][a-zA-Z0-9_]* (the placeholder pattern) and types come from the view's own
    // definition on the server, not from the caller; anything else would not have become a parameter.
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(p.name) || /[{}]/.test(p.chType)) {
      return { ok: false, message: `Invalid argument ${goQuote(p.name)}: not a parameter name` };
    }
    parts.push(`${p.name} = {${p.name}:${p.chType}}`);
    setOwn(values, p.name, value.value);
  }
  const target = `${quoteIdentifier(database)}.${quoteIdentifier(view)}`;
  return { ok: true, value: { sql: parts.length > 0 ? `SELECT * FROM ${target}(${parts.join(', ')})` : `SELECT * FROM ${target}`, params: values } };
}

/**
 * altinity-mcp `buildInsertQuery`: `INSERT INTO db.table (c1, c2) VALUES (l1, l2)` over the declared columns
 * present in `args`, in column order. Errors (Go's texts, which the tool prefixes with
 * `Failed to build query: `): `required parameter missing: <col>`, `invalid parameter <col>: <err>`,
 * `no columns provided`.
 */
export function buildInsertSql(database: string, table: string, params: readonly DynamicParam[], args: Record<string, unknown>): Checked<string> {
  const cols: string[] = [];
  const vals: string[] = [];
  for (const p of params) {
    if (Object.hasOwn(args, p.name)) {
      const literal = sqlLiteral(p.jsonType, args[p.name]);
      if (!literal.ok) return { ok: false, message: `invalid parameter ${p.name}: ${literal.message}` };
      cols.push(quoteIdentifier(p.name));
      vals.push(literal.value);
    } else if (p.required) {
      return { ok: false, message: `required parameter missing: ${p.name}` };
    }
  }
  if (cols.length === 0) return { ok: false, message: 'no columns provided' };
  return { ok: true, value: `INSERT INTO ${quoteIdentifier(database)}.${quoteIdentifier(table)} (${cols.join(', ')}) VALUES (${vals.join(', ')})` };
}

