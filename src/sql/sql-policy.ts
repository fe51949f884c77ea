/**
 * The gateway's SQL policy: what a query may not do even where ClickHouse would let it.
 *  1. `INTO OUTFILE` / `FROM INFILE` — always refused (files of the server or, on the embedded engine, of
 *     the gateway itself).
 *  2. Table functions — only those on the allowlist (see table-functions.ts); a call to a name that reaches
 *     the network or files is refused anywhere in the text (`DESCRIBE TABLE url(…)`, `ENGINE = URL(…)`, the
 *     scalar `file()`), any other call in table position must be on the allowlist.
 *  3. Protected settings — `SETTINGS …` clauses (at any depth) and a `SET …` statement may not change them.
 *
 * How it reads SQL (a guard must hold under both ClickHouse lexer generations, yet never refuse a valid
 * query only because a parser cannot read it):
 *  - the token scanner runs under BOTH rule sets ('classic' = 18.16, 'modern'), so a comment or quoting
 *    trick that one generation reads differently cannot hide a call from the other; it alone decides when
 *    the real parser cannot read the query;
 *  - the real parser (sqlparser-ts, ClickHouse dialect), when it can read the query, adds every table
 *    function in its AST (`FROM`, `JOIN`, `INSERT INTO FUNCTION`), unqualified names only.
 * Both can only add refusals, never remove one.
 */
import { DEFAULT_PROTECTED_SETTINGS, protectedBy } from './protected-settings.js';
import { parseClickHouseSql, sqlParserReady } from './sql-parser.js';
import { type LexerRules, SqlLexer, type SqlToken, tokenName } from './sql-scan.js';
import { isOutboundName, tableFunctionAllowlist, tableFunctionRefusal, type TableFunctionAllowlist } from './table-functions.js';

export interface SqlPolicy {
  /** `server.allowed_table_functions`: names added to the built-in allowlist; `*` = no table-function policy. */
  allowedTableFunctions: readonly string[];
  /** The embedded engine: the policy is always on and outbound names cannot be allowed. */
  embedded: boolean;
  /** `server.protected_settings` (patterns); undefined = the built-in list, empty = none protected. */
  protectedSettings?: readonly string[];
}

/**
 * Longest SQL (in UTF-16 units) that also gets the real parse. The WASM parser's AST of a 1 MB query costs
 * seconds and a gigabyte, a denial of service in itself; above this size the scanner (linear, small) decides
 * alone, which is the same fallback as for SQL the parser cannot read.
 */
export const AST_CHECK_MAX_LENGTH = 64 * 1024;

export const OUTFILE_REFUSAL = 'Query rejected: INTO OUTFILE is not allowed (the gateway never writes query results to files)';
export const INFILE_REFUSAL = 'Query rejected: FROM INFILE is not allowed (the gateway never reads files into queries)';

export function protectedSettingRefusal(name: string, pattern: string): string {
  return `Query rejected: setting ${JSON.stringify(name)} is blocked (it is protected by server.protected_settings pattern ${JSON.stringify(pattern)}); the operator's limits cannot be changed from SQL`;
}

/**
 * The first policy violation in `sql` as a complete error text (`Query rejected: …`), or undefined. Pure
 * and synchronous: the data layer can call it as a last wall. The real parse is used when the parser has
 * been loaded (`loadSqlParser()` at start-up; before that the scanner alone decides) and the SQL is at most
 * {@link AST_CHECK_MAX_LENGTH} long.
 */
export function findPolicyViolation(sql: string, policy: SqlPolicy): string | undefined {
  const allowlist = tableFunctionAllowlist(policy.allowedTableFunctions, policy.embedded);
  const protectedSettings = policy.protectedSettings ?? DEFAULT_PROTECTED_SETTINGS;
  for (const rules of ['classic', 'modern'] as const) {
    const found = scanForViolation(sql, rules, allowlist, protectedSettings, policy.embedded);
    if (found) return found;
  }
  if (allowlist.allowAll || sql.length > AST_CHECK_MAX_LENGTH) return undefined;
  const parsed = parseClickHouseSql(sql);
  if (!parsed.ok) return undefined; // the scanner's verdict stands
  for (const name of astTableFunctions(parsed.ast)) {
    if (!allowlist.names.has(name.toLowerCase())) return tableFunctionRefusal(name, policy.embedded);
  }
  return undefined;
}

/** Verdicts kept for SQL up to this length (the key holds the text), and how many of them. */
const VERDICT_CACHE_SQL_MAX = 8 * 1024;
const VERDICT_CACHE_ENTRIES = 512;
const verdicts = new Map<string, string | undefined>();

/**
 * {@link findPolicyViolation} with a small LRU of recent verdicts. The same SQL is checked twice on its way
 * out (the tool's check pipeline, then the data layer's last wall) and agents repeat queries; the real parse
 * is most of the cost. Only verdicts that include the real parse are kept, so a verdict reached before the
 * parser was loaded is never reused.
 */
