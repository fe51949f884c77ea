import { Injectable } from '@nestjs/common';
import type { ServerResponse } from 'node:http';

/**
 * Whether the process is draining, and how many HTTP requests are still being served. Readiness reads
 * `shuttingDown`; the HTTP pipeline reports every request start and end so a drain knows when it is done.
 */
@Injectable()
export class ShutdownState {
  private draining = false;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  get shuttingDown(): boolean {
    return this.draining;
  }

  get inFlightRequests(): number {
    return this.inFlight;
  }

  /** Marks the start of a drain; readiness answers 503 from now on. Idempotent. */
  begin(): void {
    this.draining = true;
  }

  /** Counts the request until its response is finished or its connection is gone. */
  track(res: ServerResponse): void {
    this.inFlight++;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.inFlight--;
      if (this.inFlight === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    };
    res.once('finish', finish);
    res.once('close', finish);
  }

  /** Resolves true once no request is in flight, or false when `timeoutMs` passes first. */
  waitForIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.idleWaiters.push(waiter);
    });
  }
}
