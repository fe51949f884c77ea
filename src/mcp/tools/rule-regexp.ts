import { RE2JS, RE2JSException } from 're2js';

/**
 * Tool rules carry Go RE2 regular expressions (`view_regexp`, `table_regexp`, legacy `regexp`), matched
 * unanchored against `<database>.<name>` as Go's `MatchString` does. They are compiled with re2js, a port of
 * RE2 itself, so a pattern means exactly what it means to altinity-mcp (`.` matches `\r`, `\s` is ASCII,
 * `(?P<name>…)`, `\Q…\E`, `(?U)`, flags in the middle of a pattern, POSIX classes…), matching takes linear
 * time whatever the pattern (a rule from a config file cannot stall the catalog build), and what RE2
 * rejects (look-around, back-references, `\C`, possessive quantifiers) is rejected with Go's own message.
 */

/** What a compiled rule offers its callers: an unanchored match, and the pattern it came from. */
export interface RuleRegexp {
  /** True when the pattern matches anywhere in `text` (Go `regexp.MatchString`). */
  test(text: string): boolean;
  readonly source: string;
}

export type CompiledRuleRegexp = { ok: true; regexp: RuleRegexp } | { ok: false; error: string };

/** Compiles a Go RE2 pattern; a pattern RE2 refuses yields `invalid regexp "<pattern>": <Go's parse error>`. */
export function compileRuleRegexp(source: string): CompiledRuleRegexp {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(source);
  } catch (err) {
    // RE2JSSyntaxException messages are Go's, e.g. "error parsing regexp: invalid escape sequence: `\1`".
    // Anything else re2js might throw on a hostile pattern is still a refused rule, never a crash.
    const reason = err instanceof RE2JSException || err instanceof Error ? err.message : String(err);
    return { ok: false, error: `invalid regexp ${JSON.stringify(source)}: ${reason}` };
  }
  return { ok: true, regexp: { test: (text) => compiled.test(text), source } };
}
