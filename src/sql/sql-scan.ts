/**
 * A token-level scan of ClickHouse SQL, just deep enough to answer three questions safely: which word starts
 * the statement, is there a second statement after a `;`, and how deeply are brackets nested.
 *
 * ClickHouse's lexer changed over the years (18.16 knows `--` and flat `/* *\/` comments and ASCII quotes;
 * current versions add nested comments, `//` and `# ` comments, ‘unicode quotes’, “quoted identifiers” and
 * $heredoc$ strings). A `;` that one version sees as a statement separator can sit inside a literal for
 * another, so callers scan with both rule sets and refuse a query if either finds a problem.
 */

export type LexerRules = 'classic' | 'modern';

export interface SqlScan {
  /** Upper-cased first bare word of the statement (after any number of `(`), or undefined if it starts otherwise. */
  firstWord?: string;
  /** True when a `;` outside literals and comments is followed by anything other than whitespace and comments. */
  hasSecondStatement: boolean;
  /** Deepest nesting of ( [ { outside literals and comments. */
  maxDepth: number;
}

const isWordCode = (c: number, modern: boolean): boolean =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || (modern && c === 0x24);

const isAsciiSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/** Unicode whitespace that modern ClickHouse skips (and that Go's TrimSpace would trim before the first word). */
const isUnicodeSpace = (c: number): boolean =>
  c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;

/** End of a quoted token with backslash escapes and doubled quotes (ClickHouse `quotedString`), or the input end. */
function skipQuoted(sql: string, start: number, quote: number): number {
  const n = sql.length;
  let i = start + 1;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x5c) {
      i += 2;
    } else if (c === quote) {
      if (i + 1 < n && sql.charCodeAt(i + 1) === quote) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return n;
}

function skipToNewline(sql: string, i: number): number {
  const nl = sql.indexOf('\n', i);
  return nl < 0 ? sql.length : nl;
}

/** End of a block comment starting at `start` (at the `/*`). */
function skipBlockComment(sql: string, start: number, nested: boolean): number {
  if (!nested) {
    const end = sql.indexOf('*/', start + 2);
    return end < 0 ? sql.length : end + 2;
  }
  const n = sql.length;
  let depth = 1;
  let i = start + 2;
  while (i + 1 < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      depth++;
      i += 2;
    } else if (c === 0x2a && sql.charCodeAt(i + 1) === 0x2f) {
      i += 2;
      if (--depth === 0) return i;
    } else {
      i++;
    }
  }
  return n;
}

/**
 * Length of the comment or whitespace at `i` (0 if there is none) under the given rules.
 */
function skipTrivia(sql: string, i: number, modern: boolean): number {
  const c = sql.charCodeAt(i);
  if (isAsciiSpace(c) || isUnicodeSpace(c)) return i + 1;
  const d = sql.charCodeAt(i + 1);
  if (c === 0x2d && d === 0x2d) return skipToNewline(sql, i + 2); // --
  if (c === 0x2f && d === 0x2a) return skipBlockComment(sql, i, modern); // /*
  if (modern) {
    if (c === 0x2f && d === 0x2f) return skipToNewline(sql, i + 2); // //
    if (c === 0x23 && (d === 0x20 || d === 0x21)) return skipToNewline(sql, i + 2); // "# " and "#!"
  }
  return i;
}

/** One token of the scan: `word` (bare word), `ident` (quoted identifier), `string` (literal), or `punct`. */
export interface SqlToken {
  kind: 'word' | 'ident' | 'string' | 'punct';
  start: number;
  end: number;
}

/**
 * The tokens of `sql` under one set of lexer rules, comments and whitespace skipped; call {@link next}
 * until it returns false, reading `kind`/`start`/`end` after each call (no allocation per token). Linear in
 * the input length. Only token boundaries matter here (numbers come out as words, operators as one `punct`
 * per character), which is all the guards need: where literals, comments, words and brackets are.
 */
export class SqlLexer implements SqlToken {
  kind: SqlToken['kind'] = 'punct';
  start = 0;
  end = 0;
  private readonly modern: boolean;
  private pos = 0;
  private prevWasWord = false;

  constructor(
    private readonly sql: string,
    rules: LexerRules,
  ) {
    this.modern = rules === 'modern';
  }