export function findPolicyViolationCached(sql: string, policy: SqlPolicy): string | undefined {
  if (sql.length > VERDICT_CACHE_SQL_MAX || !sqlParserReady()) return findPolicyViolation(sql, policy);
  const key = `${policy.embedded ? 'e' : 'h'}\u0000${policy.allowedTableFunctions.join(',')}\u0000${(policy.protectedSettings ?? DEFAULT_PROTECTED_SETTINGS).join(',')}\u0000${sql}`;
  if (verdicts.has(key)) {
    const verdict = verdicts.get(key);
    verdicts.delete(key); // most recently used goes last
    verdicts.set(key, verdict);
    return verdict;
  }
  const verdict = findPolicyViolation(sql, policy);
  verdicts.set(key, verdict);
  if (verdicts.size > VERDICT_CACHE_ENTRIES) verdicts.delete(verdicts.keys().next().value as string);
  return verdict;
}

// ---------------------------------------------------------------------------------------------------------
// Token scan
// ---------------------------------------------------------------------------------------------------------

/** Words after which a call is in table position (besides FROM, which needs a SELECT at the same level). */
const TABLE_POSITION_WORDS: ReadonlySet<string> = new Set(['JOIN', 'TABLE', 'FUNCTION', 'DESC', 'DESCRIBE']);
/** Statements where `TABLE name (` is a column list, not a table function (`CREATE TABLE t (a String)`). */
const DEFINING_STATEMENTS: ReadonlySet<string> = new Set(['CREATE', 'ATTACH', 'REPLACE', 'INSERT', 'ALTER']);
/** Words that end a FROM list at their bracket level (after them a `,` separates expressions again). */
const FROM_LIST_ENDS: ReadonlySet<string> = new Set([
  'WHERE', 'PREWHERE', 'GROUP', 'ORDER', 'LIMIT', 'HAVING', 'SETTINGS', 'FORMAT', 'UNION', 'EXCEPT', 'INTERSECT',
  'WINDOW', 'QUALIFY', 'INTO', 'OFFSET', 'ON', 'USING', 'SELECT', 'WITH', 'ARRAY', 'VALUES',
]);
/** Words that end a SETTINGS list when met while skipping a value. */
const SETTINGS_LIST_ENDS: ReadonlySet<string> = new Set(['SELECT', 'FORMAT', 'UNION', 'EXCEPT', 'INTERSECT', 'INTO', 'FROM', 'WHERE']);

interface Level {
  /** A SELECT or DELETE was seen at this bracket level (so FROM here introduces tables, not `EXTRACT(x FROM d)`). */
  sawQuery: boolean;
  /** Inside the FROM list of this level: a call after `,` is in table position. */
  fromList: boolean;
}

/** A token kept for look-behind, with its upper-cased text when it is a word short enough to be a keyword. */
interface KeptToken extends SqlToken {
  upper?: string;
}

/** Longest keyword the scan looks for (INTERSECT). */
const KEYWORD_MAX = 9;

const isName = (t: SqlToken | undefined): boolean => t !== undefined && (t.kind === 'word' || t.kind === 'ident');

