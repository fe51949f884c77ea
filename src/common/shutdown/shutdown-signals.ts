import type { INestApplication } from '@nestjs/common';
import type { Logger } from 'pino';
import { redactText } from '../logging/redact.js';
import { GracefulShutdown } from './graceful-shutdown.service.js';

export type ShutdownSignal = 'SIGTERM' | 'SIGINT';

export interface SignalHandlingOptions {
  /** Defaults to `process.exit`; tests pass their own. */
  exit?: (code: number) => void;
  /** Defaults to `process`; tests pass an EventEmitter. */
  target?: Pick<NodeJS.Process, 'on' | 'off'>;
}

/**
 * On SIGTERM or SIGINT, drains and closes the app, flushes the log and exits 0 (1 if the drain itself failed).
 * A second signal during the drain skips the rest of the wait (queries are cancelled at once).
 * Returns a function that removes the handlers.
 */
export function installShutdownSignals(app: INestApplication, logger: Logger, options: SignalHandlingOptions = {}): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const target = options.target ?? process;
  const shutdown = app.get(GracefulShutdown);
  const flushThenExit = (code: number): void => {
    let exited = false;
    const once = (): void => {
      if (exited) return;
      exited = true;
      exit(code);
    };
    setTimeout(once, 1000).unref();
    try {
      logger.flush(() => once());
    } catch {
      once();
    }
  };
  const handler = (signal: ShutdownSignal): void => {
    if (shutdown.inProgress) {
      logger.warn({ context: 'shutdown', signal }, 'Second signal: not waiting for in-flight requests any longer');
      void shutdown.shutdown(app, signal, { force: true });
      return;
    }
    shutdown.shutdown(app, signal).then(
      () => flushThenExit(0),
      (err: unknown) => {
        logger.error({ context: 'shutdown', reason: redactText((err as Error)?.message ?? String(err)) }, 'Shutdown failed');
        flushThenExit(1);
      },
    );
  };
  const onTerm = (): void => handler('SIGTERM');
  const onInt = (): void => handler('SIGINT');
  target.on('SIGTERM', onTerm);
  target.on('SIGINT', onInt);
  return () => {
    target.off('SIGTERM', onTerm);
    target.off('SIGINT', onInt);
  };
}
