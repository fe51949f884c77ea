import { ExactNumber } from './clickhouse.types.js';
import { type NumberMode, RawNumber } from './lossless-json.js';

/**
 * Per-column converters from ClickHouse's JSON output to the values altinity-mcp emits, plus altinity-mcp's
 * approximate size count. Built once per result from the column types; the row loop only calls them.
 *
 * Go (clickhouse-go → encoding/json) emits: integers as numbers (64-bit and wider with full precision →
 * ExactNumber here), floats as numbers, Decimal as a string (shopspring's String(): no trailing zeros),
 * Date/DateTime as RFC3339 without fraction, NULL as null, arrays/maps/tuples recursively.
 *
 * Size (altinity-mcp `approxRowBytes`): 2 per row; per value null = 4, a Go string = byte length + 2, anything
 * else = length of `fmt.Sprint(v)`, plus 1 per non-null value. Dates are strings by then (converted first);
 * UUID, IP and Decimal are not Go strings, so they count without quotes; arrays/maps count as Go prints them
 * (`[a b]`, `map[k:v]`).
 */

export interface ColumnCodec {
  /** Converts one (non-null or null) value; null means "keep as is". */
  convert: ((v: unknown) => unknown) | null;
  /** altinity-mcp's count for a non-null top-level value, without the per-value separator. */
  size: (v: unknown) => number;
  /** Go `%v` length of the value when it is nested in an array, map or tuple. */
  fmt: (v: unknown) => number;
  /** How the lossless parser must deliver numbers for this column. */
  numberMode: NumberMode;
}

export interface CodecContext {
  /** Time zone of DateTime columns without an explicit one (the server's). */
  serverTimezone: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Type strings

export interface TypeNode {
  name: string;
  /** Raw argument texts (types, literals or `name Type` pairs), trimmed. */
  args: string[];
}

/** Splits `Name(arg1, arg2)` into its name and top-level arguments, respecting quotes and nesting. */
export function parseTypeNode(text: string): TypeNode {
  const t = text.trim();
  const open = t.indexOf('(');
  if (open < 0 || !t.endsWith(')')) return { name: t, args: [] };
  const name = t.slice(0, open).trim();
  const inner = t.slice(open + 1, -1);
  const args: string[] = [];
  let depth = 0;
  let quote = 0;
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner.charCodeAt(i);
    if (quote) {
      if (c === 92 /* \ */) i++;
      else if (c === quote) quote = 0;
      continue;
    }
    if (c === 39 /* ' */ || c === 96 /* ` */ || c === 34 /* " */) quote = c;
    else if (c === 40 /* ( */) depth++;
    else if (c === 41 /* ) */) depth--;
    else if (c === 44 /* , */ && depth === 0) {
      args.push(inner.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = inner.slice(start).trim();
  if (last || args.length) args.push(last);
  return { name, args };
}

function unquote(literal: string | undefined): string | undefined {
  if (!literal) return undefined;
  const m = /^'((?:[^'\\]|\\.)*)'$/.exec(literal.trim());
  return m ? m[1]!.replace(/\\(.)/g, '$1') : undefined;
}

