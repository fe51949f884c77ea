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
