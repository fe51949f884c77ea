import { describe, expect, it } from 'vitest';
import { ExactNumber, type Truncation } from '../../clickhouse/clickhouse.types.js';
import {
  UnsupportedValueError,
  formatQueryResult,
  formatQueryResultCompact,
  goJsonMarshal,
  goJsonString,
  queryExecutionFailedText,
  queryResultToolResult,
  truncateErrorForClient,
  truncationNotice,
} from './result-format.js';

const result = (columns: string[], types: string[], rows: unknown[][], truncated?: Truncation) => ({ columns, types, rows, truncated });

describe('formatQueryResult (json.MarshalIndent, vector 17)', () => {
  it('writes the exact Go text for SELECT 1 AS x', () => {
    const text = formatQueryResult(result(['x'], ['UInt8'], [[1]]));
    expect(text).toBe('{\n  "columns": [\n    "x"\n  ],\n  "types": [\n    "UInt8"\n  ],\n  "rows": [\n    [\n      1\n    ]\n  ],\n  "count": 1\n}');
    expect(JSON.parse(text)).toEqual({ columns: ['x'], types: ['UInt8'], rows: [[1]], count: 1 });
  });

  it('writes rows: null for an empty result, [] for empty lists', () => {
    expect(formatQueryResult(result(['a'], ['String'], []))).toBe(
      '{\n  "columns": [\n    "a"\n  ],\n  "types": [\n    "String"\n  ],\n  "rows": null,\n  "count": 0\n}',
    );
    expect(formatQueryResult(result([], [], [[]]))).toBe('{\n  "columns": [],\n  "types": [],\n  "rows": [\n    []\n  ],\n  "count": 1\n}');
  });

  it('lays out nested arrays and maps like Go (same layout as JSON.stringify with 2 spaces, keys sorted)', () => {
    const rows = [
      [new ExactNumber('18446744073709551615'), 'a', null, true, [1, [2, []]], { b: 1, a: { z: [], y: {} } }, 1.5],
      [new ExactNumber('-1.50'), '', null, false, [], {}, -0.25],
    ];
    const text = formatQueryResult(result(['u', 's', 'n', 'b', 'arr', 'map', 'f'], ['UInt64', 'String', 'Nullable(String)', 'Bool', 'Array', 'Map', 'Float64'], rows));
    const sortedRows = [
      ['__U64__', 'a', null, true, [1, [2, []]], { a: { y: {}, z: [] }, b: 1 }, 1.5],
      ['__DEC__', '', null, false, [], {}, -0.25],
    ];
    const expected = JSON.stringify(
      { columns: ['u', 's', 'n', 'b', 'arr', 'map', 'f'], types: ['UInt64', 'String', 'Nullable(String)', 'Bool', 'Array', 'Map', 'Float64'], rows: sortedRows, count: 2 },
      null,
      2,
    )
      .replace('"__U64__"', '18446744073709551615')
      .replace('"__DEC__"', '-1.50');
    expect(text).toBe(expected);
  });

  it('adds truncated after count (vector 22) and the rows notice', () => {
    const t: Truncation = { reason: 'max_result_rows', limit: 1, returned_rows: 1, returned_bytes_approx: 10 };
    const r = queryResultToolResult(result(['id'], ['UInt64'], [[new ExactNumber('1')]], t));
    expect(r.isError).toBeUndefined();
    expect(r.content).toHaveLength(2);
    expect(r.content[0]!.text).toBe(
      '{\n  "columns": [\n    "id"\n  ],\n  "types": [\n    "UInt64"\n  ],\n  "rows": [\n    [\n      1\n    ]\n  ],\n  "count": 1,\n' +
        '  "truncated": {\n    "reason": "max_result_rows",\n    "limit": 1,\n    "returned_rows": 1,\n    "returned_bytes_approx": 10\n  }\n}',
    );
    expect(r.content[1]!.text).toBe(
      '⚠️ Result truncated at the server-configured cap of 1 rows (the underlying query returns more). This is a hard cap set by the operator, not a SQL LIMIT. To get a complete answer: narrow your WHERE clause, aggregate server-side, or paginate by a key range. Adding LIMIT N (N ≤ 1) to your SQL acknowledges the truncation but does not raise the cap.',
    );
    expect(r.content[1]!.text).toContain('truncated');
    expect(r.content[1]!.text).toContain('1 rows');
  });

  it('writes the bytes notice (vector 23)', () => {
    const t: Truncation = { reason: 'max_result_bytes', limit: 1000, returned_rows: 3, returned_bytes_approx: 1200 };
    expect(truncationNotice(t)).toBe(
      '⚠️ Result truncated at the server-configured cap of ~1000 bytes (returned ~1200 bytes in 3 rows). This is a hard cap set by the operator, not a SQL LIMIT. Wide rows hit this cap before the row cap — narrow your SELECT list (avoid SELECT *), aggregate server-side, or filter to a smaller subset.',
    );
    const r = queryResultToolResult(result(['s'], ['String'], [['x']], t));
    expect(JSON.parse(r.content[0]!.text).truncated.reason).toBe('max_result_bytes');
    expect(r.content[1]!.text).toContain('bytes');
    expect(r.content[1]!.text).toContain('SELECT *');
  });

  it('has one block and no truncated key when no cap fired (vector 24)', () => {
    const r = queryResultToolResult(result(['x'], ['UInt8'], [[1], [2]]));
    expect(r.content).toHaveLength(1);
    expect(r.content[0]!.text).not.toContain('truncated');
  });

  it('fails on NaN/Inf with Go texts', () => {
    expect(() => formatQueryResult(result(['f'], ['Float64'], [[Number.NaN]]))).toThrow(new UnsupportedValueError('json: unsupported value: NaN'));
    expect(queryResultToolResult(result(['f'], ['Float64'], [[Infinity]]))).toEqual({
      content: [{ type: 'text', text: 'Failed to marshal result: json: unsupported value: +Inf' }],
      isError: true,
    });
    expect(queryResultToolResult(result(['f'], ['Float64'], [[-Infinity]]), '')).toEqual({
      content: [{ type: 'text', text: 'json: unsupported value: -Inf' }],
      isError: true,
    });
  });
});

