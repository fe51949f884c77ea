import { Global, Inject, Module, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { ConfigStore } from '../../config/config.store.js';
import { setLogLevel } from './logger.js';

export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/** Provides the root pino logger and keeps its level, and the config warnings, in step with hot reloads. */
@Global()
@Module({})
export class LoggingModule implements OnModuleInit {
  constructor(
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
    private readonly config: ConfigStore,
  ) {}

  static forRoot(logger: Logger) {
    return {
      module: LoggingModule,
      providers: [{ provide: ROOT_LOGGER, useValue: logger }],
      exports: [ROOT_LOGGER],
    };
  }

  onModuleInit(): void {
    const log = this.logger.child({ context: 'config' });
    this.config.onReload((outcome) => {
      if (outcome.status === 'failed') {
        for (const error of outcome.errors) log.error({ reason: error }, 'config reload failed; keeping the last good configuration');
        return;
      }
      if (outcome.status === 'unchanged') return;
      for (const warning of outcome.warnings) {
        // The metrics module reports `server.metrics.*` itself, in altinity-mcp's words and once per mismatch.
        if (warning.startsWith('config reload: server.metrics.')) continue;
        log.warn(warning);
      }
      const level = this.config.current.logging.level;
      if (level !== this.logger.level) {
        setLogLevel(this.logger, level);
        log.info({ level }, 'Logging level updated');
      }
      log.info({ changed_keys: outcome.changedKeys }, 'Configuration reloaded successfully');
    });
  }
}
