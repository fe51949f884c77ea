import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit, Optional } from '@nestjs/common';
import type { ClickHouseSettings, ExecResult } from '@clickhouse/client';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../common/logging/logging.module.js';
import type { ConnectionOverrides } from '../common/request-context.js';
import { ConfigService } from '@nestjs/config';
import type { GatewayConfig } from '../config/config.types.js';
import type { ClickHouseConfig } from '../config/config.types.js';
import {
  type AbortKind,
  ClickHouseQueryError,
  type ErrorContext,
  abortError,
  fromHttpError,
  rejectedError,
  toClickHouseError,
  withoutAppendedClause,
} from './clickhouse-error.js';
import { CLICKHOUSE_QUERY_GUARD, type QueryGuard } from './query-guard.js';
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
import { seedEmbeddedClient } from './demo-data.js';
import { type Flight, FlightRegistry } from './flight-registry.js';
import { JsonCompactReader } from './json-compact-reader.js';
import { readText } from './response-text.js';
import { type Prepared, SettingsPolicy } from './settings-policy.js';
import { isSelectQuery } from '../sql/select-guard.js';
import { mentionsIntoOutfile } from './sql-text.js';
import { buildCodec, needsServerTimezone } from './value-codec.js';

const MAX_ERROR_BODY = 1024 * 1024;
const IDLE_SWEEP_MS = 60_000;
const DEFAULT_PING_TIMEOUT_MS = 5_000;

/**
 * The only place that talks to ClickHouse. Knows nothing of MCP or HTTP requests: callers pass a
 * ConnectionSpec (see `connectionFromConfig`) and get rows, or a ClickHouseQueryError.
 *
 * Embedded engine (`protocol: embedded`, chDB in-process): chDB turns per-request ClickHouse settings into
 * session-wide `SET`s that would leak into later queries, so nothing is sent as a setting there; caps and the
 * caller's settings go into an inline `SETTINGS` clause on SELECT/WITH statements only, and caps are enforced
 * by the gateway as well. chDB has no users, so `readOnly` is not enforced by the engine: read-only mode on the
 * embedded engine relies on the caller's statement guard (execute_query accepts only SELECT-like SQL, and
 * write tools are not offered in read-only mode). KILL QUERY and /ping do not apply to it. The engine is
 * sandboxed (embedded-sandbox.ts: no file or network access from SQL) and INTO OUTFILE is refused here.
 *
 * Every `query`/`command` first asks the optional CLICKHOUSE_QUERY_GUARD (the SQL policy); its refusal is a
 * ClickHouseQueryError of kind `rejected`, reported to `onQuery` listeners like any failure.
 */