/** For `Tuple(a UInt8, b String)` elements: the element name (if any) and its type. */
function splitTupleElement(arg: string): { name?: string; type: string } {
  const bq = /^`((?:[^`\\]|\\.)*)`\s+([\s\S]+)$/.exec(arg);
  if (bq) return { name: bq[1], type: bq[2]! };
  const m = /^([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z][\s\S]*)$/.exec(arg);
  // "Nullable(String)" has no space before "(", "x Nullable(String)" does; bare type names never contain spaces.
  if (m && !/^[A-Za-z0-9_]+\(/.test(arg)) return { name: m[1], type: m[2]! };
  return { type: arg };
}

// ---------------------------------------------------------------------------------------------------------------
// Number helpers

const numberText = (v: unknown): string => (v instanceof RawNumber ? v.text : String(v));

function toNumber(v: unknown): unknown {
  if (typeof v === 'number' || v === null) return v;
  if (v instanceof RawNumber) return Number(v.text);
  if (typeof v === 'string') {
    const n = Number(v);
    // "inf"/"nan" (output_format_json_quote_denormals) have no JSON number; Go could not marshal them either.
    return Number.isNaN(n) ? null : n;
  }
  return v;
}

/** A JSON number of unknown type (JSON/Dynamic columns): exact when it would not survive a double. */
function rawToValue(text: string): unknown {
  if (/^-?\d+$/.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : new ExactNumber(text);
  }
  return Number(text);
}

/** shopspring/decimal's String(): trailing fractional zeros and a bare point removed, "-0" → "0". */
export function normalizeDecimal(text: string): string {
  let t = text;
  if (t.indexOf('.') >= 0) {
    let end = t.length;
    while (t.charCodeAt(end - 1) === 48 /* 0 */) end--;
    if (t.charCodeAt(end - 1) === 46 /* . */) end--;
    t = t.slice(0, end);
  }
  if (t.charCodeAt(0) === 45 /* - */ && /^-0*$/.test(t)) return '0';
  return t;
}

/** Go's `fmt.Sprint(float64)`: strconv 'g' with the shortest digits, %e form when the exponent is < -4 or >= 6. */
export function goFloatText(x: number): string {
  const abs = Math.abs(x);
  // Both languages print the same shortest digits in fixed notation here.
  if (abs >= 1e-4 && abs < 1e6) return String(x);
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const neg = x < 0;
  const [mantissa, expText] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const exp = Number(expText);
  let body: string;
  if (exp < -4 || exp >= 6) {
    const abs = Math.abs(exp);
    body = `${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${exp < 0 ? '-' : '+'}${abs < 10 ? `0${abs}` : abs}`;
  } else {
    const dp = exp + 1;
    if (dp <= 0) body = `0.${'0'.repeat(-dp)}${digits}`;
    else if (dp >= digits.length) body = digits + '0'.repeat(dp - digits.length);
    else body = `${digits.slice(0, dp)}.${digits.slice(dp)}`;
  }
  return neg ? `-${body}` : body;
}

const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8');

// ---------------------------------------------------------------------------------------------------------------
// Dates

const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'UCT', 'Etc/UCT', 'Universal', 'Etc/Universal', 'Zulu', 'Etc/Zulu', 'Etc/GMT+0', 'Etc/GMT-0', 'Etc/GMT0', 'GMT0', 'GMT+0', 'GMT-0', 'Greenwich', 'Etc/Greenwich']);

interface ZoneInfo {
  format: Intl.DateTimeFormat;
  /** "YYYY-MM-DD HH:MM" wall time → offset in minutes. */
  offsets: Map<string, number>;
}

const zones = new Map<string, ZoneInfo | null>();

function zoneInfo(zone: string): ZoneInfo | null {
  let info = zones.get(zone);
  if (info === undefined) {
    try {
      const format = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
      info = { format, offsets: new Map() };
    } catch {
      info = null; // unknown to this runtime: treated as UTC
    }
    zones.set(zone, info);
  }
  return info;
}

/** Offset (minutes east of UTC) of `zone` at the instant `utcMs`. */
function offsetAt(info: ZoneInfo, utcMs: number): number {
  const parts = info.format.formatToParts(new Date(utcMs));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(utcMs / 1000) * 1000) / 60_000);
}

/** Offset of a wall-clock time (as milliseconds of the same fields in UTC) in `zone`. */
function offsetOfWallTime(info: ZoneInfo, wallMs: number, key: string): number {
  const cached = info.offsets.get(key);
  if (cached !== undefined) return cached;
  const first = offsetAt(info, wallMs);
  let offset = first;
  const second = offsetAt(info, wallMs - first * 60_000);
  if (second !== first) offset = offsetAt(info, wallMs - second * 60_000) === second ? second : first;
  if (info.offsets.size > 20_000) info.offsets.clear();
  info.offsets.set(key, offset);
  return offset;
}

function formatOffset(minutes: number): string {
  if (minutes === 0) return 'Z';
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  const h = Math.floor(abs / 60);
  const m = abs % 60;
  return `${sign}${h < 10 ? '0' : ''}${h}:${m < 10 ? '0' : ''}${m}`;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function formatInstant(utcMs: number, zone: string): string {
  const info = UTC_ZONES.has(zone) ? null : zoneInfo(zone);
  const offset = info ? offsetAt(info, utcMs) : 0;
  const d = new Date(Math.floor(utcMs / 1000) * 1000 + offset * 60_000);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${formatOffset(offset)}`;
}

