import { describe, expect, it } from 'vitest';
import { findPolicyViolation } from '../../sql/sql-policy.js';
import { quoteIdentifier, sqlString } from '../../sql/sql-literals.js';
import { buildInsertSql, buildViewCallSql, sqlLiteral } from './dynamic-sql.js';
import type { ToolDefinition } from '../../config/config.types.js';
import {
  TABLES_SQL,
  VIEWS_SQL,
  buildInsertToolDefinition,
  buildViewToolDefinition,
  columnsSql,
  discoverDynamicTools,
  extractViewParams,
  humanizeToolName,
  isNullableClickHouseType,
  mapClickHouseType,
  parseViewComment,
  prepareDynamicToolCall,
  selectWriteTables,
  snakeCase,
  tableKey,
  type ColumnRow,
  type TableRow,
  type ViewRow,
} from './dynamic-tools.js';
import { isReadOnlyStatement } from '../../sql/select-guard.js';
import { scanSql } from '../../sql/sql-scan.js';
import { resolveToolDefinitions } from './static-tools.js';

const rulesFor = (tools: ToolDefinition[], readOnly = false) => {
  const r = resolveToolDefinitions({ server: { tools, dynamic_tools: [] }, clickhouse: { read_only: readOnly } });
  expect(r.warnings).toEqual([]);
  return r.dynamicRules;
};
const noColumns = new Map<string, ColumnRow[]>();
const opts = { readOnly: false, toolInputSettings: [] as string[] };

const SEARCH_CREATE =
  "CREATE VIEW mcp.search AS SELECT number, title FROM mcp.issues WHERE title ILIKE '%' || {query: String} || '%'";
const SEARCH_COMMENT = '{"title":"GitHub Search","description":"Returns matching issues.","annotations":{"openWorldHint":true}}';
const view = (comment: string, create = SEARCH_CREATE, database = 'mcp', name = 'search'): ViewRow => ({
  database,
  name,
  create_table_query: create,
  comment,
});

describe('view tools (vectors 30, 31)', () => {
  it('builds mcp_search from a JSON COMMENT', () => {
    const { tools, warnings } = discoverDynamicTools(
      { views: [view(SEARCH_COMMENT)], tables: [], columns: noColumns },
      rulesFor([{ type: 'read', view_regexp: 'mcp\\..*' }]),
      opts,
    );
    expect(warnings).toEqual([]);
    expect(tools).toHaveLength(1);
    const t = tools[0]!;
    expect(t).toMatchObject({ kind: 'read', name: 'mcp_search', database: 'mcp', table: 'search' });
    expect(t.definition).toEqual({
      name: 'mcp_search',
      title: 'GitHub Search',
      description: 'Returns matching issues.',
      annotations: { readOnlyHint: true, destructiveHint: false, openWorldHint: true },
      inputSchema: {
        type: 'object',
        properties: { query: { type: 'string', description: 'query (String)' } },
        required: ['query'],
        additionalProperties: false,
      },
    });
    expect(JSON.stringify(t.definition.inputSchema)).toBe(
      '{"additionalProperties":false,"properties":{"query":{"description":"query (String)","type":"string"}},"required":["query"],"type":"object"}',
    );
  });

  it('falls back to the humanised name and the raw comment for invalid JSON, and to the default text for none', () => {
    const bad = buildViewToolDefinition('mcp_search', view('{"title":"GitHub Search"'), []);
    expect(bad.definition.title).toBe('Mcp Search');
    expect(bad.definition.description).toBe('{"title":"GitHub Search"');
    expect(bad.definition.annotations).toEqual({ readOnlyHint: true, destructiveHint: false, openWorldHint: false });
    const empty = buildViewToolDefinition('mcp_search', view(''), []);
    expect(empty.definition.title).toBe('Mcp Search');
    expect(empty.definition.description).toBe('Read-only tool to query data from mcp.search');
    const plain = buildViewToolDefinition('mcp_search', view('  Searches issues  '), []);
    expect(plain.definition.description).toBe('  Searches issues  '); // raw, untrimmed
    const jsonNoDescription = buildViewToolDefinition('mcp_search', view('{"title":"  T  "}'), []);
    expect(jsonNoDescription.definition.title).toBe('T');
    expect(jsonNoDescription.definition.description).toBe('Read-only tool to query data from mcp.search');
  });

  it('takes parameter descriptions from COMMENT params and adds settings when configured', () => {
    const t = buildViewToolDefinition(
      'x',
      view('{"params":{"query":"  Text to look for  ","other":"ignored"}}'),
      ['custom_tenant_id'],
    );
    expect(t.definition.inputSchema.properties.query).toEqual({ description: 'Text to look for', type: 'string' });
    expect(Object.keys(t.definition.inputSchema.properties)).toEqual(['query', 'settings']);
    expect(t.definition.inputSchema.required).toEqual(['query']);
  });

  it('collapses repeated placeholders into one property and one required entry', () => {
    const t = buildViewToolDefinition('v', view('', 'SELECT * FROM t WHERE a={id:UInt64} OR b={id:UInt64} AND c={ts:DateTime}'), []);
    expect(t.params.map((p) => p.name)).toEqual(['id', 'ts']);
    expect(t.definition.inputSchema.required).toEqual(['id', 'ts']);
    expect(t.definition.inputSchema.properties.ts).toEqual({ description: 'ts (DateTime)', format: 'date-time', type: 'string' });
  });
});

