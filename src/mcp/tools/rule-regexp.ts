/**
 * Tool rules carry Go RE2 regular expressions (`view_regexp`, `table_regexp`, legacy `regexp`), matched
 * unanchored against `<database>.<name>`. This converts the RE2 syntax that appears in practice into an
 * equivalent JavaScript RegExp, and rejects — with a clear reason — what RE2 itself rejects (look-around,
 * back-references) or what JavaScript cannot express here (flags in the middle of a pattern, ungreedy mode).
 *
 * Conversions: a leading `(?flags)` group (i, m, s) becomes RegExp flags; `(?P<name>` → `(?<name>`;
 * `\z` / `\A` → end/start of text; `\Q…\E` → escaped literal; `[[:alpha:]]`-style POSIX classes → ranges;
 * `\pL` / `\p{Greek}` → `\p{L}` / `\p{Script=Greek}` (with the `u` flag); `\x{10FFFF}` → `\u{10FFFF}`;
 * octal `\123` → `\u0053`; `\a` → bell; escaped punctuation → `\xHH`; `.` → "anything but \n" (RE2's
 * meaning; JavaScript's `.` also stops at \r, U+2028 and U+2029); `\s` → RE2's ASCII `[\t\n\f\r ]`.
 */

export type CompiledRuleRegexp = { ok: true; regexp: RegExp } | { ok: false; error: string };

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

const GO_SPACE_CLASS = '\\t\\n\\f\\r ';
const SIMPLE_ESCAPES = new Set(['d', 'D', 'w', 'W', 'b', 'B', 'f', 'n', 'r', 't', 'v', 'S']);
/** A character as an escape valid with and without the `u` flag (astral ones need `u`; callers set it). */
const hex = (code: number): string =>
  code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : code <= 0xffff
      ? `\\u${code.toString(16).padStart(4, '0')}`
      : `\\u{${code.toString(16)}}`;

class Unsupported extends Error {}

/** Compiles a Go RE2 pattern into a JavaScript RegExp with the same matches (never the `g` flag). */
export function compileRuleRegexp(source: string): CompiledRuleRegexp {
  try {
    const { pattern, flags } = convert(source);
    return { ok: true, regexp: new RegExp(pattern, flags) };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { ok: false, error: `invalid regexp ${JSON.stringify(source)}: ${reason}` };
  }
}

