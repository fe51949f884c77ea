import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { ClickHouseSettings, ExecResult } from '@clickhouse/client';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../common/logging/logging.module.js';
import type { ConnectionOverrides } from '../common/request-context.js';
import { ConfigStore } from '../config/config.store.js';
import type { ClickHouseConfig } from '../config/config.types.js';
import {
  type AbortKind,
  ClickHouseQueryError,
  type ErrorContext,
  abortError,
  findExceptionStart,
  fromHttpError,
  fromServerException,
  parseServerException,
  readonlySettingName,
  toClickHouseError,
} from './clickhouse-error.js';
import type {
  CommandOptions,
  CommandResult,
  ConnectionSpec,
  PingOptions,
  QueryEvent,
  QueryListener,
  QueryOptions,
  TabularResult,
} from './clickhouse.types.js';
import { ClientPool, type PooledClient, deadlineMs, loadEmbeddedEngine } from './client-pool.js';
import { connectionFromConfig, describeConnection, dialAddress, secretsOf } from './connection-spec.js';
import { seedDemo } from './demo-data.js';
import { JsonCompactReader } from './json-compact-reader.js';
import { acceptsSettingsClause, appendSettingsClause, isSelectQuery, quoteString } from './sql-text.js';
import { buildCodec, needsServerTimezone } from './value-codec.js';

/** One query on its way: what is needed to cancel it (abort the request, KILL it on the server). */
interface Flight {
  queryId: string;
  spec: ConnectionSpec;
  pooled: PooledClient;
  controller: AbortController;
  abortKind?: AbortKind;
  /** The request may have reached ClickHouse, so cancelling must also KILL it there. */
  sent: boolean;
  killable: boolean;
  killScheduled: boolean;
  done: boolean;
  cleanup: () => void;
}

/** Settings the gateway adds on its own; dropped for users whose profile forbids changing settings. */
type Settings = Record<string, string>;

interface Prepared {
  sql: string;
  settings: ClickHouseSettings;
  /** The gateway's own settings that went out (a 164 naming one of them is retried without). */
  own: Settings;
}

const MAX_ERROR_BODY = 1024 * 1024;
const IDLE_SWEEP_MS = 60_000;
const DEFAULT_PING_TIMEOUT_MS = 5_000;

async function readText(stream: Readable, limit: number): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    if (text.length < limit) text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  }
  return text.length > limit ? text.slice(0, limit) : text;
}

/**
 * The only place that talks to ClickHouse. Knows nothing of MCP or HTTP requests: callers pass a
 * ConnectionSpec (see `connectionFromConfig`) and get rows, or a ClickHouseQueryError.
 *
 * Embedded engine (`protocol: embedded`, chDB in-process): chDB turns per-request ClickHouse settings into
 * session-wide `SET`s that would leak into later queries, so nothing is sent as a setting there; caps and the
 * caller's settings go into an inline `SETTINGS` clause on SELECT/WITH statements only, and caps are enforced
 * by the gateway as well. chDB has no users, so `readOnly` is not enforced by the engine: read-only mode on the
 * embedded engine relies on the caller's statement guard (execute_query accepts only SELECT-like SQL, and
 * write tools are not offered in read-only mode). KILL QUERY and /ping do not apply to it.
 */
