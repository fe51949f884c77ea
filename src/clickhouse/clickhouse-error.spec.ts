import { describe, expect, it } from 'vitest';
import {
  ClickHouseQueryError,
  abortError,
  exceptionOutsideJsonStrings,
  fromHttpError,
  parseServerException,
  readonlySettingName,
  scrub,
  toClickHouseError,
  withoutAppendedClause,
} from './clickhouse-error.js';

// Real texts, captured from ClickHouse 18.16.1 (HTTP bodies), modern servers and chDB 26.7.
const OLD = {
  table: "Code: 60, e.displayText() = DB::Exception: Table default.nosuch doesn't exist., e.what() = DB::Exception\n",
  password: 'Code: 193, e.displayText() = DB::Exception: Wrong password for user tester, e.what() = DB::Exception\n',
  user: 'Code: 192, e.displayText() = DB::Exception: Unknown user nobody, e.what() = DB::Exception\n',
  syntax:
    'Code: 62, e.displayText() = DB::Exception: Syntax error: failed at position 1: SELEC 1. Expected one of: SYSTEM query, SELECT subquery, DESC, KILL QUERY, e.what() = DB::Exception\n',
  settings: 'Code: 164, e.displayText() = DB::Exception: Cannot override setting (max_result_rows) in readonly mode, e.what() = DB::Exception\n',
  insert: 'Code: 164, e.displayText() = DB::Exception: Cannot insert into table in readonly mode, e.what() = DB::Exception\n',
  timeout: 'Code: 159, e.displayText() = DB::Exception: Timeout exceeded: elapsed 1.004 seconds, maximum: 1, e.what() = DB::Exception\n',
  rows: 'Code: 396, e.displayText() = DB::Exception: Limit for result exceeded, max rows: 3.00, current rows: 65.54 thousand, e.what() = DB::Exception\n',
  memory:
    'Code: 241, e.displayText() = DB::Exception: Memory limit (for query) exceeded: would use 2.00 MiB (attempt to allocate chunk of 4096 bytes), maximum: 1000.00 B, e.what() = DB::Exception\n',
  cancelled: 'Code: 394, e.displayText() = DB::Exception: Query was cancelled, e.what() = DB::Exception\n',
  database: "Code: 81, e.displayText() = DB::Exception: Database nope_db doesn't exist, e.what() = DB::Exception\n",
  poco: 'Poco::Exception. Code: 1000, e.code() = 0, e.displayText() = No authentication information found: Basic authentication expected, e.what() = No authentication information found\n',
};

const MODERN = {
  table: 'Code: 60. DB::Exception: Table default.x does not exist. (UNKNOWN_TABLE) (version 24.3.1.1 (official build))\n',
  auth: 'Code: 516. DB::Exception: tester: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED) (version 25.11.2.24 (official build))',
  readonly: "Code: 164. DB::Exception: Cannot modify 'max_result_rows' setting in readonly mode. (READONLY) (version 24.1.1.1)",
  cluster:
    'Code: 57. DB::Exception: There was an error on [host:9000]: Code: 57. DB::Exception: Table default.t already exists. (TABLE_ALREADY_EXISTS) (version 24.1.1.1 (official build)). (TABLE_ALREADY_EXISTS) (version 24.1.1.1 (official build))',
  syntax:
    "Code: 62. DB::Exception: Syntax error: failed at position 1 ('SELEC') (line 1, col 1): SELEC 1. Expected one of: Query, Query with output. (SYNTAX_ERROR) (version 24.3.1.1)",
};

