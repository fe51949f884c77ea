import { redactText } from '../common/logging/redact.js';
import type { ClickHouseErrorKind } from './clickhouse.types.js';

/**
 * Errors of the data layer. Everything that goes wrong while talking to ClickHouse (a server exception in
 * any of the formats below, a transport failure, a deadline, a cancellation) becomes a ClickHouseQueryError
 * with a `kind` for programs, a `userMessage` for people and the server's own text for Go-compatible output.
 *
 * Server exception formats handled:
 *  - 18.16:  `Code: 60, e.displayText() = DB::Exception: Table default.x doesn't exist., e.what() = DB::Exception`
 *  - modern: `Code: 60. DB::Exception: Table default.x does not exist. (UNKNOWN_TABLE) (version 24.3.1.1)`
 *  - chDB through @clickhouse/client: an Error with `code: "60"` (a string), `type` and a bare message, and the
 *    engine's own text (`Query failed: Code: 60. DB::Exception: …`) as `cause`, which is what is parsed
 *  - Poco (18.16 HTTP layer): `Poco::Exception. Code: 1000, e.code() = 0, e.displayText() = …, e.what() = …`
 */

/** Names of the codes the gateway meets most (18.16 does not send them; modern servers do). */
const CODE_NAMES: Record<number, string> = {
  16: 'NO_SUCH_COLUMN_IN_TABLE',
  27: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
  36: 'BAD_ARGUMENTS',
  43: 'ILLEGAL_TYPE_OF_ARGUMENT',
  46: 'UNKNOWN_FUNCTION',
  47: 'UNKNOWN_IDENTIFIER',
  57: 'TABLE_ALREADY_EXISTS',
  60: 'UNKNOWN_TABLE',
  62: 'SYNTAX_ERROR',
  73: 'UNKNOWN_FORMAT',
  81: 'UNKNOWN_DATABASE',
  82: 'DATABASE_ALREADY_EXISTS',
  115: 'UNKNOWN_SETTING',
  158: 'TOO_MANY_ROWS',
  159: 'TIMEOUT_EXCEEDED',
  160: 'TOO_SLOW',
  164: 'READONLY',
  192: 'UNKNOWN_USER',
  193: 'WRONG_PASSWORD',
  194: 'REQUIRED_PASSWORD',
  195: 'IP_ADDRESS_NOT_ALLOWED',
  202: 'TOO_MANY_SIMULTANEOUS_QUERIES',
  241: 'MEMORY_LIMIT_EXCEEDED',
  307: 'TOO_MANY_BYTES',
  394: 'QUERY_WAS_CANCELLED',
  395: 'FUNCTION_THROW_IF_VALUE_IS_NON_ZERO',
  396: 'TOO_MANY_ROWS_OR_BYTES',
  497: 'ACCESS_DENIED',
  516: 'AUTHENTICATION_FAILED',
};

const KIND_BY_CODE: Record<number, ClickHouseErrorKind> = {
  192: 'auth_failed',
  193: 'auth_failed',
  194: 'auth_failed',
  516: 'auth_failed',
  60: 'unknown_table',
  81: 'unknown_database',
  16: 'unknown_identifier',
  47: 'unknown_identifier',
  62: 'syntax',
  164: 'readonly',
  159: 'timeout',
  158: 'too_many_rows',
  307: 'too_many_rows',
  396: 'too_many_rows',
  394: 'cancelled',
  241: 'memory',
};

export interface ParsedServerException {
  code: number;
  type?: string;
  /** The exception message without the `Code: …` frame, e.g. `Table default.x doesn't exist.` */
  message: string;
}

const OLD_HEAD = /^Code: (\d+), (?:e\.code\(\) = -?\d+, )?e\.displayText\(\) = (?:DB::Exception: )?/;
const NEW_HEAD = /^Code: (\d+)\. (?:DB::Exception: )?/;
/** Frames put in front of the exception by the layer that reports it (never user text). */
const FRAME_PREFIX = /^(?:Poco::Exception\. |Query failed: )/;
/** A server exception head where the server writes one (row data never contains it outside a JSON string). */
const HEAD_ANYWHERE = /Code: \d+(?:, (?:e\.code\(\) = -?\d+, )?e\.displayText\(\) = |\. DB::Exception: )/g;
/** Modern servers wrap an error from another node: the inner exception is also the server's text. */
const CLUSTER_WRAP = /^There was an error on \[[^\]\n]*\]: /;