describe('parseViewComment (Go acceptance rules)', () => {
  it('accepts objects with known fields of the right type, case-insensitively', () => {
    expect(parseViewComment('  {"title":"T","description":"D","annotations":{"openWorldHint":false},"params":{"a":"A"}}  ')).toEqual({
      title: 'T',
      description: 'D',
      openWorldHint: false,
      params: { a: 'A' },
    });
    expect(parseViewComment('{"Title":"T","ANNOTATIONS":{"OpenWorldHint":true}}')).toEqual({ title: 'T', description: '', openWorldHint: true });
    expect(parseViewComment('{"title":null,"extra":[1,{"x":2}]}')).toEqual({ title: '', description: '' });
    expect(parseViewComment('{}')).toEqual({ title: '', description: '' });
  });

  it('rejects non-objects, invalid JSON and wrongly typed known fields', () => {
    for (const c of [
      '',
      '   ',
      'just a plain comment',
      '[1]',
      '{invalid json}',
      '{"title":"T"} trailing',
      '{"title":1}',
      '{"description":true}',
      '{"annotations":"x"}',
      '{"annotations":{"openWorldHint":"yes"}}',
      '{"params":[]}',
      '{"params":{"a":1}}',
    ]) {
      expect(parseViewComment(c), c).toBeUndefined();
    }
  });
});

describe('extractViewParams', () => {
  it("uses Go's pattern, order and no de-duplication", () => {
    const ps = extractViewParams('WHERE id = {id: UInt64} AND id2={id:UInt64} AND n = { name :\tNullable(String) } AND x={invalid');
    expect(ps.map((p) => [p.name, p.chType, p.jsonType, p.format, p.required])).toEqual([
      ['id', 'UInt64', 'integer', 'int64', true],
      ['id', 'UInt64', 'integer', 'int64', true],
      ['name', 'Nullable(String)', 'string', undefined, true],
    ]);
    expect(extractViewParams('SELECT * FROM t')).toEqual([]);
    expect(extractViewParams('{1abc:String}')).toEqual([]);
    expect(extractViewParams('{m: Map(String, UInt8)}')[0]!.chType).toBe('Map(String, UInt8)');
  });
});

describe('mapClickHouseType (vector 36)', () => {
  it('maps like mapCHType', () => {
    const table: [string, string, string | undefined][] = [
      ['UInt8', 'integer', 'int64'],
      ['UInt64', 'integer', 'int64'],
      ['Int32', 'integer', 'int64'],
      ['IntervalDay', 'integer', 'int64'],
      ['Float32', 'number', 'double'],
      ['Decimal(18,2)', 'number', 'double'],
      ['Bool', 'boolean', undefined],
      ['Date', 'string', 'date'],
      ['Date32', 'string', 'date'],
      ['DateTime', 'string', 'date-time'],
      ['DateTime64(3)', 'string', 'date-time'],
      ['UUID', 'string', 'uuid'],
      ['String', 'string', undefined],
      ['Enum8(\'a\'=1)', 'string', undefined],
      ['FixedString(10)', 'string', undefined],
      ['Array(UInt64)', 'string', undefined],
      ['Nullable(Int32)', 'string', undefined],
      ['LowCardinality(String)', 'string', undefined],
      ['IPv4', 'string', undefined],
    ];
    for (const [ch, type, format] of table) expect(mapClickHouseType(ch), ch).toEqual(format ? { type, format } : { type });
  });

  it('recognises Nullable wrappers like isNullableCHType', () => {
    expect(isNullableClickHouseType('  nullable(DateTime)  ')).toBe(true);
    expect(isNullableClickHouseType('LowCardinality(Nullable(String))')).toBe(true);
    expect(isNullableClickHouseType('LowCardinality(String)')).toBe(false);
    expect(isNullableClickHouseType('')).toBe(false);
  });
});