describe('parseServerException', () => {
  const ctx = { queryId: 'q1', address: '127.0.0.1:18123' };
  it('reads the 18.16 format', () => {
    expect(parseServerException(OLD.table)).toEqual({ code: 60, type: 'UNKNOWN_TABLE', message: "Table default.nosuch doesn't exist." });
    expect(parseServerException(OLD.timeout)).toEqual({ code: 159, type: 'TIMEOUT_EXCEEDED', message: 'Timeout exceeded: elapsed 1.004 seconds, maximum: 1' });
    expect(parseServerException(OLD.poco)).toEqual({ code: 1000, type: undefined, message: 'No authentication information found: Basic authentication expected' });
  });

  it('reads the modern format, with nested version parentheses and cluster wrapping', () => {
    expect(parseServerException(MODERN.table)).toEqual({ code: 60, type: 'UNKNOWN_TABLE', message: 'Table default.x does not exist.' });
    expect(parseServerException(MODERN.auth)?.code).toBe(516);
    expect(parseServerException(MODERN.cluster)).toEqual({ code: 57, type: 'TABLE_ALREADY_EXISTS', message: 'Table default.t already exists.' });
    expect(parseServerException(MODERN.syntax)?.message).toBe("Syntax error: failed at position 1 ('SELEC') (line 1, col 1): SELEC 1. Expected one of: Query, Query with output.");
  });

  it('finds an exception 18.16 appended to row data only outside JSON strings', () => {
    const body = '\t\t[0],\n\t\t[0]Code: 395, e.displayText() = DB::Exception: Value passed to \'throwIf\' function is non zero, e.what() = DB::Exception\n';
    expect(exceptionOutsideJsonStrings(body)).toBe(body.indexOf('Code: 395'));
    expect(parseServerException(body.slice(exceptionOutsideJsonStrings(body)))).toMatchObject({ code: 395, message: "Value passed to 'throwIf' function is non zero" });
    expect(exceptionOutsideJsonStrings('\t\t["Code: 164, e.displayText() = x, \\"Code: 1. DB::Exception: y"]')).toBe(-1);
    expect(parseServerException('["Code: 1 is just data"]')).toBeUndefined();
  });

  it('takes the code from the start of the text, never from quoted user data', () => {
    const forgedOld =
      "Code: 6, e.displayText() = DB::Exception: Cannot parse string 'Code: 164. DB::Exception: Cannot modify \\'readonly\\' setting' as UInt8: syntax error at begin of string., e.what() = DB::Exception\n";
    expect(parseServerException(forgedOld)?.code).toBe(6);
    const forgedModern =
      "Code: 6. DB::Exception: Cannot parse string 'x (READONLY) (version 1.1)' as UInt8: syntax error. (CANNOT_PARSE_TEXT) (version 24.3.1.1 (official build))";
    expect(parseServerException(forgedModern)).toMatchObject({ code: 6, type: 'CANNOT_PARSE_TEXT' });
    // Text that does not begin with an exception is not one, whatever it contains.
    expect(parseServerException("SELECT 'Code: 164, e.displayText() = DB::Exception: Cannot override setting (readonly), e.what() = DB::Exception'")).toBeUndefined();
    const err = fromHttpError(400, forgedOld, ctx);
    expect([err.kind, err.code]).toEqual(['other', 6]);
  });

  it('prefers the X-ClickHouse-Exception-Code header', () => {
    const err = fromHttpError(500, MODERN.readonly, ctx, '60');
    expect([err.kind, err.code, err.type]).toEqual(['unknown_table', 60, 'UNKNOWN_TABLE']);
    const bare = fromHttpError(500, 'something odd', ctx, '159');
    expect([bare.kind, bare.code]).toEqual(['timeout', 159]);
    expect(fromHttpError(500, MODERN.readonly, ctx, 'junk').code).toBe(164);
  });

  it('names the setting of a readonly refusal', () => {
    expect(readonlySettingName(OLD.settings)).toBe('max_result_rows');
    expect(readonlySettingName(MODERN.readonly)).toBe('max_result_rows');
    expect(readonlySettingName(OLD.insert)).toBeUndefined();
  });
});

