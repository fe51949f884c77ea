/**
 * Small re-implementations of Go standard-library behaviour that altinity-mcp's wire texts depend on
 * (strings.TrimSpace/ToLower, fmt's %v and %q, strconv.FormatFloat, the %T names of decoded JSON values).
 * Only what the tool layer needs; each function documents the Go call it mirrors.
 */

/** Go's unicode.IsSpace set (JS `\s` differs: it has U+FEFF and lacks U+0085). */
const GO_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEADING_SPACE = new RegExp(`^[${GO_SPACE}]+`);
const TRAILING_SPACE = new RegExp(`[${GO_SPACE}]+$`);

/** strings.TrimSpace. */
export function goTrimSpace(s: string): string {
  return s.replace(LEADING_SPACE, '').replace(TRAILING_SPACE, '');
}

/** strings.TrimLeft(s, unicode spaces) — only the leading part. */
export function goTrimLeftSpace(s: string): string {
  return s.replace(LEADING_SPACE, '');
}

/**
 * strings.ToLower. JavaScript's full case mapping differs from Go's simple mapping for one character
 * that matters here: U+0130 (İ) lower-cases to plain `i` in Go but to `i` + U+0307 in JavaScript.
 */
export function goToLower(s: string): string {
  return s.replace(/\u0130/g, 'i').toLowerCase();
}

/** unicode.ToUpper applied per code point (simple mapping: a character whose full upper case is longer stays). */
export function goUpperRune(ch: string): string {
  const up = ch.toUpperCase();
  return up.length === ch.length ? up : ch;
}

/** The %T name of a value produced by Go's json.Unmarshal into interface{}. */
export function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
    case 'bigint':
      return 'float64';
    case 'object':
      return Array.isArray(v) ? '[]interface {}' : 'map[string]interface {}';
    default:
      return typeof v;
  }
}

/** Shortest round-trip decimal digits and decimal exponent of a finite, non-zero |n| (d.ddd × 10^exp). */
function shortestDigits(n: number): { digits: string; exp: number } {
  const [mantissa, exponent] = Math.abs(n).toExponential().split('e') as [string, string];
  return { digits: mantissa.replace('.', ''), exp: Number(exponent) };
}

/** fmt's %v for a float64: strconv 'g' with shortest digits, exponent form when the exponent is < -4 or >= 6. */
export function goFormatFloatV(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  const { digits, exp } = shortestDigits(n);
  const sign = n < 0 ? '-' : '';
  if (exp < -4 || exp >= 6) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp);
    return `${sign}${mant}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  return sign + fixedFromDigits(digits, exp);
}

/** strconv.FormatFloat(n, 'f', -1, 64): shortest digits, never an exponent. */
export function goFormatFloatF(n: number): string {
  if (Object.is(n, -0)) return '-0';
  if (n === 0) return '0';
  if (!Number.isFinite(n)) return goFormatFloatV(n);
  const { digits, exp } = shortestDigits(n);
  return (n < 0 ? '-' : '') + fixedFromDigits(digits, exp);
}

function fixedFromDigits(digits: string, exp: number): string {
  if (exp < 0) return `0.${'0'.repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return digits + '0'.repeat(exp + 1 - digits.length);
  return `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

const NOT_PRINTABLE = /[\p{C}\p{Z}]/u;

/** strconv.Quote / fmt's %q: double-quoted with Go escapes; printable Unicode is kept as is. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (c === 0x20 || !NOT_PRINTABLE.test(ch)) {
      out += ch;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += '\\ufffd'; // a lone surrogate: Go would have seen invalid UTF-8
    } else if (c < 0x80) {
      out += `\\x${c.toString(16).padStart(2, '0')}`;
    } else if (c <= 0xffff) {
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    } else {
      out += `\\U${c.toString(16).padStart(8, '0')}`;
    }
  }
  return `${out}"`;
}

/** Length of a string in UTF-8 bytes (Go's len(s)). Lone surrogates count as 3 bytes (U+FFFD once encoded). */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