describe('snakeCase and humanizeToolName (vector 37)', () => {
  it('snake_cases like Go', () => {
    expect(snakeCase('my View-Name 123')).toBe('my_view_name_123');
    expect(snakeCase('--hello--')).toBe('hello');
    expect(snakeCase('A B  C')).toBe('a_b_c');
    expect(snakeCase('helloWorld')).toBe('helloworld');
    expect(snakeCase('ro_analytics.user_sessions')).toBe('ro_analytics_user_sessions');
    expect(snakeCase('')).toBe('');
    expect(snakeCase('İstanbul')).toBe('istanbul'); // Go's simple lower-casing
    expect(snakeCase('日本')).toBe('');
  });

  it('humanises like Go', () => {
    expect(humanizeToolName('github_search')).toBe('Github Search');
    expect(humanizeToolName('my_tool')).toBe('My Tool');
    expect(humanizeToolName('abc-def')).toBe('Abc Def');
    expect(humanizeToolName('hello.world')).toBe('Hello World');
    expect(humanizeToolName('HELLO')).toBe('Hello');
    expect(humanizeToolName('ñoño')).toBe('Ñoño');
    expect(humanizeToolName('')).toBe('');
  });
});

describe('sqlLiteral (vector 32 and safety)', () => {
  it("gives Go's error texts", () => {
    expect(sqlLiteral('integer', 1.5)).toEqual({ ok: false, message: 'expected integer, got non-integer number 1.5' });
    expect(sqlLiteral('integer', '7')).toEqual({ ok: false, message: 'expected integer, got string' });
    expect(sqlLiteral('integer', true)).toEqual({ ok: false, message: 'expected integer, got bool' });
    expect(sqlLiteral('integer', null)).toEqual({ ok: false, message: 'expected integer, got <nil>' });
    expect(sqlLiteral('integer', [1])).toEqual({ ok: false, message: 'expected integer, got []interface {}' });
    expect(sqlLiteral('integer', { a: 1 })).toEqual({ ok: false, message: 'expected integer, got map[string]interface {}' });
    expect(sqlLiteral('integer', 0.00001)).toEqual({ ok: false, message: 'expected integer, got non-integer number 1e-05' });
    expect(sqlLiteral('integer', 1234567.5)).toEqual({ ok: false, message: 'expected integer, got non-integer number 1.2345675e+06' });
    expect(sqlLiteral('number', 'x')).toEqual({ ok: false, message: 'expected number, got string' });
    expect(sqlLiteral('number', [1])).toEqual({ ok: false, message: 'expected number, got []interface {}' });
    expect(sqlLiteral('boolean', 'yes')).toEqual({ ok: false, message: 'expected boolean, got string' });
    expect(sqlLiteral('boolean', 1)).toEqual({ ok: false, message: 'expected boolean, got float64' });
  });

  it('renders values like Go', () => {
    const ok = (value: string) => ({ ok: true, value });
    expect(sqlLiteral('integer', 42)).toEqual(ok('42'));
    expect(sqlLiteral('integer', -0)).toEqual(ok('0'));
    expect(sqlLiteral('integer', 2 ** 62)).toEqual(ok('4611686018427387904'));
    expect(sqlLiteral('integer', -(2 ** 63))).toEqual(ok('-9223372036854775808'));
    expect(sqlLiteral('number', 3.14)).toEqual(ok('3.14'));
    expect(sqlLiteral('number', 1e21)).toEqual(ok('1000000000000000000000'));
    expect(sqlLiteral('number', 1e-7)).toEqual(ok('0.0000001'));
    expect(sqlLiteral('number', 42)).toEqual(ok('42'));
    expect(sqlLiteral('boolean', true)).toEqual(ok('1'));
    expect(sqlLiteral('boolean', false)).toEqual(ok('0'));
    expect(sqlLiteral('string', 'hello')).toEqual(ok("'hello'"));
    expect(sqlLiteral('string', "it's")).toEqual(ok("'it\\'s'"));
    expect(sqlLiteral('string', 'a\\b')).toEqual(ok("'a\\\\b'"));
    expect(sqlLiteral('string', 42)).toEqual(ok("'42'"));
    expect(sqlLiteral('string', null)).toEqual(ok("'null'"));
    expect(sqlLiteral('string', { b: 1, a: '<' })).toEqual(ok("'{\"a\":\"\\\\u003c\",\"b\":1}'"));
    expect(sqlLiteral('string', [1, "x'"])).toEqual(ok("'[1,\"x\\'\"]'"));
  });

  it('refuses integers outside int64 instead of wrapping', () => {
    expect(sqlLiteral('integer', 2 ** 63)).toEqual({ ok: false, message: 'integer 9.223372036854776e+18 out of range for int64' });
    expect(sqlLiteral('integer', 1e19)).toEqual({ ok: false, message: 'integer 1e+19 out of range for int64' });
    expect(sqlLiteral('integer', -1e300)).toEqual({ ok: false, message: 'integer -1e+300 out of range for int64' });
    expect(sqlLiteral('integer', 18446744073709551615n)).toEqual({ ok: false, message: 'integer 18446744073709551615 out of range for int64' });
    expect(sqlLiteral('integer', 9223372036854775807n)).toEqual({ ok: true, value: '9223372036854775807' });
    expect(sqlLiteral('number', Infinity)).toEqual({ ok: false, message: 'expected number, got non-finite number +Inf' });
  });
});

