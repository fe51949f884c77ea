/**
 * A small JSON value parser that keeps number texts exactly. JSON.parse turns 18446744073709551615 or a
 * Decimal(38,10) into a rounded double; ClickHouse prints both bare (Decimal always, 64-bit integers on chDB
 * and whenever output_format_json_quote_64bit_integers=0). Used only for rows of results that have such
 * columns; everything else goes through JSON.parse.
 */

/** A bare JSON number kept as text, for columns whose type is not known in advance (JSON, Dynamic, Variant…). */
export class RawNumber {
  constructor(readonly text: string) {}
}

/** How numbers are delivered: 0 = JS number, 1 = the exact text as a string, 2 = a RawNumber. */
export type NumberMode = 0 | 1 | 2;

export class JsonSyntaxError extends Error {}

const enum C {
  Quote = 34,
  Backslash = 92,
  Comma = 44,
  Colon = 58,
  OpenBracket = 91,
  CloseBracket = 93,
  OpenBrace = 123,
  CloseBrace = 125,
  Space = 32,
  Tab = 9,
  Newline = 10,
  Return = 13,
}

function isNumberChar(c: number): boolean {
  // 0-9 + - . e E
  return (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46 || c === 101 || c === 69;
}

export class LosslessParser {
  private s = '';
  private i = 0;

  /** Parses a JSON array that starts at (or after whitespace from) `start`, one NumberMode per top-level element. */
  parseRow(text: string, start: number, modes: readonly NumberMode[]): { values: unknown[]; end: number } {
    this.s = text;
    this.i = start;
    this.ws();
    this.expect(C.OpenBracket);
    const values: unknown[] = [];
    this.ws();
    if (this.s.charCodeAt(this.i) === C.CloseBracket) {
      this.i++;
      return { values, end: this.i };
    }
    for (let col = 0; ; col++) {
      this.ws();
      values.push(this.value(modes[col] ?? 2));
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === C.Comma) continue;
      if (c === C.CloseBracket) break;
      throw new JsonSyntaxError(`expected , or ] at ${this.i - 1}`);
    }
    return { values, end: this.i };
  }

  private ws(): void {
    for (;;) {
      const c = this.s.charCodeAt(this.i);
      if (c === C.Space || c === C.Tab || c === C.Newline || c === C.Return) this.i++;
      else return;
    }
  }

  private expect(code: number): void {
    if (this.s.charCodeAt(this.i) !== code) throw new JsonSyntaxError(`expected ${String.fromCharCode(code)} at ${this.i}`);
    this.i++;
  }

  private value(mode: NumberMode): unknown {
    const c = this.s.charCodeAt(this.i);
    if (c === C.Quote) return this.string();
    if (c === C.OpenBracket) return this.array(mode);
    if (c === C.OpenBrace) return this.object(mode);
    if (c === 110 /* n */) return this.literal('null', null);
    if (c === 116 /* t */) return this.literal('true', true);
    if (c === 102 /* f */) return this.literal('false', false);
    const start = this.i;
    while (isNumberChar(this.s.charCodeAt(this.i))) this.i++;
    if (this.i === start) throw new JsonSyntaxError(`unexpected character at ${start}`);
    const text = this.s.slice(start, this.i);
    if (mode === 1) return text;
    if (mode === 2) return new RawNumber(text);
    const n = Number(text);
    if (Number.isNaN(n)) throw new JsonSyntaxError(`bad number ${text}`);
    return n;
  }

  private literal<T>(word: string, value: T): T {
    if (!this.s.startsWith(word, this.i)) throw new JsonSyntaxError(`unexpected token at ${this.i}`);
    this.i += word.length;
    return value;
  }

  private string(): string {
    const start = this.i;
    const close = this.s.indexOf('"', start + 1);
    if (close < 0) throw new JsonSyntaxError('unterminated string');
    const backslash = this.s.indexOf('\\', start + 1);
    if (backslash < 0 || backslash > close) {
      this.i = close + 1;
      return this.s.slice(start + 1, close);
    }
    // Escapes present: find the real end, then let JSON.parse decode the escapes.
    let j = backslash;
    for (;;) {
      const c = this.s.charCodeAt(j);
      if (Number.isNaN(c)) throw new JsonSyntaxError('unterminated string');
      if (c === C.Backslash) j += 2;
      else if (c === C.Quote) break;
      else j++;
    }
    this.i = j + 1;
    return JSON.parse(this.s.slice(start, j + 1)) as string;
  }

  private array(mode: NumberMode): unknown[] {
    this.i++;
    const out: unknown[] = [];
    this.ws();
    if (this.s.charCodeAt(this.i) === C.CloseBracket) {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value(mode));
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === C.Comma) continue;
      if (c === C.CloseBracket) return out;
      throw new JsonSyntaxError(`expected , or ] at ${this.i - 1}`);
    }
  }

  private object(mode: NumberMode): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.s.charCodeAt(this.i) === C.CloseBrace) {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s.charCodeAt(this.i) !== C.Quote) throw new JsonSyntaxError(`expected a key at ${this.i}`);
      const key = this.string();
      this.ws();
      this.expect(C.Colon);
      this.ws();
      const value = this.value(mode);
      // Like JSON.parse: "__proto__" becomes an own property, never the prototype.
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === C.Comma) continue;
      if (c === C.CloseBrace) return out;
      throw new JsonSyntaxError(`expected , or } at ${this.i - 1}`);
    }
  }
}