const WALL_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?$/;

/** DateTime/DateTime64 value → RFC3339 (seconds precision) with the zone's offset, as Go's time.RFC3339. */
export function dateTimeConverter(zone: string): (v: unknown) => unknown {
  const utc = UTC_ZONES.has(zone) || zoneInfo(zone) === null;
  const info = utc ? null : zoneInfo(zone)!;
  return (v: unknown): unknown => {
    if (v === null) return null;
    if (typeof v === 'number' || v instanceof RawNumber) return formatInstant(Number(numberText(v)) * 1000, zone);
    if (typeof v !== 'string') return v;
    if (v.startsWith('0000-00-00')) return formatInstant(0, zone); // 18.16 prints the zero DateTime this way
    if (v.length >= 19 && v.charCodeAt(10) === 32 /* space */) {
      if (utc) return `${v.slice(0, 10)}T${v.slice(11, 19)}Z`;
      const key = v.slice(0, 16);
      const cached = info!.offsets.get(key);
      if (cached !== undefined) return `${v.slice(0, 10)}T${v.slice(11, 19)}${formatOffset(cached)}`;
      const m = WALL_TIME.exec(v);
      if (m) {
        const wallMs = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
        return `${v.slice(0, 10)}T${v.slice(11, 19)}${formatOffset(offsetOfWallTime(info!, wallMs, key))}`;
      }
    }
    if (/^-?\d+(\.\d+)?$/.test(v)) return formatInstant(Number(v) * 1000, zone); // date_time_output_format=unix_timestamp
    const parsed = Date.parse(v); // date_time_output_format=iso
    return Number.isNaN(parsed) ? v : formatInstant(parsed, zone);
  };
}

/** Date/Date32 → midnight UTC in RFC3339. */
function convertDate(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  if (v.startsWith('0000-00-00')) return '1970-01-01T00:00:00Z';
  return /^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v;
}

// ---------------------------------------------------------------------------------------------------------------
// Codecs

const quotedSize = (v: unknown): number => (typeof v === 'string' ? byteLength(v) + 2 : String(v).length);
const textLength = (v: unknown): number => (typeof v === 'string' ? byteLength(v) : String(v).length);
/** Go prints a time.Time nested in a slice as "2006-01-02 15:04:05 +0000 UTC". */
const GO_TIME_LENGTH = 29;

const STRING_CODEC: ColumnCodec = { convert: null, size: quotedSize, fmt: textLength, numberMode: 0 };
const TEXT_CODEC: ColumnCodec = { convert: null, size: textLength, fmt: textLength, numberMode: 0 };
const BOOL_CODEC: ColumnCodec = {
  convert: (v) => (typeof v === 'number' ? v !== 0 : v),
  size: (v) => (v ? 4 : 5),
  fmt: (v) => (v ? 4 : 5),
  numberMode: 0,
};
const SMALL_INT_CODEC: ColumnCodec = {
  convert: (v) => (typeof v === 'number' ? v : toNumber(v)),
  size: (v) => String(v).length,
  fmt: (v) => String(v).length,
  numberMode: 0,
};
const BIG_INT_CODEC: ColumnCodec = {
  convert: (v) => (v === null ? null : new ExactNumber(numberText(v))),
  size: (v) => (v as ExactNumber).text.length,
  fmt: (v) => (v instanceof ExactNumber ? v.text.length : String(v).length),
  numberMode: 1,
};
const FLOAT_CODEC: ColumnCodec = {
  convert: (v) => (typeof v === 'number' ? v : toNumber(v)),
  size: (v) => (typeof v === 'number' ? goFloatText(v).length : 4),
  fmt: (v) => (typeof v === 'number' ? goFloatText(v).length : 5),
  numberMode: 0,
};
const DECIMAL_CODEC: ColumnCodec = {
  convert: (v) => (v === null ? null : normalizeDecimal(numberText(v))),
  size: textLength,
  fmt: textLength,
  numberMode: 1,
};
const DATE_CODEC: ColumnCodec = { convert: convertDate, size: quotedSize, fmt: () => GO_TIME_LENGTH, numberMode: 0 };

