import { StringDecoder } from 'node:string_decoder';
import {
  type ClickHouseQueryError,
  type ErrorContext,
  exceptionOutsideJsonStrings,
  fromServerException,
  parseServerException,
  startsWithException,
  unexpectedResponse,
} from './clickhouse-error.js';
import type { Truncation } from './clickhouse.types.js';
import { LosslessParser, type NumberMode } from './lossless-json.js';
import { type ColumnCodec, rowSize } from './value-codec.js';

/**
 * Reads ClickHouse's `JSONCompact` output incrementally, one line at a time, and stops as soon as a cap fires.
 * Both 18.16 and chDB (26.x) write the same layout, one row per line:
 *
 *     {
 *     \t"meta":
 *     \t[ …column objects… ],
 *
 *     \t"data":
 *     \t[
 *     \t\t["18446744073709551615", 1.5, "2024-01-02 03:04:05"],
 *     \t\t[…]
 *     \t],
 *
 *     \t"rows": 2,
 *     …
 *     }
 *
 * Strings never contain a raw newline (ClickHouse escapes it), so a line is a row. 18.16 appends an exception
 * to the body when a query fails after data was sent (`…[0]Code: 395, e.displayText() = …`): a row that does not
 * parse, or a body that ends early, is checked for that text — only where the JSON broke off, outside string
 * literals, so a value that quotes an exception cannot pass for one — and turned into the server's error.
 *
 * The byte cap also holds inside a row: a row is read as one line, so a line still incomplete when its text
 * alone passes `maxBytes` is dropped unread and the result ends before it (`truncated: max_result_bytes`);
 * one huge value never sits whole in memory. Rows whose text fits are kept whole, the crossing one included.
 */

export interface ReaderOptions {
  maxRows?: number;
  maxBytes?: number;
  /** Builds the column codecs once the header is read (may fetch the server's time zone). */
  prepare: (columns: string[], types: string[]) => Promise<ColumnCodec[]> | ColumnCodec[];
  errorContext: ErrorContext;
}

type Phase = 'start' | 'header' | 'data-open' | 'data' | 'trailer';

const MAX_HEADER = 16 * 1024 * 1024;
const MAX_TRAILER = 1024 * 1024;

export class JsonCompactReader {
  columns: string[] = [];
  types: string[] = [];
  rows: unknown[][] = [];
  approxBytes = 0;
  truncated?: Truncation;
  /** The server had written its whole answer (the part after the rows was seen). */
  serverFinished = false;

  private phase: Phase = 'start';
  private readonly decoder = new StringDecoder('utf8');
  private pending: string[] = [];
  /** Characters in `pending` (the line being read). */
  private pendingLength = 0;
  private header = '';
  private trailer = '';
  private codecs: ColumnCodec[] = [];
  private converters: (((v: unknown) => unknown) | null)[] = [];
  private modes: NumberMode[] = [];
  private exact = false;
  private readonly parser = new LosslessParser();
  private readonly maxRows: number;
  private readonly maxBytes: number;

  constructor(private readonly options: ReaderOptions) {
    this.maxRows = options.maxRows && options.maxRows > 0 ? options.maxRows : Infinity;
    this.maxBytes = options.maxBytes && options.maxBytes > 0 ? options.maxBytes : Infinity;
  }

  /** Feeds one chunk of the body. Resolves true when a cap fired and reading must stop. */
  async push(chunk: Buffer | string): Promise<boolean> {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let start = 0;
    let nl = text.indexOf('\n');
    if (nl < 0) {
      this.pending.push(text);
      this.pendingLength += text.length;
      return this.rowTooLarge();
    }
    let buffered = '';
    if (this.pending.length > 0) {
      buffered = this.pending.join('');
      this.pending = [];
      this.pendingLength = 0;
    }
    while (nl >= 0) {
      const line = buffered ? buffered + text.slice(start, nl) : text.slice(start, nl);
      buffered = '';
      start = nl + 1;
      if (this.phase === 'data') {
        if (this.row(line)) {
          const rest = text.slice(start);
          this.serverFinished = rest.includes('\n\t"rows": ') || rest.startsWith('\t"rows": ');
          return true;
        }
      } else {
        await this.other(line);
      }
      nl = text.indexOf('\n', start);
    }
    if (start < text.length) {
      this.pending.push(text.slice(start));
      this.pendingLength += text.length - start;
      return this.rowTooLarge();
    }
    return false;
  }

  /**
   * The row being read is already longer than the whole byte cap: stop before it (its text would only grow,
   * and the approximate size of a row is never below its JSON text's by much). The rows read so far stay.
   */
  private rowTooLarge(): boolean {
    if (this.phase !== 'data' || this.pendingLength <= this.maxBytes) return false;
    this.pending = [];
    this.pendingLength = 0;
    this.truncate('max_result_bytes', this.maxBytes);
    return true;
  }

  private truncate(reason: Truncation['reason'], limit: number): void {
    this.truncated = { reason, limit, returned_rows: this.rows.length, returned_bytes_approx: this.approxBytes };
  }

