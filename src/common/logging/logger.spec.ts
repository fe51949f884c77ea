import { describe, expect, it } from 'vitest';
import { createRootLogger, setLogLevel } from './logger.js';
import { redactText } from './redact.js';

function capture(level: 'debug' | 'info' | 'warn' | 'error' = 'info') {
  const lines: string[] = [];
  const logger = createRootLogger(level, { write: (l: string) => void lines.push(l) } as never);
  return { logger, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('structured logger', () => {
  it('writes one JSON object per line with level names and an ISO time', () => {
    const { logger, parsed } = capture();
    logger.info({ context: 'test', n: 1 }, 'hello');
    const [line] = parsed();
    expect(line).toMatchObject({ level: 'info', msg: 'hello', context: 'test', n: 1, service: 'clickhouse-mcp-gateway' });
    expect(String(line!.time)).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('redacts secrets by key at any depth it logs them', () => {
    const { logger, lines } = capture();
    logger.info({ password: 'hunter2', req: { headers: { authorization: 'Bearer abc.def.ghi', cookie: 'sid=1' } }, cfg: { jwe_secret_key: 'k1', nested: { client_secret: 'cs' } } }, 'x');
    const text = lines.join('');
    for (const secret of ['hunter2', 'abc.def.ghi', 'sid=1', 'k1', '"cs"']) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
  });

  it('redacts credential-shaped text inside messages', () => {
    const { logger, lines } = capture();
    logger.error('connect to http://admin:s3cr3t@ch:8123/?password=p4ss failed; Authorization: Bearer eyJhbGciOi.eyJzdWIiOjF9.c2lnbmF0dXJl');
    const text = lines.join('');
    for (const secret of ['s3cr3t', 'p4ss', 'eyJhbGciOi']) expect(text).not.toContain(secret);
  });

  it('changes the level of existing child loggers on reload', () => {
    const { logger, lines } = capture('info');
    const child = logger.child({ context: 'c' });
    child.debug('hidden');
    setLogLevel(logger, 'debug');
    child.debug('shown');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['shown']);
  });
});

describe('redactText', () => {
  it.each([
    ['Bearer abcdef123456', 'Bearer [redacted]'],
    ['https://u:pw@host/x', 'https://[redacted]@host/x'],
    ['password=abc&x=1', 'password=[redacted]&x=1'],
    ['/eyJhbGciOiJBMjU2S1ciLCJlbmMiOiJBMjU2R0NNIn0.aGVsbG8td29ybGQ.c29tZWl2MTIz.Y2lwaGVydGV4dA.dGFnMTIzNDU/sse', '/[redacted-token]/sse'],
  ])('%s', (input, expected) => {
    expect(redactText(input)).toBe(expected);
  });
});

describe('redactObject', () => {
  it('returns clean objects untouched and copies only along secret paths', async () => {
    const { redactObject } = await import('./redact.js');
    const clean = { a: 1, b: { c: 'x' }, list: [{ d: 2 }] };
    expect(redactObject(clean)).toBe(clean);
    const dirty = { a: 1, keep: { c: 'x' }, nested: { deeper: { Password: 'p', token: 't' } }, list: [{ secret: 's' }] };
    const out = redactObject(dirty);
    expect(out).toEqual({ a: 1, keep: { c: 'x' }, nested: { deeper: { Password: '[redacted]', token: '[redacted]' } }, list: [{ secret: '[redacted]' }] });
    expect(out.keep).toBe(dirty.keep);
    expect(dirty.nested.deeper.Password).toBe('p');
  });
});

describe('redaction at any depth', () => {
  it('redacts secret-named keys ten levels down, inside arrays, and keys ending in password/secret/_token', async () => {
    const { redactObject } = await import('./redact.js');
    let deep: Record<string, unknown> = { password: 'deep-pw', keep: 'k' };
    for (let i = 0; i < 10; i++) deep = { level: i, child: deep, list: [[{ client_secret: `cs${i}` }]] };
    const out = JSON.stringify(redactObject({ deep, clickhouse_password: 'p1', refresh_token: 't1', oauth: { jwe_token: 'j1', MySecret: 's1' } }));
    for (const secret of ['deep-pw', 'cs0', 'cs9', 'p1', '"t1"', 'j1', 's1']) expect(out).not.toContain(secret);
    expect(out).toContain('"keep":"k"');
  });

  it('ends a cyclic or absurdly deep object instead of walking it', async () => {
    const { redactObject } = await import('./redact.js');
    const cyclic: Record<string, unknown> = { name: 'a', secret: 's' };
    cyclic.self = cyclic;
    const out = redactObject(cyclic) as Record<string, unknown>;
    expect(out.secret).toBe('[redacted]');
    expect(JSON.stringify(out, (_k, v) => v)).toContain('nested too deep');
    expect(cyclic.secret).toBe('s');
  });

  it('secrets nested in a logged object never reach the output line', () => {
    const { logger, lines } = capture();
    logger.info({ a: { b: { c: { d: { e: { f: { password: 'six-deep' } } } } } }, list: [{ x: [{ token: 'tok-in-array' }] }] }, 'x');
    const text = lines.join('');
    expect(text).not.toContain('six-deep');
    expect(text).not.toContain('tok-in-array');
  });
});

describe('credentials inside SQL text', () => {
  it.each([
    ["SELECT * FROM url('http://u:p4ss@10.0.0.1:8080/x.csv', CSV)", 'p4ss', "url('http://[redacted]@10.0.0.1:8080/x.csv', CSV)"],
    ["SELECT * FROM remote('h:9000', db, t, 'bob', 'remote-pw')", 'remote-pw', "remote('h:9000', db, t, '[redacted]', '[redacted]')"],
    ["SELECT * FROM remoteSecure('h:9440', 'db.t', 'bob', 'rs-pw')", 'rs-pw', "remoteSecure('h:9440', 'db.t', '[redacted]', '[redacted]')"],
    ["SELECT * FROM mysql('db:3306', 'shop', 'orders', 'root', 'my-pw')", 'my-pw', "mysql('db:3306', 'shop', 'orders', '[redacted]', '[redacted]')"],
    ["SELECT * FROM postgresql('pg:5432', 'db', 'tbl', 'pg', 'pg,pw')", 'pg,pw', "postgresql('pg:5432', 'db', 'tbl', '[redacted]', '[redacted]')"],
    ["SELECT * FROM s3('https://b.s3.amazonaws.com/k.csv', 'AKIAEXAMPLE', 'aws-secret', 'CSV')", 'aws-secret', "s3('https://b.s3.amazonaws.com/k.csv', '[redacted]', '[redacted]', '[redacted]')"],
    ["CREATE USER bob IDENTIFIED WITH sha256_password BY 'idpw'", 'idpw', "BY '[redacted]'"],
    ["CREATE USER bob IDENTIFIED BY 'it''s-secret'", "s-secret", "IDENTIFIED BY '[redacted]'"],
    ["ALTER USER bob PASSWORD 'pw-x'", 'pw-x', "PASSWORD '[redacted]'"],
    ["SELECT * FROM s3(named_conn, secret_access_key = 'nc-secret', url = 'https://x')", 'nc-secret', "secret_access_key = '[redacted]'"],
    ["SELECT * FROM url('http://x/', headers('Authorization' = 'Basic aGk6cHc='))", 'aGk6cHc', "headers('[redacted]' = '[redacted]')"],
    ["select * from REMOTE('h', system.one, 'u', 'upper-pw') AS r, mysql('a','b','c','d','second-pw')", 'upper-pw', "'[redacted]')"],
  ])('%s', async (sql, secret, expected) => {
    const { redactSqlCredentials } = await import('./redact.js');
    const out = redactSqlCredentials(sql);
    expect(out).not.toContain(secret);
    expect(out).toContain(expected);
  });

  it('leaves SQL without credentials untouched (same string)', async () => {
    const { redactSqlCredentials } = await import('./redact.js');
    for (const sql of ["SELECT count() FROM system.tables WHERE database = 'default'", 'SELECT number FROM numbers(10)', "SELECT 'remote' AS word, concat('a', 'b')"]) {
      expect(redactSqlCredentials(sql)).toBe(sql);
    }
  });

  it('a second credential-bearing call in the same text is redacted too, and an unterminated one does not throw', async () => {
    const { redactSqlCredentials } = await import('./redact.js');
    const out = redactSqlCredentials("SELECT * FROM remote('a', d, t, 'u1', 'pw1') UNION ALL SELECT * FROM mysql('h', 'd', 't', 'u2', 'pw2')");
    expect(out).not.toMatch(/pw1|pw2|u1|u2/);
    expect(() => redactSqlCredentials("SELECT * FROM remote('a', d, t, 'u', 'unterminated")).not.toThrow();
    expect(redactSqlCredentials("SELECT * FROM remote('a', d, t, 'u', 'unterminated")).not.toContain('unterminated');
  });

  it('debug lines: the `sql` field and a ClickHouse error echoing the SQL lose their credentials', () => {
    const { logger, lines } = capture('debug');
    logger.debug({ query_id: 'q', sql: "SELECT * FROM remote('h:9000', db, t, 'bob', 'hunter2')" }, 'ClickHouse query done');
    logger.debug({ reason: 'x' }, "Code: 519. DB::Exception: failed: mysql('h:3306', 'd', 't', 'root', 'sekret-9')");
    const text = lines.join('');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('sekret-9');
    expect(text).toContain("remote('h:9000', db, t, '[redacted]', '[redacted]')");
  });
});