/** Any JSON value of a type the gateway does not model (JSON, Dynamic, Variant, AggregateFunction, …). */
function convertUnknown(v: unknown): unknown {
  if (v instanceof RawNumber) return rawToValue(v.text);
  if (Array.isArray(v)) return v.map(convertUnknown);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = convertUnknown(x);
    return out;
  }
  return v;
}

/** Go `%v` length of an arbitrary converted value. */
export function goFormatLength(v: unknown): number {
  if (v === null || v === undefined) return 5; // <nil>
  if (typeof v === 'string') return byteLength(v);
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e21 ? String(v).length : goFloatText(v).length;
  if (typeof v === 'boolean') return v ? 4 : 5;
  if (v instanceof ExactNumber) return v.text.length;
  if (Array.isArray(v)) return listLength(v, goFormatLength);
  if (typeof v === 'object') return mapLength(v as Record<string, unknown>, goFormatLength);
  return String(v).length;
}

function listLength(list: readonly unknown[], fmt: (x: unknown) => number): number {
  let n = 2 + Math.max(0, list.length - 1);
  for (const x of list) n += x === null ? 5 : fmt(x);
  return n;
}

function mapLength(obj: Record<string, unknown>, fmt: (x: unknown) => number): number {
  const keys = Object.keys(obj);
  let n = 5 + Math.max(0, keys.length - 1); // "map[" + "]" + separators
  for (const k of keys) {
    const x = obj[k];
    n += byteLength(k) + 1 + (x === null ? 5 : fmt(x));
  }
  return n;
}

const UNKNOWN_CODEC: ColumnCodec = {
  convert: convertUnknown,
  size: goFormatLength,
  fmt: goFormatLength,
  numberMode: 2,
};

const maxMode = (a: NumberMode, b: NumberMode): NumberMode => (a > b ? a : b);

function arrayCodec(elem: ColumnCodec): ColumnCodec {
  const conv = elem.convert;
  const fmt = (v: unknown): number => (Array.isArray(v) ? listLength(v, elem.fmt) : goFormatLength(v));
  return {
    convert: conv ? (v) => (Array.isArray(v) ? v.map((x) => (x === null ? null : conv(x))) : v) : null,
    size: fmt,
    fmt,
    numberMode: elem.numberMode,
  };
}

function mapCodec(value: ColumnCodec): ColumnCodec {
  const conv = value.convert;
  const fmt = (v: unknown): number =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? mapLength(v as Record<string, unknown>, value.fmt) : goFormatLength(v);
  return {
    convert: conv
      ? (v) => {
          if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
          const out: Record<string, unknown> = {};
          for (const [k, x] of Object.entries(v)) out[k] = x === null ? null : conv(x);
          return out;
        }
      : null,
    size: fmt,
    fmt,
    numberMode: value.numberMode,
  };
}

