import type { LoggerService } from '@nestjs/common';
import pino, { type Logger } from 'pino';
import type { LogLevel } from '../../config/config.types.js';
import { redactObject, redactText } from './redact.js';

/**
 * The process-wide structured logger: JSON lines on stderr (stdout belongs to the stdio MCP transport), with
 * secrets redacted by key and by shape. `destination` is injectable so tests can read what was logged.
 */
export function createRootLogger(level: LogLevel, destination: pino.DestinationStream = bufferedStderr()): Logger {
  const children = new Set<WeakRef<Logger>>();
  const root = pino(
    {
      level,
      onChild: (child) => {
        children.add(new WeakRef(child));
      },
      base: { service: 'clickhouse-mcp-gateway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: (obj) => redactObject(obj) },
      hooks: {
        // Messages are free text (often a ClickHouse or network error): strip credential-shaped substrings.
        logMethod(args, method) {
          const redacted = args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as typeof args;
          method.apply(this, redacted);
        },
      },
    },
    destination,
  );
  CHILDREN.set(root, children);
  return root;
}

const CHILDREN = new WeakMap<Logger, Set<WeakRef<Logger>>>();

/**
 * stderr with writes batched (up to 4 KB, flushed at least every 250 ms and at exit): one write system call per
 * access-log line would cost more than the rest of a small MCP request on some hosts.
 */
function bufferedStderr(): pino.DestinationStream {
  const dest = pino.destination({ fd: 2, sync: false, minLength: 4096 });
  setInterval(() => {
    try {
      dest.flush();
    } catch {
      // a flush while another one runs: the next tick catches up
    }
  }, 250).unref();
  process.once('exit', () => {
    try {
      dest.flushSync();
    } catch {
      // nothing more can be done while exiting
    }
  });
  return dest;
}

/** Changes the level of the root logger and of every child made from it (pino children keep their own level). */
export function setLogLevel(root: Logger, level: LogLevel): void {
  root.level = level;
  for (const ref of CHILDREN.get(root) ?? []) {
    const child = ref.deref();
    if (child) child.level = level;
    else CHILDREN.get(root)!.delete(ref);
  }
}

/** Adapts pino to Nest's LoggerService so framework messages come out in the same JSON format. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.write('info', message, context);
  }
  error(message: unknown, trace?: string, context?: string): void {
    // Stack traces go to debug only: operators get the message, developers can turn the detail on.
    this.write('error', message, context);
    if (trace) this.logger.debug({ context, trace }, 'stack trace');
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.write('trace', message, context);
  }

  private write(level: 'info' | 'error' | 'warn' | 'debug' | 'trace', message: unknown, context?: string): void {
    if (typeof message === 'object' && message !== null) this.logger[level]({ context, ...message });
    else this.logger[level]({ context }, String(message));
  }
}