/**
 * Why the parsing is anchored: an exception message quotes user data (`Cannot parse string 'Code: 164. …'`),
 * so a `Code: N` found anywhere in the text may have been written by the caller. The code is taken only from
 * where the server writes it: the `X-ClickHouse-Exception-Code` header, the start of an error body, or the
 * exact place where a row stream broke off (see JsonCompactReader). The symbolic type of the modern format is
 * the suffix the server appends last, after any quoted data.
 */

/** True when the text (leading whitespace aside) begins with a server exception. */
export function startsWithException(text: string): boolean {
  const body = text.trimStart().replace(FRAME_PREFIX, '');
  return OLD_HEAD.test(body) || NEW_HEAD.test(body);
}

/**
 * Where a server exception starts in JSON output that broke off: the first exception head outside a JSON
 * string literal at or after `from`, or -1. ClickHouse writes every user-controlled value of a JSON format
 * (strings, names, dates) inside a string literal, so a head outside one can only be the server's own.
 */
export function exceptionOutsideJsonStrings(text: string, from = 0): number {
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 67 /* C */) {
      HEAD_ANYWHERE.lastIndex = i;
      const m = HEAD_ANYWHERE.exec(text);
      if (m && m.index === i) return i;
    }
  }
  return -1;
}

/**
 * Parses a ClickHouse exception text in the 18.16 or the modern format. The text must BEGIN with the exception
 * (after whitespace and a `Poco::Exception. ` / `Query failed: ` frame); undefined when it does not.
 */
export function parseServerException(text: string): ParsedServerException | undefined {
  const body = text.trim().replace(FRAME_PREFIX, '');
  const old = OLD_HEAD.exec(body);
  if (old) {
    // 18.16: "Code: 60, e.displayText() = DB::Exception: <msg>, e.what() = DB::Exception"
    let rest = body.slice(old[0].length);
    const what = rest.lastIndexOf(', e.what() = ');
    if (what >= 0) rest = rest.slice(0, what);
    const code = Number(old[1]);
    return { code, type: CODE_NAMES[code], message: rest.trim() };
  }
  const modern = NEW_HEAD.exec(body);
  if (!modern) return undefined;
  // modern: "Code: 60. DB::Exception: <msg>. (UNKNOWN_TABLE) (version 24.3.1.1 (official build))"
  const code = Number(modern[1]);
  const { message, type } = splitModernTail(body.slice(modern[0].length));
  let inner = message;
  // "There was an error on [host:9000]: Code: 57. DB::Exception: <msg>. (TYPE) (version …)": show the inner
  // message when it carries the same code (the outer code is the one that counts either way).
  if (CLUSTER_WRAP.test(inner)) {
    const nested = inner.replace(CLUSTER_WRAP, '');
    const head = NEW_HEAD.exec(nested);
    if (head && Number(head[1]) === code) inner = splitModernTail(nested.slice(head[0].length)).message;
  }
  return { code, type: type ?? CODE_NAMES[code], message: inner };
}

/** Splits the server-written tail `. (TYPE) (version …)` off a modern exception message. */
function splitModernTail(text: string): { message: string; type?: string } {
  // Only the last `(version …)` group: an earlier one may sit in quoted user data.
  let rest = text.replace(/\s*\(version [^()\n]*(?:\([^()\n]*\)[^()\n]*)?\)\.?\s*$/, '');
  let type: string | undefined;
  const typeMatch = /\s*\(([A-Z][A-Z0-9_]{2,})\)\.?\s*$/.exec(rest);
  if (typeMatch) {
    type = typeMatch[1];
    rest = rest.slice(0, typeMatch.index);
  }
  return { message: rest.trim(), type };
}

export interface ErrorContext {
  queryId?: string;
  /** host:port actually dialled, for "cannot reach ClickHouse at …". */
  address?: string;
  /** Seconds, for timeout messages. */
  maxExecutionTime?: number;
  /** Values that must never appear in a message (passwords, tokens). */
  secrets?: readonly string[];
}

export interface ClickHouseQueryErrorInit {
  kind: ClickHouseErrorKind;
  userMessage: string;
  serverMessage: string;
  code?: number;
  type?: string;
  queryId?: string;
  httpStatus?: number;
  cause?: unknown;
}

export class ClickHouseQueryError extends Error {
  override readonly name = 'ClickHouseQueryError';
  readonly kind: ClickHouseErrorKind;
  /** ClickHouse's numeric exception code, when the failure came from ClickHouse. */
  readonly code?: number;
  /** ClickHouse's symbolic code (e.g. UNKNOWN_TABLE), sent by modern servers and filled in from a table for 18.16. */
  readonly type?: string;
  readonly queryId?: string;
  /** HTTP status of ClickHouse's answer, when there was one. */
  readonly httpStatus?: number;
  /**
   * The original text (the server's exception as sent, or the transport error), credentials removed. The MCP layer
   * uses it for altinity-mcp-compatible texts such as `failed to execute query: <ClickHouse exception text>`.
   */
  readonly serverMessage: string;
  /** One sentence a person understands; also the Error's `message`. */
  readonly userMessage: string;

