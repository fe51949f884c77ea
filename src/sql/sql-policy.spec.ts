import { beforeAll, describe, expect, it } from 'vitest';
import { findPolicyViolation, INFILE_REFUSAL, OUTFILE_REFUSAL, type SqlPolicy } from './sql-policy.js';
import { loadSqlParser } from './sql-parser.js';
import { isBlockedInputSetting, protectedBy, DEFAULT_PROTECTED_SETTINGS } from './protected-settings.js';
import { isOutboundName, tableFunctionAllowlist } from './table-functions.js';

const http: SqlPolicy = { allowedTableFunctions: [], embedded: false };
const embedded: SqlPolicy = { allowedTableFunctions: [], embedded: true };
const check = (sql: string, policy: SqlPolicy = http) => findPolicyViolation(sql, policy);

describe('findPolicyViolation', () => {
  beforeAll(() => loadSqlParser());

  it.each([
    ["SELECT * FROM url('http://127.0.0.1:1/x', CSV, 'a String')", 'url'],
    ["SELECT * FROM URL('http://127.0.0.1:1/x', CSV, 'a String')", 'URL'],
    ["select * from remote('127.0.0.1:9000', system.one)", 'remote'],
    ["SELECT * FROM remoteSecure('h:9440', db.t)", 'remoteSecure'],
    ["SELECT * FROM mysql('h:3306', 'db', 't', 'u', 'p')", 'mysql'],
    ["SELECT * FROM s3('http://h/b/*.csv')", 's3'],
    ["SELECT * FROM icebergS3Cluster('c', 'http://h')", 'icebergS3Cluster'],
    ["SELECT * FROM deltaLake('http://h')", 'deltaLake'],
    ["SELECT * FROM clusterAllReplicas('default', system.one)", 'clusterAllReplicas'],
    ["SELECT * FROM file('/etc/passwd', 'LineAsString')", 'file'],
    ["SELECT file('/etc/passwd')", 'file'],
    ["DESCRIBE TABLE url('http://h/x', CSV)", 'url'],
    ["DESC url('http://h/x', CSV)", 'url'],
    ["EXPLAIN SELECT * FROM url('http://h/x', CSV)", 'url'],
    ["SELECT * FROM (SELECT * FROM url('http://h/x', CSV))", 'url'],
    ["WITH t AS (SELECT * FROM url('http://h/x', CSV)) SELECT * FROM t", 'url'],
    ["SELECT 1 UNION ALL SELECT * FROM url('http://h/x', CSV)", 'url'],
    ["SELECT * FROM numbers(1) WHERE number IN (SELECT c1 FROM url('http://h/x', CSV))", 'url'],
    ["SELECT * FROM numbers(1), url('http://h/x', CSV)", 'url'],
    ["SELECT * FROM numbers(1) AS a JOIN url('http://h/x', CSV) AS b ON 1", 'url'],
    ["INSERT INTO t SELECT * FROM url('http://h/x', CSV)", 'url'],
    ["INSERT INTO FUNCTION url('http://h/x', CSV, 'a String') SELECT 1", 'url'],
    ["CREATE TABLE t (a String) ENGINE = URL('http://h/x', CSV)", 'URL'],
    ['SELECT * FROM "url"(\'http://h/x\', CSV)', 'url'],
    ["SELECT * FROM `url` ('http://h/x', CSV)", 'url'],
    ["SELECT * FROM url/* c */('http://h/x', CSV)", 'url'],
    ["SELECT * FROM executable('x.sh', TSV, 'a String')", 'executable'],
    ["SELECT * FROM input('a String')", 'input'],
    ["SELECT * FROM somethingNew('x')", 'somethingNew'],
    ["SELECT * FROM loop(numbers(3)) LIMIT 1", 'loop'],
  ])('refuses %s', (sql, name) => {
    const message = check(sql);
    expect(message).toContain(`${name}()`);
    expect(message).toMatch(/^Query rejected: /);
  });

  it('names the function and the key that allows it', () => {
    expect(check("SELECT * FROM url('http://h/x', CSV)")).toBe(
      'Query rejected: table function url() is not allowed (it reaches the network or files); an operator can allow it with server.allowed_table_functions',
    );
  });

  it('refuses a call hidden from one lexer generation by a nested comment', () => {
    // 18.16 ends the comment at the first */ and reads the url() call; modern ClickHouse nests comments.
    expect(check("SELECT 1 /* /* */ , url('http://h/x', CSV) -- */")).toContain('url()');
    // modern reads `# ` as a comment; 18.16 does not (and would see the call).
    expect(check("SELECT * FROM numbers(1) # \n, url('http://h/x', CSV)")).toContain('url()');
  });

  it.each([
    'SELECT * FROM numbers(10)',
    'SELECT * FROM numbers_mt(10) AS n JOIN zeros(3) AS z ON 1',
    "SELECT * FROM generateRandom('a UInt8', 1) LIMIT 1",
    "SELECT * FROM values('a UInt8', 1, 2)",
    'SELECT * FROM view(SELECT 1)',
    "SELECT * FROM merge('db', '^t')",
    "SELECT * FROM null('a UInt8')",
    "SELECT lower('url(x)'), toDate('2020-01-01'), EXTRACT(YEAR FROM toDate('2020-01-01'))",
    'SELECT a FROM t WHERE x IN (1, 2) ORDER BY a, lower(b)',
    'SELECT count() FROM t GROUP BY a, toStartOfHour(ts)',
    'SELECT * FROM db.my_view(id = 1)',
    'SELECT * FROM t ARRAY JOIN arrayMap(x -> x, arr) AS a',
    "SELECT URLHierarchy('http://h/a/b'), substring('abc' FROM 1 FOR 2)",
    "SELECT 'SELECT * FROM url(x)' AS text -- url('x')",
    'SELECT url FROM t WHERE file = 1',
    'SELECT * FROM t1, t2 WHERE t1.a = toUInt8(t2.b)',
  ])('allows %s', (sql) => {
    expect(check(sql)).toBeUndefined();
  });

  it('allows a query the parser cannot read when the scanner finds nothing', () => {
    expect(check('SELECT 1 FROM numbers(3) SETTINGS log_comment = $$x$$')).toBeUndefined();
  });

  it('opens exactly the configured names', () => {
    const policy: SqlPolicy = { allowedTableFunctions: ['url'], embedded: false };
    expect(check("SELECT * FROM url('http://h/x', CSV)", policy)).toBeUndefined();
    expect(check("SELECT * FROM remote('h', system.one)", policy)).toContain('remote()');
    expect(check("SELECT * FROM url('http://h/x', CSV)", { allowedTableFunctions: ['*'], embedded: false })).toBeUndefined();
  });

  it('on the embedded engine outbound names and * cannot be allowed', () => {
    const policy: SqlPolicy = { allowedTableFunctions: ['file', '*', 'loop'], embedded: true };
    expect(check("SELECT * FROM file('/etc/passwd', 'LineAsString')", policy)).toContain('not allowed on the embedded engine');
    expect(check("SELECT * FROM url('http://h/x', CSV)", embedded)).toContain('url()');
    expect(check('SELECT * FROM loop(numbers(3)) LIMIT 1', policy)).toBeUndefined();
  });

  it.each([
    ["SELECT 1 INTO OUTFILE 'out.tsv'", OUTFILE_REFUSAL],
    ["select 1 into /* x */ outfile 'out.tsv' FORMAT CSV", OUTFILE_REFUSAL],
    ["INSERT INTO t FROM INFILE '/etc/passwd' FORMAT CSV", INFILE_REFUSAL],
  ])('refuses files: %s', (sql, message) => {
    expect(check(sql, { allowedTableFunctions: ['*'], embedded: false })).toBe(message);
  });

  it('does not mistake words in literals for OUTFILE', () => {
    expect(check("SELECT 'INTO OUTFILE' AS x")).toBeUndefined();
  });

  it.each([
    ['SELECT sleep(3) SETTINGS max_execution_time = 0', 'max_execution_time'],
    ['SELECT 1 SETTINGS log_comment = \'x\', MAX_RESULT_ROWS = 0', 'MAX_RESULT_ROWS'],
    ['SELECT * FROM (SELECT 1 SETTINGS readonly = 0)', 'readonly'],
    ['SELECT 1 SETTINGS result_overflow_mode = \'break\'', 'result_overflow_mode'],
    ['SELECT 1 SETTINGS allow_experimental_analyzer = 1', 'allow_experimental_analyzer'],
    ['SET max_memory_usage = 0', 'max_memory_usage'],
    ['SELECT 1 SETTINGS "max_threads" = 64', 'max_threads'],
  ])('refuses a protected setting: %s', (sql, name) => {
    expect(check(sql)).toContain(`setting "${name}" is blocked`);
  });

  it('allows unprotected settings and the protection can be lifted', () => {
    expect(check("SELECT 1 SETTINGS log_comment = 'x', join_use_nulls = 1")).toBeUndefined();
    expect(check('SELECT max_execution_time = 0 FROM t')).toBeUndefined();
    expect(check('SELECT 1 SETTINGS max_execution_time = 0', { ...http, protectedSettings: [] })).toBeUndefined();
  });
});