/** ClickHouse's reading of a single-quoted literal at `start`: its value and where it ends (quotedString + unescape). */
function readClickHouseString(sql: string, start: number): { value: string; end: number } {
  expect(sql[start]).toBe("'");
  let value = '';
  let i = start + 1;
  const escapes: Record<string, string> = { '0': '\0', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', a: '\x07', v: '\v' };
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '\\') {
      const e = sql[i + 1]!;
      value += escapes[e] ?? e;
      i += 2;
    } else if (c === "'") {
      if (sql[i + 1] === "'") {
        value += "'";
        i += 2;
      } else {
        return { value, end: i + 1 };
      }
    } else {
      value += c;
      i++;
    }
  }
  throw new Error('unterminated');
}

describe('injection resistance', () => {
  const payloads = [
    "' OR 1=1 --",
    "\\'",
    "\\\\'",
    "\\",
    "'",
    "''",
    "x'); DROP TABLE t; --",
    'it’s ‘quoted’ “twice”', // unicode quotes are plain characters inside an ASCII-quoted literal
    '\u0000nul\u0000',
    'line\nbreak\r\n\ttab',
    '`backquote`',
    '"double"',
    '$$heredoc$$',
    '/* comment */ -- comment',
    '\u2028\u2029😀',
  ];

  it('keeps every payload inside one literal that ClickHouse decodes back to the payload', () => {
    const random: string[] = [];
    let seed = 12345;
    const alphabet = ["'", '\\', '"', '`', ';', '-', '/', '*', '\n', '\u0000', '’', '‘', 'a', ' ', '$', '#'];
    for (let n = 0; n < 300; n++) {
      let s = '';
      for (let k = 0; k < 12; k++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        s += alphabet[seed % alphabet.length];
      }
      random.push(s);
    }
    for (const p of [...payloads, ...random]) {
      const lit = sqlString(p);
      const sql = `SELECT ${lit}`;
      const read = readClickHouseString(sql, 7);
      expect(read.value, JSON.stringify(p)).toBe(p);
      expect(read.end, JSON.stringify(p)).toBe(sql.length);
      expect(isReadOnlyStatement(sql), JSON.stringify(p)).toBe(true);
      expect(scanSql(`${sql}`, 'classic').hasSecondStatement).toBe(false);
    }
  });

  it('escapes exactly what altinity-mcp escapes, plus NUL', () => {
    expect(sqlString("' OR 1=1 --")).toBe("'\\' OR 1=1 --'");
    expect(sqlString("\\'")).toBe("'\\\\\\''");
    expect(sqlString("\\\\'")).toBe("'\\\\\\\\\\''");
    expect(sqlString('it’s')).toBe("'it’s'");
    expect(sqlString('a\u0000b')).toBe("'a\\0b'");
  });

  it('backquotes identifiers with escaping', () => {
    expect(quoteIdentifier('users')).toBe('`users`');
    expect(quoteIdentifier('we`ird\\name')).toBe('`we\\`ird\\\\name`');
    expect(quoteIdentifier('x` FROM system.users; --')).toBe('`x\\` FROM system.users; --`');
  });

  it('refuses scalars given as arrays or objects, and huge numbers, in generated SQL', () => {
    const params = extractViewParams('WHERE id={id:UInt64} AND s={s:String}');
    expect(buildViewCallSql('db', 'v', params, { id: [1, 2], s: 'x' })).toEqual({
      ok: false,
      message: 'Invalid argument "id": expected integer, got []interface {}',
    });
    expect(buildViewCallSql('db', 'v', params, { id: 1e300, s: 'x' })).toEqual({
      ok: false,
      message: 'Invalid argument "id": integer 1e+300 out of range for int64',
    });
    // Values are bound, never spliced: an array where a string belongs travels as its JSON text.
    expect(buildViewCallSql('db', 'v', params, { id: 1, s: ["') OR 1=1 --"] })).toEqual({
      ok: true,
      value: { sql: 'SELECT * FROM `db`.`v`(id = {id:UInt64}, s = {s:String})', params: { id: '1', s: '["\') OR 1=1 --"]' } },
    });
  });

  it('escapes the catalog column query', () => {
    expect(columnsSql("db'x", 't\\')).toBe(
      "SELECT name, type, default_kind, comment FROM system.columns WHERE database='db\\'x' AND table='t\\\\' ORDER BY position",
    );
  });
});