  constructor(init: ClickHouseQueryErrorInit) {
    super(init.userMessage, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.code = init.code;
    this.type = init.type;
    this.queryId = init.queryId;
    this.httpStatus = init.httpStatus;
    this.serverMessage = init.serverMessage;
    this.userMessage = init.userMessage;
  }
}

// "Basic dXNlcjpwdw==" / "Bearer eyJ…" but not prose such as "Basic authentication expected".
const AUTH_VALUE = /\b(Bearer|Basic)\s+([A-Za-z0-9._~+/=-]+)/g;
const looksLikeCredential = (word: string): boolean => /[A-Z0-9._~+/=-]/.test(word) || word.length >= 24;

/** Removes credentials from a text: known secret values plus anything credential-shaped. */
export function scrub(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 3) out = out.split(secret).join('[redacted]');
  }
  // Protect the scheme words of ordinary prose from the generic redaction below, then restore them.
  out = out.replace(AUTH_VALUE, (all, scheme: string, value: string) => (looksLikeCredential(value) ? `${scheme} [redacted]` : `${scheme}\u0000${value}`));
  return redactText(out).replace(/\u0000/g, ' ');
}

const clip = (text: string, max = 600): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

function messageFor(kind: ClickHouseErrorKind, code: number, message: string, ctx: ErrorContext): string {
  switch (kind) {
    case 'auth_failed':
      if (code === 1000) return `ClickHouse did not accept the credentials: ${message}`;
      return code === 194 ? 'ClickHouse requires a password for this user' : 'ClickHouse rejected the user name or password';
    case 'unknown_table':
      return `unknown table: ${message}`;
    case 'unknown_database':
      return `unknown database: ${message}`;
    case 'unknown_identifier':
      return `unknown column or identifier: ${message}`;
    case 'syntax':
      return `SQL syntax error: ${clip(message.replace(/^Syntax error:\s*/, ''))}`;
    case 'readonly': {
      const setting = readonlySettingName(message);
      if (setting) return `ClickHouse refused to change the setting ${setting}: the user is read-only`;
      return 'ClickHouse refused the write: the connection is read-only';
    }
    case 'timeout': {
      const limit = ctx.maxExecutionTime ?? Number(/maximum: ([\d.]+)/.exec(message)?.[1] ?? NaN);
      return Number.isFinite(limit) ? `query exceeded max_execution_time of ${limit} s` : `query timed out: ${message}`;
    }
    case 'too_many_rows':
      return `result exceeds a ClickHouse limit: ${message}`;
    case 'cancelled':
      return 'the query was cancelled';
    case 'memory':
      return `ClickHouse ran out of memory for this query: ${clip(message)}`;
    default:
      return `ClickHouse error ${code}${CODE_NAMES[code] ? ` (${CODE_NAMES[code]})` : ''}: ${clip(message)}`;
  }
}

/** The setting named by a 164 "cannot change a setting in readonly mode" error, if it is one. */
export function readonlySettingName(message: string): string | undefined {
  return /Cannot override setting \(([A-Za-z0-9_]+)\)|Cannot modify '([A-Za-z0-9_]+)' setting/.exec(message)?.slice(1).find(Boolean);
}

/** Builds the error for a server exception (from an HTTP error body, a mid-stream exception or chDB). */
export function fromServerException(
  parsed: ParsedServerException,
  serverText: string,
  ctx: ErrorContext,
  httpStatus?: number,
  cause?: unknown,
): ClickHouseQueryError {
  const secrets = ctx.secrets ?? [];
  const message = scrub(parsed.message, secrets);
  let kind: ClickHouseErrorKind = KIND_BY_CODE[parsed.code] ?? 'other';
  if (parsed.code === 1000 && /authentication/i.test(message)) kind = 'auth_failed';
  return new ClickHouseQueryError({
    kind,
    code: parsed.code,
    type: parsed.type ?? CODE_NAMES[parsed.code],
    queryId: ctx.queryId,
    httpStatus,
    serverMessage: scrub(serverText.trim(), secrets),
    userMessage: messageFor(kind, parsed.code, message, ctx),
    cause,
  });
}