@Injectable()
export class ClickHouseService implements OnModuleInit, OnApplicationShutdown {
  private readonly log: Logger;
  private readonly pool: ClientPool;
  private readonly flights: FlightRegistry;
  private readonly settingsPolicy: SettingsPolicy;
  private readonly listeners = new Set<QueryListener>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly config: ConfigService<GatewayConfig, true>,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
    /** Refuses SQL before it is sent (the SQL policy); absent in tests and tools that bind none. */
    @Optional() @Inject(CLICKHOUSE_QUERY_GUARD) private readonly guard?: QueryGuard,
  ) {
    this.log = rootLogger.child({ context: 'clickhouse' });
    this.pool = new ClientPool(
      this.log,
      { idleMs: 5 * 60_000, maxClients: 256, maxSockets: 64, loadEmbedded: () => loadEmbeddedEngine() },
      (pooled) => this.onClientCreated(pooled),
    );
    const errorContext = (spec: ConnectionSpec, queryId: string): ErrorContext => this.errorContext(spec, queryId);
    this.flights = new FlightRegistry(this.pool, this.log, errorContext);
    this.settingsPolicy = new SettingsPolicy(this.log, errorContext);
    this.sweeper = setInterval(() => void this.evictIdle(), IDLE_SWEEP_MS);
    this.sweeper.unref();
  }

  // ------------------------------------------------------------------------------------------------------------
  // Connections

  /** The connection for a ClickHouse config plus per-request overrides (from auth guards). */
  connectionFromConfig(cfg: ClickHouseConfig, overrides?: ConnectionOverrides): ConnectionSpec {
    const plain = overrides === undefined || Object.keys(overrides).length === 0;
    if (!plain) {
      // Frozen overrides (a verified JWE token's connection) are shared by every request with that token: build
      // (and hash) their connection once per configuration too. Anything else is built per request.
      if (!Object.isFrozen(overrides)) return connectionFromConfig(cfg, overrides);
      let byOverrides = this.sharedSpecs.get(cfg);
      if (!byOverrides) {
        byOverrides = new WeakMap();
        this.sharedSpecs.set(cfg, byOverrides);
      }
      let shared = byOverrides.get(overrides);
      if (!shared) {
        shared = connectionFromConfig(cfg, overrides);
        byOverrides.set(overrides, shared);
      }
      return shared;
    }
    // The static connection is the same object until a reload replaces the config: build (and hash) it once.
    let spec = this.staticSpecs.get(cfg);
    if (!spec) {
      spec = connectionFromConfig(cfg);
      this.staticSpecs.set(cfg, spec);
    }
    return spec;
  }

  private readonly staticSpecs = new WeakMap<ClickHouseConfig, ConnectionSpec>();
  private readonly sharedSpecs = new WeakMap<ClickHouseConfig, WeakMap<ConnectionOverrides, ConnectionSpec>>();

  /** The connection of the configuration in force (re-read on every call, so hot reloads apply). */
  currentConnection(overrides?: ConnectionOverrides): ConnectionSpec {
    return this.connectionFromConfig(this.config.get('clickhouse', { infer: true }), overrides);
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
      this.refuseIfGuarded(conn, sql, ctx);
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
      this.refuseIfGuarded(conn, sql, ctx);
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
      const flight = this.flights.begin(queryId, conn, pooled, opts.signal, timeoutMs, false);
      try {
        const res = await this.send(flight, pooled, 'SELECT 1', {}, ctx);
        const body = (await readText(res.stream, MAX_ERROR_BODY)).trim();
        if (flight.abortKind) throw abortError(flight.abortKind, ctx);
        const status = res.http_status_code ?? 200;
        const exceptionCode = res.response_headers['x-clickhouse-exception-code'];
        if (status !== 200 || exceptionCode !== undefined) throw fromHttpError(status, body, ctx, exceptionCode);
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
        this.flights.end(flight);
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
    const ch = this.config.get('clickhouse', { infer: true });
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
    return this.flights.abortAll(reason, 3_000);
  }

  /** Closes every pooled client (cancelling what still runs). */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    if (this.flights.size > 0) await this.cancelAll('shutdown');
    await this.flights.settleKills(3_000);
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
    const flight = this.flights.begin(queryId, conn, pooled, opts.signal, deadlineMs(ctx.maxExecutionTime ?? conn.maxExecutionTime), true);
    try {
      const selectLike = isSelectQuery(sql);
      let resetRetried = false;
      for (let attempt = 0; ; attempt++) {
        const prepared = this.settingsPolicy.prepare(conn, pooled, sql, opts, selectLike ? 'select' : 'query');
        let res: ExecResult<Readable>;
        try {
          res = await this.send(flight, pooled, prepared.sql, prepared.settings, ctx, opts.params);
        } catch (err) {
          if (flight.abortKind) throw abortError(flight.abortKind, ctx, err);
          const error = callerView(toClickHouseError(err, ctx), prepared, sql);
          if (attempt < 2 && (await this.settingsPolicy.dropForbiddenSetting(error, pooled, prepared.own, sql))) continue;
          // A keep-alive socket the server had closed: one retry of a read is safe.
          if (!resetRetried && selectLike && conn.protocol === 'http' && isStaleSocket(err)) {
            resetRetried = true;
            continue;
          }
          throw error;
        }
        const status = res.http_status_code ?? 200;
        const exceptionCode = res.response_headers['x-clickhouse-exception-code'];
        if (status !== 200 || exceptionCode !== undefined) {
          const error = fromHttpError(status, await readText(res.stream, MAX_ERROR_BODY), ctx, exceptionCode);
          if (attempt < 2 && (await this.settingsPolicy.dropForbiddenSetting(error, pooled, prepared.own, sql))) continue;
          throw error;
        }
        return await this.readRows(res, flight, pooled, opts, ctx);
      }
    } finally {
      this.flights.end(flight);
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
      if (!reader.serverFinished) this.flights.scheduleKill(flight, false);
      throw toClickHouseError(err, ctx);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    // Stopped at a cap before ClickHouse finished: 18.16 would run the query to its end, so end it there.
    if (stopped && !reader.serverFinished) this.flights.scheduleKill(flight, false);
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
    const flight = this.flights.begin(queryId, conn, pooled, opts.signal, deadlineMs(ctx.maxExecutionTime ?? conn.maxExecutionTime), true);
    try {
      for (let attempt = 0; ; attempt++) {
        const prepared = this.settingsPolicy.prepare(conn, pooled, sql, opts, 'command');
        let res: ExecResult<Readable>;
        try {
          res = await this.send(flight, pooled, prepared.sql, prepared.settings, ctx);
        } catch (err) {
          if (flight.abortKind) throw abortError(flight.abortKind, ctx, err);
          const error = toClickHouseError(err, ctx);
          if (attempt < 2 && (await this.settingsPolicy.dropForbiddenSetting(error, pooled, prepared.own, sql))) continue;
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
        const exceptionCode = res.response_headers['x-clickhouse-exception-code'];
        if (status !== 200 || exceptionCode !== undefined) {
          const error = fromHttpError(status, body, ctx, exceptionCode);
          if (attempt < 2 && (await this.settingsPolicy.dropForbiddenSetting(error, pooled, prepared.own, sql))) continue;
          throw error;
        }
        // No search of a 200 body for an exception: with wait_end_of_query the server answers a failure with an
        // error status, and the body of a statement is its output (data the SQL chose, which may look like one).
        return;
      }
    } finally {
      this.flights.end(flight);
      this.pool.release(pooled);
    }
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

  /** The guard's refusal (the SQL policy), and on the embedded engine INTO OUTFILE (see embedded-sandbox.ts). */
  private refuseIfGuarded(conn: ConnectionSpec, sql: string, ctx: ErrorContext): void {
    const reason = this.guard?.(sql, conn.protocol);
    if (reason) throw rejectedError(reason, ctx);
    if (conn.protocol === 'embedded' && mentionsIntoOutfile(sql)) {
      throw rejectedError('INTO OUTFILE is not allowed on the embedded engine: it would write a file on the gateway\'s machine', ctx);
    }
  }

  private seed(pooled: PooledClient): Promise<void> {
    return seedEmbeddedClient(pooled, this.log);
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

/** Reads a whole body, keeping only its last `keep` characters. */
async function readTail(stream: Readable, keep: number): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.length > keep * 2) text = text.slice(-keep);
  }
  return text;
}

/** An error as the caller should see it: without the SETTINGS clause the gateway appended (embedded engine). */
function callerView(error: ClickHouseQueryError, prepared: Prepared, sql: string): ClickHouseQueryError {
  return prepared.appended ? withoutAppendedClause(error, sql, prepared.sql) : error;
}

function isStaleSocket(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/i.test((err as Error)?.message ?? '');
}