describe('formatQueryResultCompact (json.Encoder.Encode, OpenAPI)', () => {
  it('is one line plus a newline', () => {
    expect(formatQueryResultCompact(result(['x'], ['UInt8'], [[1]]))).toBe('{"columns":["x"],"types":["UInt8"],"rows":[[1]],"count":1}\n');
    expect(formatQueryResultCompact(result(['x'], ['UInt8'], []))).toBe('{"columns":["x"],"types":["UInt8"],"rows":null,"count":0}\n');
    expect(
      formatQueryResultCompact(
        result(['m'], ['Map(String, UInt8)'], [[{ b: 2, a: [1, 'x<'] }]], { reason: 'max_result_bytes', limit: 5, returned_rows: 1, returned_bytes_approx: 9 }),
      ),
    ).toBe(
      '{"columns":["m"],"types":["Map(String, UInt8)"],"rows":[[{"a":[1,"x\\u003c"],"b":2}]],"count":1,"truncated":{"reason":"max_result_bytes","limit":5,"returned_rows":1,"returned_bytes_approx":9}}\n',
    );
  });
});

describe('Go value encoding', () => {
  it('escapes strings exactly like encoding/json', () => {
    expect(goJsonString('plain')).toBe('"plain"');
    expect(goJsonString('<a href="x">&</a>')).toBe('"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"');
    expect(goJsonString('a\u2028b\u2029c')).toBe('"a\\u2028b\\u2029c"');
    expect(goJsonString('\b\f\n\r\t\u0000\u0001\u001f\u007f')).toBe('"\\b\\f\\n\\r\\t\\u0000\\u0001\\u001f\u007f"');
    expect(goJsonString('back\\slash')).toBe('"back\\\\slash"');
    expect(goJsonString('emoji 😀 ok')).toBe('"emoji 😀 ok"');
    expect(goJsonString('lone \ud800 and \udc00')).toBe('"lone \\ufffd and \\ufffd"');
    expect(goJsonString("quote ' ` é")).toBe('"quote \' ` é"');
  });

  it('writes numbers like Go', () => {
    expect(goJsonMarshal([0, -0, 1e21, 1e20, 1e-7, 1e-6, 0.1, 123456789.125, -5])).toBe('[0,-0,1e+21,100000000000000000000,1e-7,0.000001,0.1,123456789.125,-5]');
    expect(goJsonMarshal([10n ** 30n, new ExactNumber('123.4500')])).toBe('[1000000000000000000000000000000,123.4500]');
    expect(goJsonMarshal({ z: 1, a: null, m: new Map([[2, 'b']]) })).toBe('{"a":null,"m":{"2":"b"},"z":1}');
    expect(goJsonMarshal(new Date(Date.UTC(2024, 0, 2, 3, 4, 5)))).toBe('"2024-01-02T03:04:05Z"');
    expect(goJsonMarshal(Buffer.from('a<b'))).toBe('"a\\u003cb"');
  });

  it('sorts map keys by code point like Go, not by UTF-16 unit', () => {
    expect(goJsonMarshal({ '\uffff': 1, '😀': 2, a: 3 })).toBe('{"a":3,"\uffff":1,"😀":2}');
  });
});

describe('error text helpers', () => {
  it('prefixes and truncates at 2000 bytes (vector 21)', () => {
    expect(queryExecutionFailedText('failed to execute query: boom')).toBe('Query execution failed: failed to execute query: boom');
    const long = 'x'.repeat(2500);
    expect(truncateErrorForClient(long)).toBe(`${'x'.repeat(2000)}… (truncated)`);
    expect(truncateErrorForClient('x'.repeat(2000))).toBe('x'.repeat(2000));
  });

  it('leaves one U+FFFD per stray byte when the cut splits a character, as Go does', () => {
    const msg = `${'x'.repeat(1999)}€tail`; // € is 3 bytes: 2 of them fall beyond the cap
    expect(truncateErrorForClient(msg)).toBe(`${'x'.repeat(1999)}\ufffd… (truncated)`);
    const msg2 = `${'x'.repeat(1998)}€tail`;
    expect(truncateErrorForClient(msg2)).toBe(`${'x'.repeat(1998)}\ufffd\ufffd… (truncated)`);
    const msg3 = `${'x'.repeat(1997)}€tail`;
    expect(truncateErrorForClient(msg3)).toBe(`${'x'.repeat(1997)}€… (truncated)`);
  });
});