describe('view calls (vector 32)', () => {
  const tool = buildViewToolDefinition('v', view('', 'SELECT * FROM t WHERE id={id:UInt64} AND q={q:String}', 'db', 'v'), []);

  it('builds the call with backquoted names and bound parameters', () => {
    expect(prepareDynamicToolCall(tool, { id: 7, q: "it's" }, [])).toEqual({
      ok: true,
      value: { sql: 'SELECT * FROM `db`.`v`(id = {id:UInt64}, q = {q:String})', params: { id: '7', q: "it's" } },
    });
    const noParams = buildViewToolDefinition('w', view('', 'SELECT 1', 'db', 'w'), []);
    expect(prepareDynamicToolCall(noParams, {}, [])).toEqual({ ok: true, value: { sql: 'SELECT * FROM `db`.`w`' } });
    expect(prepareDynamicToolCall(noParams, null, [])).toEqual({ ok: true, value: { sql: 'SELECT * FROM `db`.`w`' } });
  });

  it('a hostile parameter value cannot add a table function: it is bound beside the SQL, which passes the policy', () => {
    const hostile = "x') UNION ALL SELECT * FROM url('http://127.0.0.1:1/leak', CSV, 'a String') --";
    const call = prepareDynamicToolCall(tool, { id: 7, q: hostile }, []);
    expect(call).toEqual({ ok: true, value: { sql: 'SELECT * FROM `db`.`v`(id = {id:UInt64}, q = {q:String})', params: { id: '7', q: hostile } } });
    const policy = { allowedTableFunctions: [], embedded: false };
    expect(findPolicyViolation((call as { value: { sql: string } }).value.sql, policy)).toBeUndefined();
    // The insert tool splices a quoted literal; under both lexers the url() stays inside the string.
    const insert = buildInsertSql('db', 't', [{ name: 'q', chType: 'String', jsonType: 'string', required: true, description: '' }], { q: hostile });
    expect(insert.ok && findPolicyViolation(insert.value, policy)).toBeUndefined();
  });

  it("returns Go's texts for bad literals", () => {
    expect(prepareDynamicToolCall(tool, { id: 1.5, q: 'x' }, [])).toEqual({
      ok: false,
      message: 'Invalid argument "id": expected integer, got non-integer number 1.5',
    });
    expect(prepareDynamicToolCall(tool, { id: '7', q: 'x' }, [])).toEqual({ ok: false, message: 'Invalid argument "id": expected integer, got string' });
  });

  it('checks required parameters, unknown names and settings', () => {
    expect(prepareDynamicToolCall(tool, { id: 7 }, [])).toEqual({ ok: false, message: 'required parameter missing: q' });
    expect(prepareDynamicToolCall(tool, { id: 7, q: 'x', z: 1 }, [])).toEqual({
      ok: false,
      message: 'argument "z" is not allowed; allowed arguments: id, q',
    });
    expect(prepareDynamicToolCall(tool, { id: 7, q: 'x', settings: { custom_a: 1 } }, ['custom_a'])).toEqual({
      ok: false,
      message: 'Invalid settings: setting "custom_a" value must be a string',
    });
    expect(prepareDynamicToolCall(tool, { id: 7, q: 'x', settings: { custom_a: '1' } }, ['custom_a'])).toEqual({
      ok: true,
      value: { sql: 'SELECT * FROM `db`.`v`(id = {id:UInt64}, q = {q:String})', params: { id: '7', q: 'x' }, settings: { custom_a: '1' } },
    });
  });
});