function convert(source: string): { pattern: string; flags: string } {
  let i = 0;
  let flags = '';
  let needU = false;
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(source);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === 'i' || f === 'm' || f === 's') {
        if (!flags.includes(f)) flags += f;
      } else if (f === 'U') {
        throw new Unsupported('the (?U) ungreedy flag is not supported');
      } else {
        throw new Unsupported(`unknown flag ${f} in (?${lead[1]})`);
      }
    }
    i = lead[0].length;
  }
  const dotAll = flags.includes('s');
  if (/[\ud800-\udfff]/.test(source)) needU = true; // astral characters must stay one unit when quantified
  let out = '';
  const n = source.length;
  let inClass = false;
  let classStart = -1;

  const readEscape = (): string => {
    // source[i] === '\\'
    const e = source[i + 1];
    if (e === undefined) throw new Unsupported('trailing backslash');
    i += 2;
    if (/[!-/:-@[-`{-~]/.test(e)) return hex(e.charCodeAt(0)); // escaped punctuation
    if (e === 's') return inClass ? GO_SPACE_CLASS : `[${GO_SPACE_CLASS}]`;
    if (e === 'S' && !inClass) return `[^${GO_SPACE_CLASS}]`;
    if (e === 'a') return '\\x07';
    if (SIMPLE_ESCAPES.has(e)) {
      if (inClass && (e === 'b' || e === 'B')) throw new Unsupported(`\\${e} is not allowed in a character class`);
      return `\\${e}`;
    }
    if (e === 'z' || e === 'A') {
      if (inClass) throw new Unsupported(`\\${e} is not allowed in a character class`);
      return e === 'z' ? '(?![\\s\\S])' : '(?<![\\s\\S])';
    }
    if (e === 'x') {
      if (source[i] === '{') {
        const close = source.indexOf('}', i);
        const digits = close < 0 ? '' : source.slice(i + 1, close);
        if (!/^[0-9A-Fa-f]{1,6}$/.test(digits) || parseInt(digits, 16) > 0x10ffff) throw new Unsupported('invalid \\x{…} escape');
        i = close + 1;
        if (parseInt(digits, 16) > 0xffff) needU = true;
        return hex(parseInt(digits, 16));
      }
      const two = source.slice(i, i + 2);
      if (!/^[0-9A-Fa-f]{2}$/.test(two)) throw new Unsupported('invalid \\x escape');
      i += 2;
      return `\\x${two}`;
    }
    if (e >= '0' && e <= '7') {
      // RE2: \0 or two-or-more octal digits are an octal code; a single \1…\7 is a back-reference.
      const m = /^[0-7]{0,2}/.exec(source.slice(i))![0];
      if (e !== '0' && m.length === 0) throw new Unsupported(`back-reference \\${e} is not supported`);
      i += m.length;
      return hex(parseInt(e + m, 8));
    }
    if (e === '8' || e === '9') throw new Unsupported(`back-reference \\${e} is not supported`);
    if (e === 'p' || e === 'P') {
      let name: string;
      if (source[i] === '{') {
        const close = source.indexOf('}', i);
        if (close < 0) throw new Unsupported('unclosed \\p{…}');
        name = source.slice(i + 1, close);
        i = close + 1;
      } else {
        name = source[i] ?? '';
        i += 1;
      }
      let negate = e === 'P';
      if (name.startsWith('^')) {
        negate = !negate;
        name = name.slice(1);
      }
      if (!/^[A-Za-z_]+$/.test(name)) throw new Unsupported(`invalid Unicode class \\${e}{${name}}`);
      needU = true;
      const prop = name === 'Any' || /^[A-Z][a-z]?$/.test(name) ? name : `Script=${name}`;
      return `\\${negate ? 'P' : 'p'}{${prop}}`;
    }
    if (e === 'Q') {
      const end = source.indexOf('\\E', i);
      const literal = end < 0 ? source.slice(i) : source.slice(i, end);
      i = end < 0 ? n : end + 2;
      let lit = '';
      for (const ch of literal) lit += /[A-Za-z0-9_ ]/.test(ch) ? ch : hex(ch.codePointAt(0)!);
      if ([...literal].some((ch) => ch.codePointAt(0)! > 0xffff)) needU = true;
      return lit;
    }
    if (e === 'C') throw new Unsupported('\\C (any byte) is not supported');
    throw new Unsupported(`invalid escape sequence \\${e}`);
  };

  while (i < n) {
    const c = source[i]!;
    if (c === '\\') {
      out += readEscape();
      continue;
    }
    if (inClass) {
      if (c === ']' && i > classStart) {
        inClass = false;
        out += ']';
        i++;
        continue;
      }
      if (c === '[' && source[i + 1] === ':') {
        const close = source.indexOf(':]', i + 2);
        const name = close < 0 ? '' : source.slice(i + 2, close);
        const range = POSIX_CLASSES[name];
        if (range === undefined) throw new Unsupported(`unknown or negated POSIX class [:${name}:]`);
        out += range;
        i = close + 2;
        continue;
      }
      // `]` as the first member is literal in RE2; `[` is always literal inside a class.
      out += c === ']' || c === '[' ? `\\${c}` : c;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += '[';
      i++;
      if (source[i] === '^') {
        out += '^';
        i++;
      }
      classStart = i; // a `]` right here, as the first member, is literal
      continue;
    }
    if (c === '(' && source[i + 1] === '?') {
      const rest = source.slice(i + 2);
      if (rest.startsWith(':')) {
        out += '(?:';
        i += 3;
      } else if (rest.startsWith('P<')) {
        out += '(?<';
        i += 4;
      } else if (rest.startsWith('<') && !rest.startsWith('<=') && !rest.startsWith('<!')) {
        out += '(?<';
        i += 3;
      } else if (/^(=|!|<=|<!)/.test(rest)) {
        throw new Unsupported('look-around assertions are not supported by RE2');
      } else {
        throw new Unsupported('flag groups are only supported at the very start of the pattern');
      }
      continue;
    }
    if (c === '.') {
      out += dotAll ? '[\\s\\S]' : '[^\\n]';
      i++;
      continue;
    }
    if (c === '{') {
      // A valid repetition is copied; any other `{` is a literal in RE2 (and must be escaped for `u`).
      const rep = /^\{\d+(,\d*)?\}/.exec(source.slice(i, i + 24));
      out += rep ? rep[0] : '\\{';
      i += rep ? rep[0].length : 1;
      continue;
    }
    if (c === '}' || c === ']') {
      out += `\\${c}`;
      i++;
      continue;
    }
    out += c;
    i++;
  }
  if (inClass) throw new Unsupported('missing closing ]');
  return { pattern: out, flags: flags + (needU ? 'u' : '') };
}