function scanForViolation(
  sql: string,
  rules: LexerRules,
  allowlist: TableFunctionAllowlist,
  protectedSettings: readonly string[],
  embedded: boolean,
): string | undefined {
  const punct = (t: SqlToken | undefined, ch: string): boolean => t !== undefined && t.kind === 'punct' && sql[t.start] === ch;
  /** The keyword a token may be (upper case), or undefined: only words of keyword length are upper-cased. */
  const word = (t: KeptToken | undefined): string | undefined => t?.upper;

  const levels: Level[] = [{ sawQuery: false, fromList: false }];
  let statementStart = true;
  let firstWord: string | undefined;
  /** SETTINGS list state: the level it is at, and whether the next token should be a setting name. */
  let settingsLevel = -1;
  let expectSetting = false;

  // Each token is judged when the one after it is known (a one-token look-ahead, without holding them all).
  let before: KeptToken | undefined;
  let prev: KeptToken | undefined;
  let cur: KeptToken | undefined;
  const judge = (next: KeptToken | undefined): string | undefined => {
    const t = cur!;
    const level = levels[levels.length - 1]!;
    const depth = levels.length - 1;
    const w = word(t);

    if (statementStart) {
      firstWord = w;
      statementStart = false;
      if (w === 'SET') {
        settingsLevel = depth;
        expectSetting = true;
        return undefined;
      }
    }

    // SETTINGS name = value, …  (and SET name = value, …)
    if (settingsLevel >= 0) {
      if (depth < settingsLevel || punct(t, ';')) {
        settingsLevel = -1;
      } else if (depth === settingsLevel) {
        if (expectSetting) {
          expectSetting = false;
          if (isName(t) && punct(next, '=')) {
            const name = tokenName(sql, t);
            const pattern = protectedBy(name, protectedSettings);
            if (pattern) return protectedSettingRefusal(name, pattern);
          } else {
            settingsLevel = -1;
          }
        } else if (punct(t, ',')) {
          expectSetting = true;
        } else if (w && SETTINGS_LIST_ENDS.has(w)) {
          settingsLevel = -1;
        }
      }
    }
    if (w === 'SETTINGS' && settingsLevel < 0) {
      settingsLevel = depth;
      expectSetting = true;
    }

    if (w === 'INTO' && word(next) === 'OUTFILE') return OUTFILE_REFUSAL;
    if (w === 'FROM' && word(next) === 'INFILE') return INFILE_REFUSAL;

    if (isName(t) && punct(next, '(') && !punct(prev, '.')) {
      const name = tokenName(sql, t);
      const lower = name.toLowerCase();
      if (!allowlist.allowAll && !allowlist.names.has(lower)) {
        if (isOutboundName(name)) return tableFunctionRefusal(name, embedded);
        const p = word(prev);
        const inTablePosition =
          (p === 'FROM' && (level.sawQuery || depth === 0)) ||
          (p !== undefined &&
            TABLE_POSITION_WORDS.has(p) &&
            !(p === 'JOIN' && word(before) === 'ARRAY') &&
            !(p === 'TABLE' && firstWord !== undefined && DEFINING_STATEMENTS.has(firstWord))) ||
          (punct(prev, ',') && level.fromList);
        if (inTablePosition) return tableFunctionRefusal(name, embedded);
      }
    }

    // Bracket levels and FROM lists.
    if (t.kind === 'punct') {
      const ch = sql[t.start];
      if (ch === '(' || ch === '[' || ch === '{') levels.push({ sawQuery: false, fromList: false });
      else if ((ch === ')' || ch === ']' || ch === '}') && levels.length > 1) levels.pop();
      else if (ch === ';') {
        levels.length = 1;
        levels[0] = { sawQuery: false, fromList: false };
        statementStart = true;
      }
    } else if (w !== undefined) {
      if (w === 'SELECT' || w === 'DELETE') level.sawQuery = true;
      if (w === 'FROM' && (level.sawQuery || depth === 0)) level.fromList = true;
      else if (FROM_LIST_ENDS.has(w)) level.fromList = false;
    }
    return undefined;
  };

  const lexer = new SqlLexer(sql, rules);
  // Four token slots reused in turn (before, prev, cur, next): no allocation per token on huge inputs.
  const slots: KeptToken[] = [0, 1, 2, 3].map(() => ({ kind: 'punct', start: 0, end: 0 }));
  let slot = 0;
  while (lexer.next()) {
    const { kind, start, end } = lexer;
    const token = slots[slot]!;
    slot = (slot + 1) & 3;
    token.kind = kind;
    token.start = start;
    token.end = end;
    token.upper = kind === 'word' && end - start <= KEYWORD_MAX ? sql.slice(start, end).toUpperCase() : undefined;
    if (cur) {
      const found = judge(token);
      if (found) return found;
    }
    before = prev;
    prev = cur;
    cur = token;
  }
  return cur ? judge(undefined) : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// AST walk
// ---------------------------------------------------------------------------------------------------------

/** The value of a one-part object name (`[{Identifier:{value}}]`), or undefined for qualified names. */
function singleName(name: unknown): string | undefined {
  if (!Array.isArray(name) || name.length !== 1) return undefined;
  const part = name[0] as { Identifier?: { value?: unknown }; value?: unknown } | undefined;
  const value = part?.Identifier?.value ?? part?.value;
  return typeof value === 'string' ? value : undefined;
}

/** Every unqualified table function in the AST: `Table` factors with arguments and `TableFunction` nodes. */
function astTableFunctions(ast: unknown): string[] {
  const found: string[] = [];
  const stack: unknown[] = [ast];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (const item of node) stack.push(item);
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    const record = node as Record<string, unknown>;
    // `ARRAY JOIN f(arr)` joins an array expression, not a table: the parser models it as a table factor.
    if (typeof record.join_operator === 'string' && /ArrayJoin$/.test(record.join_operator)) continue;
    const table = record.Table as { name?: unknown; args?: unknown } | undefined;
    if (table && typeof table === 'object' && table.args !== undefined && table.args !== null) {
      const name = singleName(table.name);
      if (name !== undefined) found.push(name);
    }
    const fn = record.TableFunction as { name?: unknown; expr?: { name?: unknown; Function?: { name?: unknown } } } | undefined;
    if (fn && typeof fn === 'object') {
      const name = singleName(fn.name) ?? singleName(fn.expr?.name) ?? singleName(fn.expr?.Function?.name);
      if (name !== undefined) found.push(name);
    }
    for (const [key, value] of Object.entries(record)) {
      if (key !== 'span' && value !== null && typeof value === 'object') stack.push(value);
    }
  }
  return found;
}
