import { describe, expect, it } from 'vitest';
import { ClickHouseQueryError } from './clickhouse-error.js';
import { ExactNumber } from './clickhouse.types.js';
import { JsonCompactReader, type ReaderOptions } from './json-compact-reader.js';
import { LosslessParser, RawNumber } from './lossless-json.js';
import { buildCodec } from './value-codec.js';

/** A JSONCompact body laid out exactly as 18.16 and chDB write it. */
function body(meta: [string, string][], rows: string[], extra = ''): string {
  const metaText = meta.map(([name, type]) => `\t\t{\n\t\t\t"name": "${name}",\n\t\t\t"type": "${type}"\n\t\t}`).join(',\n');
  const data = rows.length ? rows.map((r) => `\t\t${r}`).join(',\n') : '';
  return `{\n\t"meta":\n\t[\n${metaText}\n\t],\n\n\t"data":\n\t[\n${data}\n\t],\n\n\t"rows": ${rows.length},\n\n\t"statistics":\n\t{\n\t\t"elapsed": 0.000390665,\n\t\t"rows_read": 2,\n\t\t"bytes_read": 16\n\t}${extra}\n}\n`;
}

function reader(opts: Partial<ReaderOptions> = {}): JsonCompactReader {
  return new JsonCompactReader({
    prepare: (_c, types) => types.map((t) => buildCodec(t, { serverTimezone: 'UTC' })),
    errorContext: { queryId: 'q' },
    ...opts,
  });
}

/** Feeds a body in chunks of `size` bytes (splitting lines and UTF-8 sequences); returns whether it stopped early. */
async function feed(r: JsonCompactReader, text: string, size = 7): Promise<boolean> {
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i += size) {
    if (await r.push(bytes.subarray(i, i + size))) return true;
  }
  await r.finish();
  return false;
}

