import { Inject, Injectable } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { ConfigService } from '@nestjs/config';
import type { GatewayConfig } from '../../config/config.types.js';
import { ROOT_LOGGER } from '../logging/logging.module.js';
import { redactText } from '../logging/redact.js';
import { ShutdownHooks } from './shutdown-hooks.js';
import { ShutdownState } from './shutdown.state.js';

/** How long cancelled requests get to write their error responses before their sockets are cut. */
const AFTER_CANCEL_GRACE_MS = 2000;
/** While draining, connections that went idle are closed at this pace. */
const IDLE_SWEEP_MS = 200;

export interface ShutdownReport {
  /** Requests that finished on their own during the drain window. */
  drained: boolean;
  /** Requests still running when the window closed (their queries were cancelled). */
  leftInFlight: number;
  durationMs: number;
}

/**
 * The drain sequence for SIGTERM/SIGINT (and for tests, which call `shutdown()` directly):
 * 1. readiness turns 503 (`shutting_down`) at once;
 * 2. the listener stops accepting connections; idle keep-alive connections are closed as they go idle;
 * 3. in-flight requests get `server.shutdown_timeout` seconds to finish;
 * 4. then the work still running is cancelled (through ShutdownHooks: the data layer cancels its ClickHouse
 *    queries) and, after a short grace, every remaining
 *    connection is closed;
 * 5. the Nest application is closed (module shutdown hooks: metrics listener, config watcher, pools).
 * Runs once; later calls return the same promise. A call with `force` during a drain ends the wait early.
 */
@Injectable()
export class GracefulShutdown {
  private running?: Promise<ShutdownReport>;
  private forceNow?: () => void;
  private readonly log: Logger;

  constructor(
    private readonly state: ShutdownState,
    private readonly config: ConfigService<GatewayConfig, true>,
    private readonly hooks: ShutdownHooks,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'shutdown' });
  }

  get inProgress(): boolean {
    return this.running !== undefined;
  }

  shutdown(app: INestApplication, reason: string, options: { force?: boolean } = {}): Promise<ShutdownReport> {
    if (this.running) {
      if (options.force) this.forceNow?.();
      return this.running;
    }
    this.running = this.run(app, reason, options.force ?? false);
    return this.running;
  }

  private async run(app: INestApplication, reason: string, force: boolean): Promise<ShutdownReport> {
    const started = Date.now();
    this.state.begin();
    const timeoutSeconds = force ? 0 : this.config.get('server.shutdown_timeout', { infer: true });
    this.log.info({ reason, in_flight: this.state.inFlightRequests, shutdown_timeout_s: timeoutSeconds }, 'Shutting down: draining in-flight requests');

    const server = app.getHttpServer() as Server | undefined;
    const closed = server?.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    server?.closeIdleConnections?.();
    const sweep = setInterval(() => server?.closeIdleConnections?.(), IDLE_SWEEP_MS);
    sweep.unref();

    let drained: boolean;
    try {
      const forced = new Promise<boolean>((resolve) => {
        this.forceNow = () => resolve(false);
      });
      drained = await Promise.race([this.state.waitForIdle(timeoutSeconds * 1000), forced]);
      const leftInFlight = drained ? 0 : this.state.inFlightRequests;
      if (!drained) {
        this.log.warn({ in_flight: leftInFlight }, 'Shutdown timeout reached: cancelling running ClickHouse queries');
        for (const err of await this.hooks.cancelRunningWork()) {
          this.log.warn({ reason: redactText(err.message) }, 'cancelling running queries failed');
        }
        await this.state.waitForIdle(AFTER_CANCEL_GRACE_MS);
      }
      clearInterval(sweep);
      server?.closeAllConnections?.();
      await closed;
      await app.close();
      const report: ShutdownReport = { drained, leftInFlight, durationMs: Date.now() - started };
      this.log.info({ drained, left_in_flight: leftInFlight, duration_ms: report.durationMs }, 'Shutdown complete');
      return report;
    } finally {
      clearInterval(sweep);
      this.forceNow = undefined;
    }
  }
}