  next(): boolean {
    const sql = this.sql;
    const modern = this.modern;
    const n = sql.length;
    let i = this.pos;
    for (;;) {
      if (i >= n) {
        this.pos = n;
        return false;
      }
      const after = skipTrivia(sql, i, modern);
      if (after === i) break;
      i = after;
      this.prevWasWord = false;
    }
    const c = sql.charCodeAt(i);
    let end = i + 1;
    let kind: SqlToken['kind'] = 'punct';
    if (c === 0x27) {
      end = skipQuoted(sql, i, c);
      kind = 'string';
    } else if (c === 0x22 || c === 0x60) {
      end = skipQuoted(sql, i, c);
      kind = 'ident';
    } else if (modern && (c === 0x2018 || c === 0x201c)) {
      // ‘string’ / “identifier”: no escapes, ends at the matching closing quote.
      const close = sql.indexOf(c === 0x2018 ? '\u2019' : '\u201d', i + 1);
      end = close < 0 ? n : close + 1;
      kind = c === 0x2018 ? 'string' : 'ident';
    } else if (modern && c === 0x24 && !this.prevWasWord) {
      // $tag$ ... $tag$ heredoc (the tag may be empty); a lone `$` is an ordinary character.
      const tagEnd = sql.indexOf('$', i + 1);
      if (tagEnd > 0) {
        const tag = sql.slice(i, tagEnd + 1);
        const close = sql.indexOf(tag, tagEnd + 1);
        if (close >= 0) {
          end = close + tag.length;
          kind = 'string';
        }
      }
      if (end === i + 1 && i + 1 < n && isWordCode(sql.charCodeAt(i + 1), true)) {
        while (end < n && isWordCode(sql.charCodeAt(end), true)) end++;
        kind = 'word';
      }
    } else if (isWordCode(c, modern)) {
      while (end < n && isWordCode(sql.charCodeAt(end), modern)) end++;
      kind = 'word';
    }
    this.kind = kind;
    this.start = i;
    this.end = end;
    this.prevWasWord = kind === 'word';
    this.pos = end;
    return true;
  }
}

/**
 * The name a word or quoted-identifier token stands for: a bare word as written, a quoted identifier with
 * its quotes removed and escapes resolved (`"url"` and `` `url` `` name the same function as `url`).
 */
export function tokenName(sql: string, token: SqlToken): string {
  const text = sql.slice(token.start, token.end);
  if (token.kind !== 'ident') return text;
  const quote = text[0]!;
  const body = text.length >= 2 && text.endsWith(quote === '\u201c' ? '\u201d' : quote) ? text.slice(1, -1) : text.slice(1);
  if (quote === '\u201c') return body;
  return body.replace(/\\(.)/gs, (_m, ch: string) => ch).split(quote + quote).join(quote);
}

/** Scans `sql` under one set of lexer rules. Linear in the input length. */
export function scanSql(sql: string, rules: LexerRules): SqlScan {
  let depth = 0;
  let maxDepth = 0;
  /** CASE … END levels still open (they nest like brackets in ClickHouse's parser). */
  let caseDepth = 0;
  /** Consecutive prefix operators (NOT, INTERVAL, unary -): each one is a level of parser recursion too. */
  let prefixRun = 0;
  let sawSemicolon = false;
  let hasSecondStatement = false;
  /** 0 = still before the first word, 1 = first word taken, 2 = statement did not start with a word. */
  let startState = 0;
  let firstWord: string | undefined;

  const token = new SqlLexer(sql, rules);
  while (token.next()) {
    const c = sql.charCodeAt(token.start);
    const isWord = token.kind === 'word';
    if (sawSemicolon && c !== 0x3b) {
      hasSecondStatement = true;
      break;
    }
    if (token.kind === 'punct') {
      if (c === 0x28 || c === 0x5b || c === 0x7b) depth++;
      else if (c === 0x29 || c === 0x5d || c === 0x7d) {
        if (depth > 0) depth--;
      } else if (c === 0x3b) sawSemicolon = true;
    }

    // Nesting without brackets also makes the parser recurse (CASE chains and runs of prefix operators
    // crash ClickHouse 18.16 the same way a thousand parentheses do), so it counts as depth too.
    let prefix = false;
    if (isWord && token.end - token.start <= 8) {
      const word = sql.slice(token.start, token.end).toUpperCase();
      if (word === 'CASE') caseDepth++;
      else if (word === 'END' && caseDepth > 0) caseDepth--;
      else if (word === 'NOT' || word === 'INTERVAL') prefix = true;
    } else if (token.kind === 'punct' && (c === 0x2d || c === 0x2b || c === 0x7e)) {
      prefix = true;
    }
    prefixRun = prefix ? prefixRun + 1 : 0;
    const level = depth + caseDepth + prefixRun;
    if (level > maxDepth) maxDepth = level;

    if (startState === 0) {
      if (isWord) {
        firstWord = sql.slice(token.start, token.end).toUpperCase();
        startState = 1;
      } else if (c !== 0x28) {
        startState = 2;
      }
    }
  }
  return { firstWord, hasSecondStatement, maxDepth };
}