/**
 * An HTTP error answer (status ≠ 200, or an `X-ClickHouse-Exception-Code` header) with its body. The header,
 * when the server sends one (modern servers do, 18.16 does not), is the code; else the start of the body.
 */
export function fromHttpError(status: number, body: string, ctx: ErrorContext, exceptionCodeHeader?: unknown): ClickHouseQueryError {
  const headerCode = typeof exceptionCodeHeader === 'string' && /^\d+$/.test(exceptionCodeHeader.trim()) ? Number(exceptionCodeHeader) : undefined;
  const parsed = parseServerException(body);
  if (parsed) {
    const verified = headerCode === undefined || headerCode === parsed.code ? parsed : { code: headerCode, type: CODE_NAMES[headerCode], message: parsed.message };
    return fromServerException(verified, body, ctx, status);
  }
  const secrets = ctx.secrets ?? [];
  const text = scrub(body.trim(), secrets);
  if (headerCode !== undefined) return fromServerException({ code: headerCode, type: CODE_NAMES[headerCode], message: text }, body, ctx, status);
  const auth = status === 401 || status === 403;
  return new ClickHouseQueryError({
    kind: auth ? 'auth_failed' : 'other',
    queryId: ctx.queryId,
    httpStatus: status,
    serverMessage: text,
    userMessage: auth
      ? 'ClickHouse rejected the user name or password'
      : `ClickHouse answered HTTP ${status}${text ? `: ${clip(text, 300)}` : ''}`,
  });
}

const TRANSPORT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ECONNRESET: 'connection reset by the server',
  EPIPE: 'connection closed by the server',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNABORTED: 'connection aborted',
  UND_ERR_SOCKET: 'connection closed by the server',
};

const isTlsCode = (code: string): boolean =>
  /^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_TLS_|ERR_SSL_|EPROTO$)/.test(code);

/**
 * Turns whatever the client library threw into a ClickHouseQueryError. `abortReason` is the reason the gateway
 * aborted the request itself (deadline, caller cancel, shutdown), which wins over the resulting transport error.
 */
export function toClickHouseError(err: unknown, ctx: ErrorContext, abortReason?: AbortKind): ClickHouseQueryError {
  if (err instanceof ClickHouseQueryError) return err;
  const secrets = ctx.secrets ?? [];
  if (abortReason) return abortError(abortReason, ctx, err);
  const e = err as { code?: unknown; type?: unknown; message?: unknown } | undefined;
  const rawMessage = typeof e?.message === 'string' ? e.message : String(err);

  // chDB: @clickhouse/client-common's parseError turned the engine's text into `code`/`type`/`message`, with a
  // regex that takes the type and the message after the LAST "Exception: " in the text — user data can steer
  // them. So the engine's own text (kept as `cause`) is parsed again, anchored at its start; `code`/`type` of
  // the wrapper count only when there is no such text to check them against.
  const causeText = (e as { cause?: { message?: unknown } } | undefined)?.cause?.message;
  const engineText = typeof causeText === 'string' ? causeText : rawMessage;
  const parsed = parseServerException(engineText);
  if (parsed) return fromServerException(parsed, engineText, ctx, undefined, err);
  if (typeof e?.code === 'string' && /^\d+$/.test(e.code) && typeof causeText !== 'string' && !/Code: \d+/.test(rawMessage)) {
    const code = Number(e.code);
    const type = CODE_NAMES[code] ?? (typeof e.type === 'string' && /^[A-Z][A-Z0-9_]{2,}$/.test(e.type) ? e.type : undefined);
    const message = rawMessage.trim();
    return fromServerException({ code, type, message }, `Code: ${code}. DB::Exception: ${message}${type ? ` (${type})` : ''}`, ctx, undefined, err);
  }

  const sysCode = typeof e?.code === 'string' ? e.code : undefined;
  const text = scrub(rawMessage, secrets);
  const where = ctx.address ? ` at ${ctx.address}` : '';
  if (sysCode && TRANSPORT[sysCode]) {
    return new ClickHouseQueryError({
      kind: 'unreachable',
      queryId: ctx.queryId,
      serverMessage: text,
      userMessage: `cannot reach ClickHouse${where}: ${TRANSPORT[sysCode]}`,
      cause: err,
    });
  }
  if (sysCode && isTlsCode(sysCode)) {
    return new ClickHouseQueryError({
      kind: 'unreachable',
      queryId: ctx.queryId,
      serverMessage: text,
      userMessage: `cannot reach ClickHouse${where}: TLS handshake failed (${text})`,
      cause: err,
    });
  }
  if (/^Timeout error\.?$/.test(rawMessage.trim())) return abortError('timeout', ctx, err);
  if (/socket hang up/i.test(rawMessage)) {
    return new ClickHouseQueryError({
      kind: 'unreachable',
      queryId: ctx.queryId,
      serverMessage: text,
      userMessage: `cannot reach ClickHouse${where}: the connection was closed before an answer arrived`,
      cause: err,
    });
  }
  return new ClickHouseQueryError({
    kind: 'other',
    queryId: ctx.queryId,
    serverMessage: text,
    userMessage: `ClickHouse request failed: ${clip(text, 300)}`,
    cause: err,
  });
}

