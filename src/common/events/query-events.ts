import { Injectable } from '@nestjs/common';

/**
 * What the data layer reports after every ClickHouse call. Defined here, in common, so that observers
 * (metrics) depend on this contract and never on the data layer itself; the data layer publishes through
 * {@link QueryEvents}. Label-like fields are bounded sets chosen by the data layer, never caller text.
 */
export interface QueryEvent {
  operation: 'query' | 'command' | 'ping';
  protocol: 'http' | 'embedded';
  durationMs: number;
  outcome: 'ok' | 'error';
  /** altinity-mcp's query kind: `select` when the SQL passes its SELECT-like test, else `execute` (absent for pings). */
  sqlKind?: 'select' | 'execute';
  /** The data layer's error class (`unreachable`, `timeout`, `syntax`…), failed calls only. */
  errorKind?: string;
  /** Approximate bytes of the rows returned, the estimate the byte cap uses (successful queries only). */
  approxBytes?: number;
  /** Rows returned (queries only). */
  rows?: number;
  /** Set when a row or byte cap cut the result (queries only). */
  truncated?: string;
}

export type QueryListener = (event: QueryEvent) => void;

/**
 * A tiny typed publish/subscribe seam between the data layer (publisher) and whoever counts its calls. One
 * listener failing never stops the others nor the query that produced the event.
 */
@Injectable()
export class QueryEvents {
  private readonly listeners = new Set<QueryListener>();
  private failures = 0;

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: QueryListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  publish(event: QueryEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // Observers are best-effort; a broken one must not turn a good query into an error.
        this.failures++;
      }
    }
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Listener exceptions swallowed so far (visible to tests and debugging, never to callers). */
  get listenerFailures(): number {
    return this.failures;
  }
}