function tupleCodec(elements: { name?: string; codec: ColumnCodec }[]): ColumnCodec {
  let mode: NumberMode = 0;
  for (const e of elements) mode = maxMode(mode, e.codec.numberMode);
  const byName = new Map(elements.filter((e) => e.name).map((e) => [e.name!, e.codec]));
  const convert = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => (x === null ? null : (elements[i]?.codec.convert ?? convertUnknownIfRaw)(x)));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = x === null ? null : (byName.get(k)?.convert ?? convertUnknownIfRaw)(x);
      return out;
    }
    return v;
  };
  const fmt = (v: unknown): number => {
    if (Array.isArray(v)) {
      let n = 2 + Math.max(0, v.length - 1);
      v.forEach((x, i) => (n += x === null ? 5 : (elements[i]?.codec.fmt ?? goFormatLength)(x)));
      return n;
    }
    if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      let n = 5 + Math.max(0, keys.length - 1);
      for (const k of keys) {
        const x = (v as Record<string, unknown>)[k];
        n += byteLength(k) + 1 + (x === null ? 5 : (byName.get(k)?.fmt ?? goFormatLength)(x));
      }
      return n;
    }
    return goFormatLength(v);
  };
  return { convert, size: fmt, fmt, numberMode: mode };
}

const convertUnknownIfRaw = (x: unknown): unknown => (x instanceof RawNumber ? rawToValue(x.text) : x);

const SMALL_INTS = new Set(['Int8', 'Int16', 'Int32', 'UInt8', 'UInt16', 'UInt32']);
const BIG_INTS = new Set(['Int64', 'UInt64', 'Int128', 'UInt128', 'Int256', 'UInt256']);

/** Builds the codec of one column type. */
export function buildCodec(type: string, ctx: CodecContext): ColumnCodec {
  const node = parseTypeNode(type);
  const { name, args } = node;
  if (name === 'Nullable' || name === 'LowCardinality') return buildCodec(args[0] ?? 'String', ctx);
  if (name === 'SimpleAggregateFunction') return buildCodec(args[1] ?? 'String', ctx);
  if (SMALL_INTS.has(name)) return SMALL_INT_CODEC;
  if (BIG_INTS.has(name)) return BIG_INT_CODEC;
  if (name === 'Float32' || name === 'Float64' || name === 'BFloat16') return FLOAT_CODEC;
  if (name.startsWith('Decimal')) return DECIMAL_CODEC;
  if (name === 'Bool' || name === 'Boolean') return BOOL_CODEC;
  if (name === 'String' || name === 'FixedString' || name === 'Enum8' || name === 'Enum16' || name === 'Enum' || name === 'Time' || name === 'Time64') {
    return STRING_CODEC;
  }
  if (name === 'UUID' || name === 'IPv4' || name === 'IPv6') return TEXT_CODEC;
  if (name === 'Date' || name === 'Date32') return DATE_CODEC;
  if (name === 'DateTime' || name === 'DateTime64') {
    const zone = unquote(name === 'DateTime' ? args[0] : args[1]) ?? ctx.serverTimezone;
    return { convert: dateTimeConverter(zone), size: quotedSize, fmt: () => GO_TIME_LENGTH, numberMode: 0 };
  }
  if (name === 'Array') return arrayCodec(buildCodec(args[0] ?? 'String', ctx));
  if (name === 'Map') return mapCodec(buildCodec(args[1] ?? 'String', ctx));
  if (name === 'Tuple') {
    return tupleCodec(args.map((a) => {
      const el = splitTupleElement(a);
      return { name: el.name, codec: buildCodec(el.type, ctx) };
    }));
  }
  if (name === 'Nothing') return STRING_CODEC;
  return UNKNOWN_CODEC;
}

/** True when some column type has no zone and needs the server's time zone. */
export function needsServerTimezone(types: readonly string[]): boolean {
  return types.some((t) => /\bDateTime(?:64)?\b(?!\s*\(\s*'|\s*\(\s*\d+\s*,\s*')/.test(t));
}

/** The number of bytes altinity-mcp counts for one row. */
export function rowSize(row: readonly unknown[], codecs: readonly ColumnCodec[]): number {
  let total = 2;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    total += v === null ? 4 : codecs[i]!.size(v) + 1;
  }
  return total;
}
