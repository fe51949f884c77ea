import { describe, expect, it } from 'vitest';
import { ExactNumber } from './clickhouse.types.js';
import { RawNumber } from './lossless-json.js';
import {
  buildCodec,
  dateTimeConverter,
  goFloatText,
  goFormatLength,
  needsServerTimezone,
  normalizeDecimal,
  parseTypeNode,
  rowSize,
} from './value-codec.js';

const ctx = { serverTimezone: 'UTC' };
const convert = (type: string, v: unknown): unknown => {
  const codec = buildCodec(type, ctx);
  return v === null || !codec.convert ? v : codec.convert(v);
};
/** altinity-mcp's count for one row of the given types and raw values. */
const size = (types: string[], raw: unknown[]): number => {
  const codecs = types.map((t) => buildCodec(t, ctx));
  const row = raw.map((v, i) => (v === null || !codecs[i]!.convert ? v : codecs[i]!.convert!(v)));
  return rowSize(row, codecs);
};

describe('type strings', () => {
  it('splits names and arguments, respecting quotes and nesting', () => {
    expect(parseTypeNode("DateTime('Europe/Berlin')")).toEqual({ name: 'DateTime', args: ["'Europe/Berlin'"] });
    expect(parseTypeNode("Enum8('a, (b)' = 1, 'c' = 2)").args).toEqual(["'a, (b)' = 1", "'c' = 2"]);
    expect(parseTypeNode('Map(String, Array(Tuple(a UInt8, b Nullable(String))))').args).toEqual(['String', 'Array(Tuple(a UInt8, b Nullable(String)))']);
    expect(parseTypeNode('UInt64')).toEqual({ name: 'UInt64', args: [] });
  });

  it('knows which results need the server time zone', () => {
    expect(needsServerTimezone(['DateTime'])).toBe(true);
    expect(needsServerTimezone(['Nullable(DateTime64(3))'])).toBe(true);
    expect(needsServerTimezone(["DateTime('UTC')", "DateTime64(3, 'Asia/Tokyo')", 'Date', 'String'])).toBe(false);
  });
});

describe('value conversion (what Go emits)', () => {
  it('keeps 64-bit and wider integers exact, quoted (18.16) or bare (chDB)', () => {
    expect(convert('UInt64', '18446744073709551615')).toEqual(new ExactNumber('18446744073709551615'));
    expect(convert('Int128', '-170141183460469231731687303715884105728')).toEqual(new ExactNumber('-170141183460469231731687303715884105728'));
    expect(convert('Nullable(UInt64)', '7')).toEqual(new ExactNumber('7'));
    expect(JSON.stringify(new ExactNumber('1'))).toBe('"1"'); // encoders write .text verbatim
  });

  it('emits Decimal as a string without trailing zeros', () => {
    expect(convert('Decimal(38, 10)', '12345678901234567890.1234567890')).toBe('12345678901234567890.123456789');
    expect(normalizeDecimal('1.50')).toBe('1.5');
    expect(normalizeDecimal('2.00')).toBe('2');
    expect(normalizeDecimal('-0.00')).toBe('0');
    expect(normalizeDecimal('100')).toBe('100');
    expect(normalizeDecimal('-10.010')).toBe('-10.01');
  });

  it('converts dates and times to RFC3339 without fraction', () => {
    expect(convert('DateTime', '2024-01-02 03:04:05')).toBe('2024-01-02T03:04:05Z');
    expect(convert("DateTime('Europe/Berlin')", '2024-01-02 03:04:05')).toBe('2024-01-02T03:04:05+01:00');
    expect(convert("DateTime('Europe/Berlin')", '2024-07-02 03:04:05')).toBe('2024-07-02T03:04:05+02:00');
    expect(convert("DateTime('Asia/Kolkata')", '2024-07-02 03:04:05')).toBe('2024-07-02T03:04:05+05:30');
    expect(convert("DateTime64(3, 'America/New_York')", '2024-01-02 03:04:05.123')).toBe('2024-01-02T03:04:05-05:00');
    expect(convert('DateTime64(6)', '2024-01-02 03:04:05.123456')).toBe('2024-01-02T03:04:05Z');
    expect(convert('Date', '2024-01-02')).toBe('2024-01-02T00:00:00Z');
    expect(convert('Date', '0000-00-00')).toBe('1970-01-01T00:00:00Z');
    expect(convert('DateTime', '0000-00-00 00:00:00')).toBe('1970-01-01T00:00:00Z');
    expect(convert("DateTime('Europe/Berlin')", '0000-00-00 00:00:00')).toBe('1970-01-01T01:00:00+01:00');
    // the server's zone applies to DateTime without one
    expect(buildCodec('DateTime', { serverTimezone: 'Asia/Tokyo' }).convert!('2024-01-02 03:04:05')).toBe('2024-01-02T03:04:05+09:00');
    // other output formats (unix_timestamp, iso)
    expect(dateTimeConverter('UTC')(1704164645)).toBe('2024-01-02T03:04:05Z');
    expect(dateTimeConverter('Europe/Berlin')('2024-01-02T03:04:05Z')).toBe('2024-01-02T04:04:05+01:00');
  });

  it('handles DST edges of a wall-clock time', () => {
    // 2024-03-31 02:30 does not exist in Berlin; 2024-10-27 02:30 exists twice. Either offset is acceptable,
    // but the hour before and after the change must be right.
    expect(convert("DateTime('Europe/Berlin')", '2024-03-31 01:30:00')).toBe('2024-03-31T01:30:00+01:00');
    expect(convert("DateTime('Europe/Berlin')", '2024-03-31 03:30:00')).toBe('2024-03-31T03:30:00+02:00');
    expect(convert("DateTime('Europe/Berlin')", '2024-10-27 01:30:00')).toBe('2024-10-27T01:30:00+02:00');
    expect(convert("DateTime('Europe/Berlin')", '2024-10-27 03:30:00')).toBe('2024-10-27T03:30:00+01:00');
  });

  it('converts nested values by element type', () => {
    expect(convert('Array(Nullable(UInt64))', ['1', null])).toEqual([new ExactNumber('1'), null]);
    expect(convert('Array(Array(DateTime))', [['2024-01-02 03:04:05']])).toEqual([['2024-01-02T03:04:05Z']]);
    expect(convert('Map(String, UInt64)', { a: '1' })).toEqual({ a: new ExactNumber('1') });
    expect(convert('Tuple(UInt8, UInt64)', [1, '2'])).toEqual([1, new ExactNumber('2')]);
    expect(convert('Tuple(a Int32, b Decimal(9, 2))', { a: 1, b: '1.50' })).toEqual({ a: 1, b: '1.5' });
    expect(convert('LowCardinality(Nullable(String))', 'x')).toBe('x');
    expect(convert('Float64', 'inf')).toBeNull();
    expect(convert('JSON', { a: new RawNumber('18446744073709551615'), b: new RawNumber('1.5'), c: [new RawNumber('2')] })).toEqual({
      a: new ExactNumber('18446744073709551615'),
      b: 1.5,
      c: [2],
    });
  });
});