describe('insert tools (vector 34)', () => {
  const users: TableRow = { database: 'mydb', name: 'users', comment: '' };
  const columns: ColumnRow[] = [
    { name: 'id', type: 'UInt64', default_kind: '', comment: '' },
    { name: 'name', type: 'String', default_kind: '', comment: ' User name ' },
    { name: 'note', type: 'Nullable(String)', default_kind: '', comment: '' },
    { name: 'created', type: 'DateTime', default_kind: 'DEFAULT', comment: '' },
    { name: 'm', type: 'UInt64', default_kind: 'MATERIALIZED', comment: '' },
    { name: 'tags', type: 'Array(String)', default_kind: '', comment: '' },
  ];
  const rows = { views: [], tables: [users, { database: 'mydb', name: 'other', comment: '' }], columns: new Map([[tableKey('mydb', 'users'), columns]]) };
  const rules = rulesFor([{ type: 'write', table_regexp: 'mydb\\.users', mode: 'insert' }]);

  it('builds mydb_users with the right parameters', () => {
    expect(selectWriteTables(rows.tables, rules, false)).toEqual([users]);
    expect(selectWriteTables(rows.tables, rules, true)).toEqual([]);
    const { tools, warnings } = discoverDynamicTools(rows, rules, opts);
    expect(warnings).toEqual([
      'dynamic write tool: skipping column with unsupported type (no JSON Schema equivalent): mydb.users column "tags" type Array(String)',
    ]);
    expect(tools).toHaveLength(1);
    const t = tools[0]!;
    expect(t.definition).toEqual({
      name: 'mydb_users',
      title: 'Mydb Users',
      description: 'Insert data in mydb.users',
      annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
      inputSchema: {
        type: 'object',
        properties: {
          created: { type: 'string', format: 'date-time', description: 'created (DateTime)' },
          id: { type: 'integer', format: 'int64', description: 'id (UInt64)' },
          name: { type: 'string', description: 'User name' },
          note: { type: 'string', description: 'note (Nullable(String))' },
        },
        required: ['id', 'name'],
        additionalProperties: false,
      },
    });
    expect(Object.keys(t.definition.inputSchema.properties)).toEqual(['created', 'id', 'name', 'note']);
  });

  it('builds the INSERT or the Go error texts', () => {
    const t = discoverDynamicTools(rows, rules, opts).tools[0]!;
    expect(prepareDynamicToolCall(t, { id: 42 }, [])).toEqual({ ok: false, message: 'Failed to build query: required parameter missing: name' });
    expect(prepareDynamicToolCall(t, { id: 42, name: "it's" }, [])).toEqual({
      ok: true,
      value: { sql: "INSERT INTO `mydb`.`users` (`id`, `name`) VALUES (42, 'it\\'s')" },
    });
    expect(prepareDynamicToolCall(t, { id: 'x', name: 'n' }, [])).toEqual({
      ok: false,
      message: 'Failed to build query: invalid parameter id: expected integer, got string',
    });
    expect(buildInsertSql('d', 't', [{ name: 'a', chType: 'Nullable(String)', jsonType: 'string', required: false, description: '' }], {})).toEqual({
      ok: false,
      message: 'no columns provided',
    });
  });

  it('uses the table COMMENT verbatim and JSON params over column comments', () => {
    const comment = '{"params":{"name":"From JSON"}}';
    const { tool } = buildInsertToolDefinition('t', { ...users, comment }, columns, []);
    expect(tool.definition.description).toBe(comment);
    expect(tool.definition.inputSchema.properties.name).toEqual({ description: 'From JSON', type: 'string' });
  });

  it('is skipped in read-only mode and when the columns are missing', () => {
    expect(discoverDynamicTools(rows, rules, { ...opts, readOnly: true }).tools).toEqual([]);
    const res = discoverDynamicTools({ ...rows, columns: new Map() }, rules, opts);
    expect(res.tools).toEqual([]);
    expect(res.warnings).toEqual(['dynamic_tools: failed to get columns for write tool, skipping table mydb.users']);
  });
});

