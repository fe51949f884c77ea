import type { Logger } from 'pino';
import { type AbortKind, type ErrorContext, fromHttpError, toClickHouseError } from './clickhouse-error.js';
import type { ConnectionSpec } from './clickhouse.types.js';
import type { ClientPool, PooledClient } from './client-pool.js';
import { readText } from './response-text.js';
import { sqlString } from '../sql/sql-literals.js';

/** One query on its way: what is needed to cancel it (abort the request, KILL it on the server). */
export interface Flight {
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

/**
 * The queries in flight and how they end early: a deadline, the caller's abort signal, shutdown. 18.16 keeps
 * running a query whose HTTP connection closed, so an abort after the request went out is followed by
 * `KILL QUERY … ASYNC` on a separate client with the same credentials.
 */
export class FlightRegistry {
  private readonly flights = new Set<Flight>();
  private readonly pendingKills = new Set<Promise<void>>();

  constructor(
    private readonly pool: ClientPool,
    private readonly log: Logger,
    private readonly errorContext: (spec: ConnectionSpec, queryId: string) => ErrorContext,
  ) {}

  get size(): number {
    return this.flights.size;
  }

  begin(queryId: string, spec: ConnectionSpec, pooled: PooledClient, callerSignal: AbortSignal | undefined, timeoutMs: number, killable: boolean): Flight {
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

  end(flight: Flight): void {
    flight.done = true;
    flight.cleanup();
    this.flights.delete(flight);
  }

  abort(flight: Flight, kind: AbortKind): void {
    if (flight.done || flight.abortKind) return;
    flight.abortKind = kind;
    flight.controller.abort(kind);
    // 18.16 keeps running a query whose HTTP connection closed: end it explicitly.
    if (flight.sent) this.scheduleKill(flight, true);
  }

  /** Aborts every flight still running; resolves with their number once the KILLs were sent (or `settleMs` passed). */
  async abortAll(kind: AbortKind, settleMs: number): Promise<number> {
    const flights = [...this.flights].filter((f) => !f.done);
    for (const flight of flights) this.abort(flight, kind);
    await this.settleKills(settleMs);
    return flights.length;
  }

  scheduleKill(flight: Flight, retryIfNotFound: boolean): void {
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

  async settleKills(timeoutMs: number): Promise<void> {
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

  /** `KILL QUERY … ASYNC` on a separate client with the same credentials; once more shortly after if it found nothing yet. */
  private async kill(pooled: PooledClient, queryId: string, retryIfNotFound: boolean): Promise<void> {
    const client = this.pool.killClientFor(pooled);
    for (let attempt = 0; attempt < (retryIfNotFound ? 2 : 1); attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 300));
      const res = await client.exec({ query: `KILL QUERY WHERE query_id = ${sqlString(queryId)} ASYNC`, ignore_error_response: true });
      const body = await readText(res.stream, 64 * 1024);
      if ((res.http_status_code ?? 200) !== 200) {
        throw fromHttpError(res.http_status_code ?? 500, body, this.errorContext(pooled.spec, queryId), res.response_headers['x-clickhouse-exception-code']);
      }
      if (body.trim()) {
        this.log.debug({ query_id: queryId }, 'KILL QUERY sent');
        return;
      }
    }
    this.log.debug({ query_id: queryId }, 'KILL QUERY found nothing to kill (the query had ended)');
  }
}