describe("altinity-mcp's size count", () => {
  it('counts like approxRowBytes', () => {
    expect(size(['String'], ['0'])).toBe(2 + 1 + 2 + 1);
    expect(size(['Nullable(String)'], [null])).toBe(2 + 4); // null: 4, no separator
    expect(size(['UInt8'], [1])).toBe(2 + 1 + 1);
    expect(size(['UInt64'], ['18446744073709551615'])).toBe(2 + 20 + 1);
    expect(size(['Decimal(9, 2)'], ['1.50'])).toBe(2 + 3 + 1); // shopspring decimal is not a Go string: no quotes
    expect(size(['DateTime'], ['2024-01-02 03:04:05'])).toBe(2 + 20 + 2 + 1); // converted to a string first
    expect(size(['UUID'], ['00000000-0000-0000-0000-000000000001'])).toBe(2 + 36 + 1);
    expect(size(['Float64'], [1e6])).toBe(2 + '1e+06'.length + 1);
    expect(size(['Array(String)'], [['a', 'bc']])).toBe(2 + '[a bc]'.length + 1);
    expect(size(['Map(String, UInt8)'], [{ a: 1 }])).toBe(2 + 'map[a:1]'.length + 1);
    expect(size(['Bool'], [true])).toBe(2 + 4 + 1);
    expect(size(['String'], ['é'])).toBe(2 + 2 + 2 + 1); // bytes, not characters
    expect(size(['String', 'UInt8', 'Nullable(String)'], ['ab', 7, null])).toBe(2 + 5 + 2 + 4);
  });

  it("formats floats like Go's fmt.Sprint", () => {
    expect(goFloatText(1.5)).toBe('1.5');
    expect(goFloatText(100)).toBe('100');
    expect(goFloatText(123456)).toBe('123456');
    expect(goFloatText(1e6)).toBe('1e+06');
    expect(goFloatText(1234567)).toBe('1.234567e+06');
    expect(goFloatText(0.0001)).toBe('0.0001');
    expect(goFloatText(0.00001)).toBe('1e-05');
    expect(goFloatText(-2.5e-7)).toBe('-2.5e-07');
    expect(goFloatText(1e21)).toBe('1e+21');
    expect(goFloatText(1.7976931348623157e308)).toBe('1.7976931348623157e+308');
    expect(goFloatText(0)).toBe('0');
    expect(goFormatLength([1, 'ab', null, [true]])).toBe('[1 ab <nil> [true]]'.length);
  });
});