@Injectable()
export class ClickHouseService implements OnModuleInit, OnApplicationShutdown {
  private readonly log: Logger;
  private readonly pool: ClientPool;
  private readonly flights = new Set<Flight>();
  private readonly listeners = new Set<QueryListener>();
  private readonly pendingKills = new Set<Promise<void>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly config: ConfigStore,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
  ) {
    this.log = rootLogger.child({ context: 'clickhouse' });
    this.pool = new ClientPool(
      this.log,
      { idleMs: 5 * 60_000, maxClients: 256, maxSockets: 64, loadEmbedded: () => loadEmbeddedEngine() },
      (pooled) => this.onClientCreated(pooled),
    );
    this.sweeper = setInterval(() => void this.evictIdle(), IDLE_SWEEP_MS);
    this.sweeper.unref();
  }

  // ------------------------------------------------------------------------------------------------------------
  // Connections

  /** The connection for a ClickHouse config plus per-request overrides (from auth guards). */
  connectionFromConfig(cfg: ClickHouseConfig, overrides?: ConnectionOverrides): ConnectionSpec {
    const plain = overrides === undefined || Object.keys(overrides).length === 0;
    if (!plain) return connectionFromConfig(cfg, overrides);
    // The static connection is the same object until a reload replaces the config: build (and hash) it once.
    let spec = this.staticSpecs.get(cfg);
    if (!spec) {
      spec = connectionFromConfig(cfg);
      this.staticSpecs.set(cfg, spec);
    }
    return spec;
  }

  private readonly staticSpecs = new WeakMap<ClickHouseConfig, ConnectionSpec>();

  /** The connection of the configuration in force (re-read on every call, so hot reloads apply). */
  currentConnection(overrides?: ConnectionOverrides): ConnectionSpec {
    return this.connectionFromConfig(this.config.current.clickhouse, overrides);
  }

  /** Subscribes to one event per ClickHouse call (for metrics). Returns the unsubscribe function. */
  onQuery(listener: QueryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Number of queries currently running through the gateway. */
  get inFlightCount(): number {
    return this.flights.size;
  }

  /** Closes pooled clients unused for `maxIdleMs` (default 5 minutes); runs every minute on its own. */
  evictIdle(maxIdleMs?: number): Promise<number> {
    return this.pool.evictIdle(maxIdleMs);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Queries

  /**
   * Runs result-returning SQL and reads the rows as they stream in, stopping at `maxRows`/`maxBytes`
   * (altinity-mcp's caps and truncation marker). SELECT-like SQL also carries the caps as ClickHouse settings.
   */
  async query(conn: ConnectionSpec, sql: string, opts: QueryOptions = {}): Promise<TabularResult> {
    const started = performance.now();
    const queryId = opts.queryId || randomUUID();
    const ctx = this.errorContext(conn, queryId, opts.settings);
    try {
      const result = await this.runQuery(conn, sql, opts, queryId, ctx);
      this.emit({
        operation: 'query',
        protocol: conn.protocol,
        durationMs: performance.now() - started,
        outcome: 'ok',
        sqlKind: isSelectQuery(sql) ? 'select' : 'execute',
        rows: result.rows.length,
        approxBytes: result.approxBytes,
        ...(result.truncated ? { truncated: result.truncated.reason } : {}),
      });
      this.log.debug(
        { query_id: queryId, duration_ms: Math.round(performance.now() - started), rows: result.rows.length, truncated: result.truncated?.reason, sql: sql.slice(0, 200) },
        'ClickHouse query done',
      );
      return result;
    } catch (err) {
      throw this.failed('query', conn, started, toClickHouseError(err, ctx), sql, isSelectQuery(sql) ? 'select' : 'execute');
    }
  }

  /**
   * Runs `sql`, and `legacySql` instead when the server lacks a column or identifier the first one names —
   * how metadata queries stay compatible with old servers (18.16's `system.tables` has no `comment`,
   * `system.columns` no `position`).
   */
  async queryCompatible(conn: ConnectionSpec, sql: string, legacySql: string, opts: QueryOptions = {}): Promise<TabularResult> {
    try {
      return await this.query(conn, sql, opts);
    } catch (err) {
      if (!(err instanceof ClickHouseQueryError) || (err.code !== 47 && err.code !== 16)) throw err;
      return this.query(conn, legacySql, opts);
    }
  }

  /** Runs a statement without a result set (INSERT, CREATE, ALTER, DROP…). Waits for the end of it on the server. */
  async command(conn: ConnectionSpec, sql: string, opts: CommandOptions = {}): Promise<CommandResult> {
    const started = performance.now();
    const queryId = opts.queryId || randomUUID();
    const ctx = this.errorContext(conn, queryId, opts.settings);
    try {
      await this.runCommand(conn, sql, opts, queryId, ctx);
      this.emit({ operation: 'command', protocol: conn.protocol, durationMs: performance.now() - started, outcome: 'ok', sqlKind: 'execute' });
      this.log.debug({ query_id: queryId, duration_ms: Math.round(performance.now() - started), sql: sql.slice(0, 200) }, 'ClickHouse command done');
      return { queryId };
    } catch (err) {
      throw this.failed('command', conn, started, toClickHouseError(err, ctx), sql, 'execute');
    }
  }

  /**
   * Checks that ClickHouse answers and accepts the credentials (`SELECT 1`; 18.16's /ping ignores auth).
   * Resolves when healthy, throws a ClickHouseQueryError otherwise.
   */
  async ping(conn: ConnectionSpec, opts: PingOptions = {}): Promise<void> {
    const started = performance.now();
    const queryId = randomUUID();
    const timeoutMs = opts.timeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    const ctx = this.errorContext(conn, queryId);
    try {
      if (opts.signal?.aborted) throw abortError('cancelled', ctx);
      const pooled = await this.pool.acquire(conn);
      const flight = this.begin(queryId, conn, pooled, opts.signal, timeoutMs, false);
      try {
        const res = await this.send(flight, pooled, 'SELECT 1', {}, ctx);
        const body = (await readText(res.stream, MAX_ERROR_BODY)).trim();
        if (flight.abortKind) throw abortError(flight.abortKind, ctx);
        const status = res.http_status_code ?? 200;
        if (status !== 200 || res.response_headers['x-clickhouse-exception-code'] !== undefined) throw fromHttpError(status, body, ctx);
        if (body !== '1' && !/^"?1"?$/.test(body)) {
          throw new ClickHouseQueryError({ kind: 'other', queryId, serverMessage: body, userMessage: `unexpected answer to SELECT 1: ${body.slice(0, 100)}` });
        }
      } catch (err) {
        if (flight.abortKind === 'timeout') {
          throw new ClickHouseQueryError({
            kind: 'timeout',
            queryId,
            serverMessage: 'client-side deadline exceeded',
            userMessage: `ClickHouse at ${dialAddress(conn)} did not answer within ${timeoutMs} ms`,
            cause: err,
          });
        }
        throw flight.abortKind ? abortError(flight.abortKind, ctx, err) : err;
      } finally {
        this.end(flight);
        this.pool.release(pooled);
      }
      this.emit({ operation: 'ping', protocol: conn.protocol, durationMs: performance.now() - started, outcome: 'ok' });
    } catch (err) {
      throw this.failed('ping', conn, started, toClickHouseError(err, ctx));
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Lifecycle

  async onModuleInit(): Promise<void> {
    const ch = this.config.current.clickhouse;
    if (ch.protocol !== 'embedded') return;
    try {
      if (ch.embedded_path === ':memory:') await this.seedDemoData();
      else await this.ping(this.currentConnection());
      this.log.info({ path: ch.embedded_path }, 'Embedded ClickHouse engine ready');
    } catch (err) {
      this.log.error({ reason: (err as Error).message }, 'Embedded ClickHouse engine is not usable');
    }
  }

  /**
   * Creates the demo data set (database `demo`: trips, cities and views) in the embedded engine. Idempotent.
   * New `:memory:` embedded engines get it on first use anyway.
   */
  async seedDemoData(conn: ConnectionSpec = this.currentConnection()): Promise<void> {
    if (conn.protocol !== 'embedded') throw new Error('demo data is only seeded into the embedded engine (clickhouse.protocol: embedded)');
    const pooled = await this.pool.acquire(conn);
    try {
      pooled.seeded ??= this.seed(pooled);
      await pooled.seeded;
    } finally {
      this.pool.release(pooled);
    }
  }

  /**
   * Cancels every query in flight (aborts the requests and KILLs them on the server). Used by graceful
   * shutdown once the grace period is over. Resolves with the number cancelled, after the KILLs were sent.
   */
  async cancelAll(reason: 'shutdown' | 'cancelled' = 'shutdown'): Promise<number> {
    const flights = [...this.flights].filter((f) => !f.done);
    for (const flight of flights) this.abort(flight, reason);
    await this.settleKills(3_000);
    return flights.length;
  }

  /** Closes every pooled client (cancelling what still runs). */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    if (this.flights.size > 0) await this.cancelAll('shutdown');
    await this.settleKills(3_000);
    await this.pool.closeAll();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  // ------------------------------------------------------------------------------------------------------------
  // Internals

  private async runQuery(conn: ConnectionSpec, sql: string, opts: QueryOptions, queryId: string, ctx: ErrorContext): Promise<TabularResult> {
    if (opts.signal?.aborted) throw abortError('cancelled', ctx);
    const pooled = await this.pool.acquire(conn);
    const flight = this.begin(queryId, conn, pooled, opts.signal, deadlineMs(ctx.maxExecutionTime ?? conn.maxExecutionTime), true);
    try {
      const selectLike = isSelectQuery(sql);
      let resetRetried = false;
      for (let attempt = 0; ; attempt++) {
        const prepared = this.prepare(conn, pooled, sql, opts, selectLike ? 'select' : 'query');
        let res: ExecResult<Readable>;
        try {
          res = await this.send(flight, pooled, prepared.sql, prepared.settings, ctx, opts.params);
        } catch (err) {
          if (flight.abortKind) throw abortError(flight.abortKind, ctx, err);
          const error = toClickHouseError(err, ctx);
          if (attempt < 2 && this.dropForbiddenSetting(error, pooled, prepared.own, sql)) continue;
          // A keep-alive socket the server had closed: one retry of a read is safe.
          if (!resetRetried && selectLike && conn.protocol === 'http' && isStaleSocket(err)) {
            resetRetried = true;
            continue;
          }
          throw error;
        }
        const status = res.http_status_code ?? 200;
        if (status !== 200 || res.response_headers['x-clickhouse-exception-code'] !== undefined) {
          const error = fromHttpError(status, await readText(res.stream, MAX_ERROR_BODY), ctx);
          if (attempt < 2 && this.dropForbiddenSetting(error, pooled, prepared.own, sql)) continue;
          throw error;
        }
        return await this.readRows(res, flight, pooled, opts, ctx);
      }
    } finally {
      this.end(flight);
      this.pool.release(pooled);
    }
  }

  private async readRows(res: ExecResult<Readable>, flight: Flight, pooled: PooledClient, opts: QueryOptions, ctx: ErrorContext): Promise<TabularResult> {
    const reader = new JsonCompactReader({
      maxRows: opts.maxRows,
      maxBytes: opts.maxBytes,
      errorContext: ctx,
      prepare: async (_columns, types) => {
        const serverTimezone = needsServerTimezone(types) ? await this.serverTimezone(pooled, res.response_headers) : 'UTC';
        return types.map((t) => buildCodec(t, { serverTimezone }));
      },
    });
    const stream = res.stream;
    const signal = flight.controller.signal;
    const onAbort = (): void => {
      stream.destroy();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let stopped = false;
    try {
      if (signal.aborted) stream.destroy();
      for await (const chunk of stream) {
        if (await reader.push(chunk as Buffer)) {
          stopped = true;
          break;
        }
      }
      if (flight.abortKind) throw abortError(flight.abortKind, ctx);
      if (!stopped) await reader.finish();
    } catch (err) {
      if (flight.abortKind) throw abortError(flight.abortKind, ctx, err);
      if (!reader.serverFinished) this.scheduleKill(flight, false);
      throw toClickHouseError(err, ctx);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    // Stopped at a cap before ClickHouse finished: 18.16 would run the query to its end, so end it there.
    if (stopped && !reader.serverFinished) this.scheduleKill(flight, false);
    return {
      columns: reader.columns,
      types: reader.types,
      rows: reader.rows,
      ...(reader.truncated ? { truncated: reader.truncated } : {}),
      queryId: flight.queryId,
      approxBytes: reader.approxBytes,
    };
  }

  private async runCommand(conn: ConnectionSpec, sql: string, opts: CommandOptions, queryId: string, ctx: ErrorContext): Promise<void> {
    if (opts.signal?.aborted) throw abortError('cancelled', ctx);
    const pooled = await this.pool.acquire(conn);
    const flight = this.begin(queryId, conn, pooled, opts.signal, deadlineMs(ctx.maxExecutionTime ?? conn.maxExecutionTime), true);
    try {
      for (let attempt = 0; ; attempt++) {
        const prepared = this.prepare(conn, pooled, sql, opts, 'command');
        let res: ExecResult<Readable>;
        try {
          res = await this.send(flight, pooled, prepared.sql, prepared.settings, ctx);
        } catch (err) {
          if (flight.abortKind) throw abortError(flight.abortKind, ctx, err);
          const error = toClickHouseError(err, ctx);
          if (attempt < 2 && this.dropForbiddenSetting(error, pooled, prepared.own, sql)) continue;
          throw error;
        }
        const status = res.http_status_code ?? 200;
        let body: string;
        try {
          body = await readTail(res.stream, 64 * 1024);
        } catch (err) {
          if (flight.abortKind) throw abortError(flight.abortKind, ctx, err);
          throw err;
        }
        if (flight.abortKind) throw abortError(flight.abortKind, ctx);
        if (status !== 200 || res.response_headers['x-clickhouse-exception-code'] !== undefined) {
          const error = fromHttpError(status, body, ctx);
          if (attempt < 2 && this.dropForbiddenSetting(error, pooled, prepared.own, sql)) continue;
          throw error;
        }
        const trailing = trailingException(body);
        if (trailing) throw fromServerException(trailing.parsed, trailing.text, ctx, status);
        return;
      }
    } finally {
      this.end(flight);
      this.pool.release(pooled);
    }
  }

  /** Builds the SQL and the settings of one request. */
  private prepare(conn: ConnectionSpec, pooled: PooledClient, sql: string, opts: QueryOptions, mode: 'select' | 'query' | 'command'): Prepared {
    const own: Settings = {};
    if (conn.maxExecutionTime > 0) own.max_execution_time = String(conn.maxExecutionTime);
    const caller: Settings = { ...conn.settings, ...opts.settings };
    const caps: Settings = {};
    if (mode === 'select' && ((opts.maxRows ?? 0) > 0 || (opts.maxBytes ?? 0) > 0)) {
      // altinity-mcp: result_overflow_mode='break' plus the caps as they are; ClickHouse stops between blocks,
      // so it delivers past the cap and the row loop sees the overshoot that marks truncation.
      caps.result_overflow_mode = 'break';
      if ((opts.maxRows ?? 0) > 0) caps.max_result_rows = String(opts.maxRows);
      if ((opts.maxBytes ?? 0) > 0) caps.max_result_bytes = String(opts.maxBytes);
    }
    const readOnly = conn.readOnly || opts.readOnly === true;

    if (conn.protocol === 'embedded') {
      // No clickhouse_settings: chDB would turn them into sticky SETs. Only SELECT/WITH take an inline clause.
      const inline = { ...own, ...caller, ...caps };
      const text = mode !== 'command' && acceptsSettingsClause(sql) ? appendSettingsClause(sql, inline) : sql;
      return { sql: text, settings: mode === 'command' ? {} : { default_format: 'JSONCompact' }, own: {} };
    }

    const settings: ClickHouseSettings = mode === 'command' ? { wait_end_of_query: 1 } : { default_format: 'JSONCompact' };
    const sentOwn: Settings = {};
    const put = (values: Settings, isOwn: boolean): void => {
      for (const [k, v] of Object.entries(values)) {
        (settings as Record<string, unknown>)[k] = v;
        if (isOwn) sentOwn[k] = v;
        else delete sentOwn[k];
      }
    };
    if (!pooled.settingsForbidden) put(own, true);
    put(caller, false);
    if (!pooled.settingsForbidden) put(caps, true);
    // readonly=2: reads only, but settings may still change (a SETTINGS clause in the SQL, the caller's settings),
    // except `readonly` itself. With readonly=1 modern servers refuse every SETTINGS clause; altinity-mcp sends none.
    if (readOnly && !pooled.settingsForbidden && !pooled.readonlyForbidden) put({ readonly: '2' }, true);
    return { sql, settings, own: sentOwn };
  }

  /**
   * A user whose profile is read-only may not change any setting (code 164 "Cannot override setting (x) in
   * readonly mode"). When x is one of the gateway's own settings, remember that for this client and retry
   * without them: the caps are still enforced while reading the rows.
   */
  private dropForbiddenSetting(error: ClickHouseQueryError, pooled: PooledClient, own: Settings, sql: string): boolean {
    if (error.code !== 164) return false;
    const name = readonlySettingName(error.serverMessage);
    if (!name || !(name in own)) return false;
    // The SQL may change settings itself (`SETTINGS readonly = 0`): a refusal of a setting the SQL names is
    // the answer to the SQL, not proof that the profile is read-only, and must never switch our settings off.
    if (new RegExp(`\\b${name}\\b`, 'i').test(sql)) return false;
    if (name === 'readonly') pooled.readonlyForbidden = true;
    else pooled.settingsForbidden = true;
    this.log.info(
      { ...describeConnection(pooled.spec), setting: name },
      'ClickHouse user may not change settings; sending none of the gateway\'s own (caps stay enforced by the gateway)',
    );
    return true;
  }

  private send(
    flight: Flight,
    pooled: PooledClient,
    sql: string,
    settings: ClickHouseSettings,
    ctx: ErrorContext,
    params?: Record<string, string | number>,
  ): Promise<ExecResult<Readable>> {
    if (flight.abortKind) return Promise.reject(abortError(flight.abortKind, ctx));
    flight.sent = true;
    return pooled.client.exec({
      query: sql,
      query_id: flight.queryId,
      clickhouse_settings: settings,
      ...(params && Object.keys(params).length > 0 ? { query_params: params } : {}),
      abort_signal: flight.controller.signal,
      ignore_error_response: true,
    });
  }

  private begin(queryId: string, spec: ConnectionSpec, pooled: PooledClient, callerSignal: AbortSignal | undefined, timeoutMs: number, killable: boolean): Flight {
    const flight: Flight = {
      queryId,
      spec,
      pooled,
      controller: new AbortController(),
      sent: false,
      killable: killable && spec.protocol === 'http',
      killScheduled: false,
      done: false,
      cleanup: () => {},
    };
    const timer = setTimeout(() => this.abort(flight, 'timeout'), timeoutMs);
    timer.unref();
    const onCallerAbort = (): void => this.abort(flight, 'cancelled');
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    flight.cleanup = () => {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    };
    this.flights.add(flight);
    if (callerSignal?.aborted) this.abort(flight, 'cancelled');
    return flight;
  }

  private end(flight: Flight): void {
    flight.done = true;
    flight.cleanup();
    this.flights.delete(flight);
  }

  private abort(flight: Flight, kind: AbortKind): void {
    if (flight.done || flight.abortKind) return;
    flight.abortKind = kind;
    flight.controller.abort(kind);
    // 18.16 keeps running a query whose HTTP connection closed: end it explicitly.
    if (flight.sent) this.scheduleKill(flight, true);
  }

  private scheduleKill(flight: Flight, retryIfNotFound: boolean): void {
    if (!flight.killable || flight.killScheduled) return;
    flight.killScheduled = true;
    const { pooled, queryId } = flight;
    pooled.inFlight++;
    const task = this.kill(pooled, queryId, retryIfNotFound)
      .catch((err: unknown) => {
        this.log.warn({ query_id: queryId, reason: toClickHouseError(err, this.errorContext(pooled.spec, queryId)).userMessage }, 'KILL QUERY failed');
      })
      .finally(() => {
        this.pool.release(pooled);
        this.pendingKills.delete(task);
      });
    this.pendingKills.add(task);
  }

  /** `KILL QUERY … ASYNC` on a separate client with the same credentials; once more shortly after if it found nothing yet. */
  private async kill(pooled: PooledClient, queryId: string, retryIfNotFound: boolean): Promise<void> {
    const client = this.pool.killClientFor(pooled);
    for (let attempt = 0; attempt < (retryIfNotFound ? 2 : 1); attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 300));
      const res = await client.exec({ query: `KILL QUERY WHERE query_id = ${quoteString(queryId)} ASYNC`, ignore_error_response: true });
      const body = await readText(res.stream, 64 * 1024);
      if ((res.http_status_code ?? 200) !== 200) throw fromHttpError(res.http_status_code ?? 500, body, this.errorContext(pooled.spec, queryId));
      if (body.trim()) {
        this.log.debug({ query_id: queryId }, 'KILL QUERY sent');
        return;
      }
    }
    this.log.debug({ query_id: queryId }, 'KILL QUERY found nothing to kill (the query had ended)');
  }

  private async settleKills(timeoutMs: number): Promise<void> {
    if (this.pendingKills.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.pendingKills]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  /** The server's time zone (for DateTime columns without one): a response header on modern servers, else asked once per client. */
  private async serverTimezone(pooled: PooledClient, headers: Record<string, unknown>): Promise<string> {
    const header = headers['x-clickhouse-timezone'];
    if (typeof header === 'string' && header) return header;
    pooled.timezone ??= (async () => {
      try {
        const res = await pooled.client.exec({ query: 'SELECT timezone()', clickhouse_settings: { default_format: 'TabSeparated' }, ignore_error_response: true });
        const body = (await readText(res.stream, 1024)).trim();
        if ((res.http_status_code ?? 200) === 200 && /^[A-Za-z0-9_+\-/]+$/.test(body)) return body;
        throw new Error(body.slice(0, 200));
      } catch (err) {
        this.log.warn({ reason: (err as Error).message }, 'could not read the ClickHouse time zone; assuming UTC');
        return 'UTC';
      }
    })();
    return pooled.timezone;
  }

  private async onClientCreated(pooled: PooledClient): Promise<void> {
    this.log.info(describeConnection(pooled.spec), 'ClickHouse connection opened');
    if (pooled.spec.protocol === 'embedded' && (pooled.spec.embeddedPath || ':memory:') === ':memory:') {
      pooled.seeded = this.seed(pooled);
      await pooled.seeded;
    }
  }

  private async seed(pooled: PooledClient): Promise<void> {
    await seedDemo(async (sql) => {
      const res = await pooled.client.exec({ query: sql });
      return readText(res.stream, 64 * 1024);
    });
    this.log.info('Demo data set ready in the embedded engine (database demo)');
  }

  private errorContext(conn: ConnectionSpec, queryId: string, settings?: Record<string, string>): ErrorContext {
    const override = Number(settings?.max_execution_time ?? conn.settings.max_execution_time);
    return {
      queryId,
      address: dialAddress(conn),
      maxExecutionTime: Number.isFinite(override) && override > 0 ? override : conn.maxExecutionTime,
      secrets: secretsOf(conn),
    };
  }

  private failed(
    operation: QueryEvent['operation'],
    conn: ConnectionSpec,
    started: number,
    error: ClickHouseQueryError,
    sql?: string,
    sqlKind?: QueryEvent['sqlKind'],
  ): ClickHouseQueryError {
    this.emit({ operation, protocol: conn.protocol, durationMs: performance.now() - started, outcome: 'error', errorKind: error.kind, ...(sqlKind ? { sqlKind } : {}) });
    const level = error.kind === 'unreachable' ? 'warn' : 'debug';
    this.log[level](
      { query_id: error.queryId, kind: error.kind, code: error.code, reason: error.userMessage, ...(sql ? { sql: sql.slice(0, 200) } : {}) },
      `ClickHouse ${operation} failed`,
    );
    return error;
  }

  private emit(event: QueryEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.log.warn({ reason: (err as Error).message }, 'query listener failed');
      }
    }
  }
}

/** Reads a whole body, keeping only its last `keep` characters (enough to see a trailing exception). */
async function readTail(stream: Readable, keep: number): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.length > keep * 2) text = text.slice(-keep);
  }
  return text;
}

/** An exception 18.16 appended to a 200 body (it ends the body). */
function trailingException(body: string): { parsed: NonNullable<ReturnType<typeof parseServerException>>; text: string } | undefined {
  const at = findExceptionStart(body);
  if (at < 0) return undefined;
  const text = body.slice(at);
  if (text.trimEnd().includes('\n')) return undefined;
  const parsed = parseServerException(text);
  return parsed ? { parsed, text } : undefined;
}

function isStaleSocket(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/i.test((err as Error)?.message ?? '');
}