describe('discovery rule matching (vector 33)', () => {
  const views = [view('', 'SELECT 1', 'default', 'v_a'), view('', 'SELECT 1', 'default', 'v_b')];

  it('skips objects matched by two rules, keeps those matched by one', () => {
    const rules = rulesFor([
      { type: 'read', view_regexp: 'default\\.v_a' },
      { type: 'read', view_regexp: 'default\\..*' },
    ]);
    const { tools, warnings } = discoverDynamicTools({ views, tables: [], columns: noColumns }, rules, opts);
    expect(tools.map((t) => t.name)).toEqual(['default_v_b']);
    expect(warnings).toEqual(['dynamic_tools: overlap between read rules, skipping view default.v_a (matched by server.tools[0], server.tools[1])']);
  });

  it('names tools from prefix + rule name and reports named rules matching 0 or several views', () => {
    const rules = rulesFor([
      { type: 'read', view_regexp: 'default\\.v_', name: 'Views', prefix: 'ro_' },
      { type: 'read', view_regexp: 'nothing', name: 'none' },
    ]);
    const { tools, warnings } = discoverDynamicTools({ views, tables: [], columns: noColumns }, rules, opts);
    expect(tools.map((t) => [t.name, t.table])).toEqual([['ro_views', 'v_b']]); // the last row wins
    expect(warnings).toEqual([
      'dynamic_tools: named read rule matched multiple views, expected exactly one (server.tools[0], name "Views", regexp "default\\\\.v_", matched default.v_a, default.v_b); the last one is used',
      'dynamic_tools: named read rule matched no views (server.tools[1], name "none", regexp "nothing")',
    ]);
  });

  it('refuses names that are empty, taken by a static tool, or parameters that clash with settings', () => {
    const rules = rulesFor([{ type: 'read', view_regexp: '.*', name: '---' }]);
    const r1 = discoverDynamicTools({ views: [views[0]!], tables: [], columns: noColumns }, rules, opts);
    expect(r1.tools).toEqual([]);
    expect(r1.warnings.at(-1)).toBe('dynamic_tools: the tool name for view default.v_a is empty after snake_case; skipping');

    const r2 = discoverDynamicTools(
      { views: [views[0]!], tables: [], columns: noColumns },
      rulesFor([{ type: 'read', view_regexp: '.*', name: 'execute_query' }]),
      { ...opts, reservedNames: ['execute_query', 'write_query'] },
    );
    expect(r2.tools).toEqual([]);
    expect(r2.warnings).toEqual(['dynamic_tools: tool name "execute_query" for view default.v_a is taken by a static tool; skipping']);

    const r3 = discoverDynamicTools(
      { views: [view('', 'SELECT {settings:String}', 'db', 's')], tables: [], columns: noColumns },
      rulesFor([{ type: 'read', view_regexp: '.*' }]),
      { ...opts, toolInputSettings: ['custom_a'] },
    );
    expect(r3.tools).toEqual([]);
    expect(r3.warnings).toEqual(['dynamic_tools: view db.s has a parameter named "settings", which clashes with the settings argument; skipping']);
  });

  it('lets a write tool replace a read tool of the same name, as Go does', () => {
    const rules = rulesFor([
      { type: 'read', view_regexp: '^db\\.x$', name: 'same' },
      { type: 'write', table_regexp: '^db\\.t$', name: 'same', mode: 'insert' },
    ]);
    const { tools } = discoverDynamicTools(
      {
        views: [view('', 'SELECT 1', 'db', 'x')],
        tables: [{ database: 'db', name: 't', comment: '' }],
        columns: new Map([[tableKey('db', 't'), [{ name: 'a', type: 'String', default_kind: '', comment: '' }]]]),
      },
      rules,
      opts,
    );
    expect(tools.map((t) => [t.name, t.kind])).toEqual([['same', 'write']]);
  });

  it('exposes the catalog SQL verbatim', () => {
    expect(VIEWS_SQL).toBe("SELECT database, name, create_table_query, comment FROM system.tables WHERE engine='View'");
    expect(TABLES_SQL).toBe(
      "SELECT database, name, comment FROM system.tables WHERE engine NOT IN ('View', 'MaterializedView', 'Alias') AND database NOT IN ('system', 'INFORMATION_SCHEMA')",
    );
  });
});