describe('protected settings and outbound names', () => {
  it('matches patterns case-insensitively', () => {
    expect(protectedBy('MAX_THREADS', DEFAULT_PROTECTED_SETTINGS)).toBe('max_threads');
    expect(protectedBy('max_rows_to_group_by', DEFAULT_PROTECTED_SETTINGS)).toBe('max_rows_*');
    expect(protectedBy('max_block_size', DEFAULT_PROTECTED_SETTINGS)).toBeUndefined();
    expect(protectedBy('read_overflow_mode', DEFAULT_PROTECTED_SETTINGS)).toBe('*_overflow_mode');
    expect(protectedBy('custom_tenant', DEFAULT_PROTECTED_SETTINGS)).toBeUndefined();
    expect(isBlockedInputSetting('user', [])).toBe(true);
    expect(isBlockedInputSetting('max_threads', [])).toBe(false);
  });

  it('knows the outbound families and not the scalar look-alikes', () => {
    for (const name of ['url', 'S3', 'icebergAzure', 'hudiCluster', 'paimonLocal', 'azureBlobStorage', 'catBoostPool']) {
      expect(isOutboundName(name), name).toBe(true);
    }
    for (const name of ['URLHierarchy', 'numbers', 'lower', 'filesystemAvailable']) expect(isOutboundName(name), name).toBe(false);
    expect(tableFunctionAllowlist(['url', ' Loop '], false).names.has('loop')).toBe(true);
  });
});

describe('statements that define tables', () => {
  it.each(['CREATE TABLE t (a String) ENGINE = Memory', 'INSERT INTO t (a, b) VALUES (1, 2)', 'INSERT INTO TABLE t (a) SELECT 1', "INSERT INTO `db`.`t` (`a`) VALUES ('url(x)')"])(
    'allows %s',
    (sql) => {
      expect(findPolicyViolation(sql, { allowedTableFunctions: [], embedded: false })).toBeUndefined();
    },
  );
});