describe('fromHttpError / toClickHouseError', () => {
  const ctx = { queryId: 'q1', address: '127.0.0.1:18123', maxExecutionTime: 1, secrets: ['hunter22'] };

  it.each([
    [OLD.table, 404, 'unknown_table', "unknown table: Table default.nosuch doesn't exist."],
    [OLD.password, 401, 'auth_failed', 'ClickHouse rejected the user name or password'],
    [OLD.user, 401, 'auth_failed', 'ClickHouse rejected the user name or password'],
    [MODERN.auth, 403, 'auth_failed', 'ClickHouse rejected the user name or password'],
    [OLD.poco, 500, 'auth_failed', 'ClickHouse did not accept the credentials: No authentication information found: Basic authentication expected'],
    [OLD.insert, 500, 'readonly', 'ClickHouse refused the write: the connection is read-only'],
    [OLD.settings, 500, 'readonly', 'ClickHouse refused to change the setting max_result_rows: the user is read-only'],
    [OLD.timeout, 500, 'timeout', 'query exceeded max_execution_time of 1 s'],
    [OLD.rows, 500, 'too_many_rows', 'result exceeds a ClickHouse limit: Limit for result exceeded, max rows: 3.00, current rows: 65.54 thousand'],
    [OLD.cancelled, 500, 'cancelled', 'the query was cancelled'],
    [OLD.database, 404, 'unknown_database', "unknown database: Database nope_db doesn't exist"],
  ])('maps %#', (body, status, kind, userMessage) => {
    const err = fromHttpError(status, body, ctx);
    expect(err).toBeInstanceOf(ClickHouseQueryError);
    expect(err.kind).toBe(kind);
    expect(err.userMessage).toBe(userMessage);
    expect(err.message).toBe(userMessage);
    expect(err.httpStatus).toBe(status);
    expect(err.queryId).toBe('q1');
    expect(err.serverMessage).toBe(body.trim());
  });

  it('keeps the syntax position and caps very long texts', () => {
    const err = fromHttpError(400, OLD.syntax, ctx);
    expect(err.kind).toBe('syntax');
    expect(err.userMessage).toBe('SQL syntax error: failed at position 1: SELEC 1. Expected one of: SYSTEM query, SELECT subquery, DESC, KILL QUERY');
    const memory = fromHttpError(500, OLD.memory, ctx);
    expect(memory.kind).toBe('memory');
    expect(memory.userMessage).toMatch(/^ClickHouse ran out of memory for this query: Memory limit \(for query\) exceeded/);
  });

  it('maps a 401 without a ClickHouse text and a non-ClickHouse body', () => {
    expect(fromHttpError(401, '', ctx).kind).toBe('auth_failed');
    const proxy = fromHttpError(502, '<html>Bad Gateway</html>', ctx);
    expect([proxy.kind, proxy.userMessage]).toEqual(['other', 'ClickHouse answered HTTP 502: <html>Bad Gateway</html>']);
  });

  it('maps chDB errors (code as a string, a type, a bare message)', () => {
    const chdb = Object.assign(new Error("Unknown table expression identifier 'x' in scope SELECT * FROM x. "), { code: '60', type: 'UNKNOWN_TABLE' });
    const err = toClickHouseError(chdb, ctx);
    expect([err.kind, err.code, err.type]).toEqual(['unknown_table', 60, 'UNKNOWN_TABLE']);
    expect(err.serverMessage).toBe("Code: 60. DB::Exception: Unknown table expression identifier 'x' in scope SELECT * FROM x. (UNKNOWN_TABLE)");
  });

  it('maps plain Errors carrying a server text (how @clickhouse/client reports 18.16 errors)', () => {
    const err = toClickHouseError(new Error(OLD.table), ctx);
    expect([err.kind, err.code]).toEqual(['unknown_table', 60]);
  });

  it('re-reads chDB errors from the engine text: a forged type or code in the data does not count', () => {
    const engineText =
      "Query failed: Code: 6. DB::Exception: Cannot parse string 'Code: 164. DB::Exception: Cannot modify \\'readonly\\' setting (READONLY)' as UInt8: syntax error at begin of string. (CANNOT_PARSE_TEXT)";
    // What @clickhouse/client-common's parseError makes of it: the type and message after the LAST "Exception: ".
    const wrapped = Object.assign(new Error("Cannot modify \\'read', 'only\\' setting "), { code: '6', type: 'READONLY', cause: new Error(engineText) });
    const err = toClickHouseError(wrapped, ctx);
    expect([err.kind, err.code, err.type]).toEqual(['other', 6, 'CANNOT_PARSE_TEXT']);
    // A wrapper whose engine text is not an exception at its start: no code is believed.
    const loose = Object.assign(new Error('x'), { code: '164', type: 'READONLY', cause: new Error('something broke: Code: 164. DB::Exception: x (READONLY)') });
    expect([toClickHouseError(loose, ctx).kind, toClickHouseError(loose, ctx).code]).toEqual(['other', undefined]);
  });

  it('keeps the appended SETTINGS clause out of embedded syntax errors', () => {
    const caller = 'SELECT 1 FROM numbers(2) WHERE';
    const sent = `${caller}\nSETTINGS max_threads = 1`;
    const raw = new Error(
      'Query failed: Code: 62. DB::Exception: Syntax error: failed at position 41 (max_threads) (line 2, col 10): max_threads = 1. Expected one of: token sequence, OR, AND. (SYNTAX_ERROR)',
    );
    const mapped = withoutAppendedClause(toClickHouseError(raw, ctx), caller, sent);
    expect(mapped.userMessage).toContain('failed at position 31 (end of query) (line 1, col 31)');
    expect(mapped.serverMessage).not.toMatch(/max_threads/);
    const inside = new Error(
      'Query failed: Code: 62. DB::Exception: Syntax error: failed at position 7 (1) (line 1, col 7): 1\nSETTINGS max_threads = 1. Expected one of: token. (SYNTAX_ERROR)',
    );
    const kept = withoutAppendedClause(toClickHouseError(inside, ctx), 'SELEC 1', 'SELEC 1\nSETTINGS max_threads = 1');
    expect(kept.userMessage).toContain('failed at position 7 (1) (line 1, col 7): 1. Expected one of');
    expect(kept.serverMessage).not.toMatch(/SETTINGS|max_threads/);
  });

  it('maps transport failures', () => {
    const refused = toClickHouseError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:18123'), { code: 'ECONNREFUSED' }), ctx);
    expect([refused.kind, refused.userMessage]).toEqual(['unreachable', 'cannot reach ClickHouse at 127.0.0.1:18123: connection refused']);
    const dns = toClickHouseError(Object.assign(new Error('getaddrinfo ENOTFOUND nohost'), { code: 'ENOTFOUND' }), ctx);
    expect(dns.userMessage).toBe('cannot reach ClickHouse at 127.0.0.1:18123: host not found');
    const tls = toClickHouseError(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), ctx);
    expect(tls.kind).toBe('unreachable');
    expect(tls.userMessage).toContain('TLS handshake failed');
    const timeout = toClickHouseError(new Error('Timeout error.'), ctx);
    expect([timeout.kind, timeout.userMessage]).toEqual(['timeout', 'query exceeded max_execution_time of 1 s']);
    expect(toClickHouseError(new Error('socket hang up'), ctx).kind).toBe('unreachable');
    expect(toClickHouseError(new Error('The user aborted a request.'), ctx, 'cancelled').kind).toBe('cancelled');
  });

  it('never puts credentials in messages', () => {
    const leaky = new Error('request to http://tester:hunter22@ch:8123/?password=hunter22 failed; Authorization: Basic dGVzdGVyOmh1bnRlcjIy');
    const err = toClickHouseError(leaky, ctx);
    for (const text of [err.message, err.userMessage, err.serverMessage]) {
      expect(text).not.toContain('hunter22');
      expect(text).not.toContain('dGVzdGVyOmh1bnRlcjIy');
    }
    expect(scrub('pw is hunter22 here', ['hunter22'])).toBe('pw is [redacted] here');
    const server = fromHttpError(500, 'Code: 1, e.displayText() = DB::Exception: bad hunter22, e.what() = DB::Exception', ctx);
    expect(server.serverMessage).not.toContain('hunter22');
    expect(server.userMessage).not.toContain('hunter22');
  });

  it('describes aborts', () => {
    expect(abortError('timeout', { maxExecutionTime: 600 }).userMessage).toBe('query exceeded max_execution_time of 600 s');
    expect(abortError('cancelled', {}).kind).toBe('cancelled');
    expect(abortError('shutdown', {}).userMessage).toBe('the query was cancelled because the gateway is shutting down');
  });
});