  /** The body ended. Throws the server's exception, or an error when the answer is incomplete or unreadable. */
  async finish(): Promise<void> {
    const tail = this.pending.join('') + this.decoder.end();
    this.pending = [];
    this.pendingLength = 0;
    if (tail) {
      if (this.phase === 'data') {
        if (this.row(tail)) return;
      } else {
        await this.other(tail);
      }
    }
    if (this.phase === 'start') {
      this.serverFinished = true; // empty body: a statement without a result set
      return;
    }
    if (this.phase !== 'trailer') throw this.failure(this.header + tail, 'the answer ended before the rows were complete');
    let parsed: { exception?: unknown } | undefined;
    try {
      parsed = JSON.parse(`{${this.trailer}`) as { exception?: unknown };
    } catch {
      throw this.failure(this.trailer, 'the answer ended with unreadable text after the rows');
    }
    if (typeof parsed?.exception === 'string') throw this.failure(parsed.exception, parsed.exception, 'exception');
    this.serverFinished = true;
  }

  private async other(line: string): Promise<void> {
    switch (this.phase) {
      case 'start': {
        const trimmed = line.trim();
        if (!trimmed) return;
        // Not JSON at all: the text is the output of the SQL's own FORMAT (user data), never read as an exception.
        if (trimmed !== '{') throw this.failure(line, `expected JSONCompact output but got: ${trimmed.slice(0, 80)} (does the SQL have its own FORMAT clause?)`, 'data');
        this.phase = 'header';
        this.header = '{\n';
        return;
      }
      case 'header': {
        if (line.trim() === '"data":') {
          await this.readMeta();
          this.phase = 'data-open';
          return;
        }
        this.header += `${line}\n`;
        if (this.header.length > MAX_HEADER) throw this.failure(line, 'the result header is too large');
        return;
      }
      case 'data-open': {
        const trimmed = line.trim();
        if (trimmed === '[') this.phase = 'data';
        else if (trimmed) throw this.failure(line, 'expected the start of the rows');
        return;
      }
      case 'trailer': {
        if (this.trailer.length < MAX_TRAILER) this.trailer += `${line}\n`;
        return;
      }
      default:
        return;
    }
  }

  private async readMeta(): Promise<void> {
    let meta: { name: string; type: string }[];
    try {
      meta = (JSON.parse(`${this.header}"data": []}`) as { meta: { name: string; type: string }[] }).meta;
    } catch {
      throw this.failure(this.header, 'unreadable result header');
    }
    if (!Array.isArray(meta)) throw this.failure(this.header, 'the result header has no column list');
    this.columns = meta.map((m) => m.name);
    this.types = meta.map((m) => m.type);
    this.codecs = await this.options.prepare(this.columns, this.types);
    this.converters = this.codecs.map((c) => c.convert);
    this.modes = this.codecs.map((c) => c.numberMode);
    this.exact = this.modes.some((m) => m !== 0);
    this.header = '';
  }

  /** Handles one line of the data section; true when a cap fired. */
  private row(line: string): boolean {
    let end = line.length;
    let c = line.charCodeAt(end - 1);
    while (c === 32 || c === 9 || c === 13) c = line.charCodeAt(--end - 1);
    let first = 0;
    while (line.charCodeAt(first) === 9 || line.charCodeAt(first) === 32) first++;
    if (first >= end) return false; // blank line (an empty result has one)
    if (line.charCodeAt(first) === 93 /* ] */ && end - first <= 2) {
      this.phase = 'trailer';
      return false;
    }
    if (line.charCodeAt(end - 1) === 44 /* , */) end--;

    if (this.rows.length >= this.maxRows) {
      this.truncate('max_result_rows', this.maxRows);
      return true;
    }

    let values: unknown[];
    try {
      if (this.exact) {
        const parsed = this.parser.parseRow(line, first, this.modes);
        if (parsed.end !== end) throw new Error('text after the row');
        values = parsed.values;
      } else {
        values = JSON.parse(end === line.length ? line : line.slice(0, end)) as unknown[];
        if (!Array.isArray(values)) throw new Error('not a row');
      }
    } catch {
      throw this.failure(line, 'a result row could not be read');
    }
    const converters = this.converters;
    for (let i = 0; i < values.length; i++) {
      const convert = converters[i];
      if (convert) {
        const v = values[i];
        if (v !== null) values[i] = convert(v);
      }
    }
    this.rows.push(values);
    this.approxBytes += rowSize(values, this.codecs);
    if (this.approxBytes > this.maxBytes) {
      this.truncate('max_result_bytes', this.maxBytes);
      return true;
    }
    return false;
  }

  /**
   * The server's exception if the JSON broke off into one, else an "unexpected answer" error. Only an
   * exception head outside JSON string literals counts (every user value is inside one), and it is parsed
   * from where it starts: the code cannot come from data the query echoed.
   */
  private failure(text: string, detail: string, source: 'json' | 'exception' | 'data' = 'json'): ClickHouseQueryError {
    let at = -1;
    if (source === 'exception') at = startsWithException(text) ? text.search(/\S/) : -1;
    else if (source === 'json') at = exceptionOutsideJsonStrings(text);
    if (at >= 0) {
      const exceptionText = text.slice(at);
      const parsed = parseServerException(exceptionText);
      if (parsed) {
        this.serverFinished = true;
        return fromServerException(parsed, exceptionText, this.options.errorContext);
      }
    }
    return unexpectedResponse(detail, this.options.errorContext);
  }
}
