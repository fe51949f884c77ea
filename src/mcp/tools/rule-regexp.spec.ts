import { describe, expect, it } from 'vitest';
import { compileRuleRegexp } from './rule-regexp.js';

const matches = (re: string, s: string): boolean => {
  const c = compileRuleRegexp(re);
  if (!c.ok) throw new Error(c.error);
  return c.regexp.test(s);
};

const refusal = (re: string): string => {
  const c = compileRuleRegexp(re);
  if (c.ok) throw new Error(`${re} compiled`);
  return c.error;
};

describe('compileRuleRegexp (Go RE2 semantics through re2js)', () => {
  it('matches unanchored like Go MatchString and keeps the pattern', () => {
    expect(matches('mydb\\.users', 'mydb.users')).toBe(true);
    expect(matches('users', 'mydb.users_archive')).toBe(true);
    expect(matches('^mydb\\.users$', 'mydb.users_archive')).toBe(false);
    const c = compileRuleRegexp('^db\\.');
    expect(c.ok && c.regexp.source).toBe('^db\\.');
  });

  it('gives RE2 meanings where JavaScript RegExp differs', () => {
    expect(matches('^.$', '\r')).toBe(true); // RE2 `.` stops only at \n (JS also stops at \r)
    expect(matches('^.$', '\u2028')).toBe(true); // …and at U+2028 in JS
    expect(matches('^.$', '\n')).toBe(false);
    expect(matches('(?s)^.$', '\n')).toBe(true);
    expect(matches('^.$', '😀')).toBe(true); // one code point, not two UTF-16 units
    expect(matches('a\\sb', 'a\u00a0b')).toBe(false); // RE2 `\s` is ASCII [\t\n\f\r ]
    expect(matches('a\\sb', 'a\vb')).toBe(false); // …without \v (JS includes it)
    expect(matches('a\\sb', 'a\tb')).toBe(true);
    expect(matches('users$', 'db.users\n')).toBe(false); // `$` is end of text without (?m)
    expect(matches('(?m)users$', 'db.users\nx')).toBe(true);
    expect(matches('users\\z', 'db.users')).toBe(true);
    expect(matches('\\Adb\\.', 'db.x')).toBe(true);
    expect(matches('\\Qa.b\\E', 'a.b')).toBe(true); // \Q…\E quotes (JS has no such syntax)
    expect(matches('\\Qa.b\\E', 'axb')).toBe(false);
    expect(matches('(?P<db>[a-z]+)\\.t', 'abc.t')).toBe(true); // Go named group (JS: SyntaxError)
    expect(matches('^[[:alpha:]_]+\\.[[:digit:]]+$', 'db.123')).toBe(true);
    expect(matches('^[[:^alpha:]]+$', '123')).toBe(true); // negated POSIX class
    expect(matches('^\\p{Greek}+$', 'αβγ')).toBe(true);
    expect(matches('^\\pL+$', 'abc')).toBe(true);
    expect(matches('a\\056b', 'a.b')).toBe(true); // octal escape
    expect(matches('^a{2}$', 'aa')).toBe(true);
    expect(matches('a{x', 'a{x')).toBe(true); // a `{` that is no repetition is a literal
    expect(matches('[]a]', ']')).toBe(true); // `]` first in a class is a literal
    expect(matches('a(?i)B', 'ab')).toBe(true); // flags in the middle apply from there on
    expect(matches('a(?i)B', 'Ab')).toBe(false);
    expect(matches('(?i)^MYDB\\.', 'mydb.t')).toBe(true);
  });

  it('(?U) makes repetitions ungreedy, as in Go', () => {
    const c = compileRuleRegexp('(?U)^a+');
    expect(c.ok).toBe(true);
    expect(matches('(?U)^db\\..+$', 'db.t')).toBe(true);
  });

  it('refuses what RE2 refuses, with Go regexp.Compile’s message', () => {
    const cases: [string, string][] = [
      ['(?=x)', 'error parsing regexp: invalid or unsupported Perl syntax: `(?=`'],
      ['(?!x)', 'error parsing regexp: invalid or unsupported Perl syntax: `(?!`'],
      ['(a)\\1', 'error parsing regexp: invalid escape sequence: `\\1`'],
      ['\\C', 'error parsing regexp: invalid escape sequence: `\\C`'],
      ['\\k', 'error parsing regexp: invalid escape sequence: `\\k`'],
      ['a++', 'error parsing regexp: invalid nested repetition operator: `++`'],
      ['[abc', 'error parsing regexp: missing closing ]: `[abc`'],
      ['a(b', 'error parsing regexp: missing closing ): `a(b`'],
      ['x{1001}', 'error parsing regexp: invalid repeat count: `{1001}`'],
    ];
    for (const [re, reason] of cases) {
      expect(compileRuleRegexp(re), re).toEqual({ ok: false, error: `invalid regexp ${JSON.stringify(re)}: ${reason}` });
    }
    expect(refusal('(?<=x)a')).toMatch(/^invalid regexp "\(\?<=x\)a": error parsing regexp: /); // look-behind
  });

  it('matches in linear time where a backtracking engine explodes', () => {
    // (a+)+$ against "aaaa…b" is catastrophic for JavaScript RegExp; RE2 answers at once.
    const started = performance.now();
    expect(matches('^(a+)+$', `${'a'.repeat(5000)}b`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