describe('JsonCompactReader', () => {
  it('reads an 18.16 body split at arbitrary byte boundaries (incl. inside UTF-8)', async () => {
    const text = body(
      [['u', 'UInt64'], ['d', 'Decimal(38, 10)'], ['s', 'String'], ['n', 'Nullable(String)'], ['a', 'Array(String)']],
      ['["18446744073709551615", 12345678901234567890.1234567890, "é\\\\x\\/y", null, ["a\\nb","c\\"d"]]', '["1", 0.5000000000, "ü", "x", []]'],
    );
    for (const size of [1, 3, 7, 64, 100_000]) {
      const r = reader();
      expect(await feed(r, text, size)).toBe(false);
      expect(r.columns).toEqual(['u', 'd', 's', 'n', 'a']);
      expect(r.rows).toEqual([
        [new ExactNumber('18446744073709551615'), '12345678901234567890.123456789', 'é\\x/y', null, ['a\nb', 'c"d']],
        [new ExactNumber('1'), '0.5', 'ü', 'x', []],
      ]);
      expect(r.serverFinished).toBe(true);
    }
  });

  it('reads chDB bodies with bare 64/128-bit integers losslessly', async () => {
    const r = reader();
    await feed(r, body([['u', 'UInt64'], ['i', 'Int128'], ['m', 'Map(String, UInt64)'], ['f', 'Float64']], ['[18446744073709551615, -170141183460469231731687303715884105728, {"a":18446744073709551615}, 0.1]']));
    expect(r.rows).toEqual([[new ExactNumber('18446744073709551615'), new ExactNumber('-170141183460469231731687303715884105728'), { a: new ExactNumber('18446744073709551615') }, 0.1]]);
  });

  it('reads an empty result', async () => {
    const r = reader();
    await feed(r, body([['x', 'UInt8']], []));
    expect(r.columns).toEqual(['x']);
    expect(r.rows).toEqual([]);
  });

  it('treats an empty body as a statement without result set', async () => {
    const r = reader();
    await feed(r, '');
    expect(r.columns).toEqual([]);
    expect(r.rows).toEqual([]);
  });

  it('stops at maxRows only when there are more rows', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => `[${i}]`);
    const capped = reader({ maxRows: 5 });
    expect(await feed(capped, body([['x', 'UInt32']], rows), 4096)).toBe(true);
    expect(capped.rows).toHaveLength(5);
    expect(capped.truncated).toEqual({ reason: 'max_result_rows', limit: 5, returned_rows: 5, returned_bytes_approx: 5 * 4 });
    expect(capped.serverFinished).toBe(true); // the rest of the body was already in the chunk

    const exact = reader({ maxRows: 20 });
    expect(await feed(exact, body([['x', 'UInt32']], rows))).toBe(false);
    expect(exact.truncated).toBeUndefined();

    const early = reader({ maxRows: 5 });
    expect(await feed(early, body([['x', 'UInt32']], rows), 16)).toBe(true);
    expect(early.serverFinished).toBe(false); // stopped before the end arrived: the caller KILLs the query
  });

  it('stops at maxBytes after the crossing row', async () => {
    const r = reader({ maxBytes: 10 });
    expect(await feed(r, body([['s', 'String']], ['["aaaa"]', '["b"]', '["c"]']))).toBe(true);
    // ["aaaa"] → 2 + 6 + 1 = 9; ["b"] → 6: crossing at 15
    expect(r.rows).toEqual([['aaaa'], ['b']]);
    expect(r.truncated).toEqual({ reason: 'max_result_bytes', limit: 10, returned_rows: 2, returned_bytes_approx: 15 });
  });

  it('stops inside a row whose text alone passes maxBytes, without holding the row', async () => {
    const huge = `["${'a'.repeat(200_000)}"]`;
    const r = reader({ maxBytes: 1000 });
    const text = body([['s', 'String']], ['["small"]', huge, '["never"]']);
    const bytes = Buffer.from(text, 'utf8');
    let stoppedAt = -1;
    for (let i = 0; i < bytes.length; i += 512) {
      if (await r.push(bytes.subarray(i, i + 512))) {
        stoppedAt = i;
        break;
      }
    }
    // Stopped about one cap into the huge row, long before its end.
    expect(stoppedAt).toBeGreaterThan(0);
    expect(stoppedAt).toBeLessThan(text.indexOf(huge) + 2_000);
    expect(r.rows).toEqual([['small']]);
    expect(r.truncated).toEqual({ reason: 'max_result_bytes', limit: 1000, returned_rows: 1, returned_bytes_approx: 10 });
    expect(r.serverFinished).toBe(false); // the caller KILLs the query
    // Without a byte cap the same row is read whole.
    const whole = reader();
    expect(await feed(whole, text, 4096)).toBe(false);
    expect(whole.rows).toHaveLength(3);
  });

  it('keeps a row whose text fits the cap even when it crosses it (altinity-mcp keeps the crossing row)', async () => {
    const r = reader({ maxBytes: 30 });
    expect(await feed(r, body([['s', 'String']], ['["aaaaaaaaaaaaaaaaaaaa"]', '["bbbbbbbbbbbbbbbbbbbb"]', '["c"]']))).toBe(true);
    expect(r.rows.map((row) => row[0])).toEqual(['aaaaaaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbbbbbb']);
  });

  it('does not take an exception quoted inside row data for the server\'s', async () => {
    const forged = '["Code: 164, e.displayText() = DB::Exception: Cannot override setting (readonly) in readonly mode, e.what() = DB::Exception"]';
    const ok = reader();
    expect(await feed(ok, body([['s', 'String']], [forged]))).toBe(false);
    expect(ok.rows).toHaveLength(1);
    // A row that breaks (bad JSON) with a quoted exception inside a string is an unreadable answer, not a 164.
    const broken = `${forged.slice(0, -1)}x]`;
    const err = (await feed(reader(), body([['s', 'String']], [broken])).catch((e: unknown) => e)) as ClickHouseQueryError;
    expect(err).toBeInstanceOf(ClickHouseQueryError);
    expect([err.kind, err.code]).toEqual(['other', undefined]);
    // Output in another FORMAT (user data from the first byte) is never read as an exception.
    const own = (await feed(reader(), 'Code: 164, e.displayText() = DB::Exception: Cannot override setting (readonly) in readonly mode, e.what() = DB::Exception\n').catch((e: unknown) => e)) as ClickHouseQueryError;
    expect([own.kind, own.code]).toEqual(['other', undefined]);
    expect(own.userMessage).toContain('own FORMAT clause');
  });

  it('turns an exception appended mid-stream (18.16) into the server error', async () => {
    const text = `{\n\t"meta":\n\t[\n\t\t{\n\t\t\t"name": "x",\n\t\t\t"type": "UInt8"\n\t\t}\n\t],\n\n\t"data":\n\t[\n\t\t[0],\n\t\t[0]Code: 395, e.displayText() = DB::Exception: Value passed to 'throwIf' function is non zero, e.what() = DB::Exception\n`;
    const r = reader();
    const err = await feed(r, text).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClickHouseQueryError);
    expect((err as ClickHouseQueryError).code).toBe(395);
    expect((err as ClickHouseQueryError).queryId).toBe('q');
  });

  it('turns an exception in the exact path and a modern "exception" field into errors', async () => {
    const exact = reader();
    const text = `{\n\t"meta":\n\t[\n\t\t{\n\t\t\t"name": "x",\n\t\t\t"type": "UInt64"\n\t\t}\n\t],\n\n\t"data":\n\t[\n\t\t["1"]Code: 241, e.displayText() = DB::Exception: Memory limit (for query) exceeded, e.what() = DB::Exception\n`;
    expect(((await feed(exact, text).catch((e: unknown) => e)) as ClickHouseQueryError).kind).toBe('memory');
    const modern = reader();
    const withField = body([['x', 'UInt8']], ['[1]'], ',\n\n\t"exception": "Code: 159. DB::Exception: Timeout exceeded: elapsed 1 seconds, maximum: 1. (TIMEOUT_EXCEEDED)"');
    expect(((await feed(modern, withField).catch((e: unknown) => e)) as ClickHouseQueryError).kind).toBe('timeout');
  });

  it('reports a truncated body and a body in another format', async () => {
    const cut = body([['x', 'UInt8']], ['[1]', '[2]']).slice(0, -40);
    const err = (await feed(reader(), cut).catch((e: unknown) => e)) as ClickHouseQueryError;
    expect(err).toBeInstanceOf(ClickHouseQueryError);
    const csv = (await feed(reader(), '1,2\n3,4\n').catch((e: unknown) => e)) as ClickHouseQueryError;
    expect(csv.userMessage).toContain('own FORMAT clause');
  });
});

describe('LosslessParser', () => {
  const p = new LosslessParser();
  it('parses rows with per-column number modes', () => {
    expect(p.parseRow('[1, 18446744073709551615, 2.50, "x"]', 0, [0, 1, 2, 0]).values).toEqual([1, '18446744073709551615', new RawNumber('2.50'), 'x']);
    expect(p.parseRow('\t\t[[1,2], {"a": [true, false, null]}, "\\u00e9\\/"]', 0, [1, 0, 0]).values).toEqual([['1', '2'], { a: [true, false, null] }, 'é/']);
    expect(p.parseRow('[]', 0, []).values).toEqual([]);
  });
  it('keeps "__proto__" keys as own properties', () => {
    const v = p.parseRow('[{"__proto__": 1}]', 0, [0]).values[0] as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__']);
  });
  it('rejects malformed input', () => {
    expect(() => p.parseRow('[1,', 0, [0])).toThrow();
    expect(() => p.parseRow('["x]', 0, [0])).toThrow();
    expect(() => p.parseRow('[Code: 1]', 0, [0])).toThrow();
  });
});