export type AbortKind = 'timeout' | 'cancelled' | 'shutdown';

export function abortError(reason: AbortKind, ctx: ErrorContext, cause?: unknown): ClickHouseQueryError {
  if (reason === 'timeout') {
    const limit = ctx.maxExecutionTime;
    return new ClickHouseQueryError({
      kind: 'timeout',
      queryId: ctx.queryId,
      serverMessage: 'client-side deadline exceeded',
      userMessage: limit && limit > 0 ? `query exceeded max_execution_time of ${limit} s` : 'query timed out',
      cause,
    });
  }
  return new ClickHouseQueryError({
    kind: 'cancelled',
    queryId: ctx.queryId,
    serverMessage: reason === 'shutdown' ? 'cancelled: the gateway is shutting down' : 'cancelled by the caller',
    userMessage:
      reason === 'shutdown' ? 'the query was cancelled because the gateway is shutting down' : 'the query was cancelled',
    cause,
  });
}

/** SQL the gateway refused before sending it (the query guard's reason is the message). */
export function rejectedError(reason: string, ctx: ErrorContext): ClickHouseQueryError {
  return new ClickHouseQueryError({ kind: 'rejected', queryId: ctx.queryId, serverMessage: reason, userMessage: reason });
}

/**
 * The embedded engine gets the caller's SQL with the gateway's `SETTINGS …` clause appended. A syntax error
 * quotes the SQL from the failing position on and names the position: the appended clause is cut from the
 * quote, and a position inside it (the caller's SQL ended too early) is reported as the end of the caller's SQL.
 */
export function withoutAppendedClause(error: ClickHouseQueryError, callerSql: string, sentSql: string): ClickHouseQueryError {
  const appendedAt = sentSql.lastIndexOf('\nSETTINGS ');
  if (appendedAt < 0 || error.code !== 62) return error;
  const clause = sentSql.slice(appendedAt);
  const callerText = sentSql.slice(0, appendedAt);
  const callerBytes = Buffer.byteLength(callerText, 'utf8');
  const lines = callerText.split('\n');
  const endOfQuery = `failed at position ${callerBytes + 1} (end of query) (line ${lines.length}, col ${Buffer.byteLength(lines.at(-1) ?? '', 'utf8') + 1}): `;
  const head = /failed at position (\d+) \((?:[^()\n]|\([^()\n]*\))*\) \(line \d+, col \d+\): /;
  const fix = (text: string): string => {
    const m = head.exec(text);
    if (!m) return text.split(clause).join('');
    const quoteStart = m.index + m[0].length;
    const expected = text.indexOf('. Expected', quoteStart);
    const quoteEnd = expected >= 0 ? expected : text.length;
    let quote = text.slice(quoteStart, quoteEnd);
    let header = m[0];
    if (Number(m[1]) > callerBytes) {
      // The failure is inside the gateway's clause: the caller's SQL ended too early.
      header = endOfQuery;
      quote = '';
    } else {
      const at = quote.indexOf('\nSETTINGS ');
      if (at >= 0 && clause.startsWith(quote.slice(at).replace(/[.…]$/, ''))) quote = quote.slice(0, at);
    }
    return text.slice(0, m.index) + header + quote + text.slice(quoteEnd);
  };
  return new ClickHouseQueryError({
    kind: error.kind,
    code: error.code,
    type: error.type,
    queryId: error.queryId,
    httpStatus: error.httpStatus,
    serverMessage: fix(error.serverMessage),
    userMessage: fix(error.userMessage),
    cause: error.cause,
  });
}

/** A ClickHouse answer the gateway could not read (e.g. the SQL carried its own FORMAT clause). */
export function unexpectedResponse(detail: string, ctx: ErrorContext): ClickHouseQueryError {
  return new ClickHouseQueryError({
    kind: 'other',
    queryId: ctx.queryId,
    serverMessage: scrub(detail, ctx.secrets),
    userMessage: `unexpected answer from ClickHouse: ${clip(scrub(detail, ctx.secrets), 200)}`,
  });
}
