import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Logger } from 'pino';
import { AppModule } from './app.module.js';
import { NestPinoLogger } from './common/logging/logger.js';
import type { Command } from './config/config.cli.js';
import { ConfigStore, type BootConfig } from './config/config.store.js';

/**
 * Builds the HTTP application without listening, so tests can start it on port 0 exactly as production does.
 * Body parsing is off: MCP routes read their own bodies with the configured size limit and JSON-RPC errors.
 */
export async function createGatewayApp(boot: BootConfig, logger: Logger): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(boot, logger), {
    logger: new NestPinoLogger(logger.child({ context: 'nest' })),
    bodyParser: false,
    abortOnError: false,
  });
  app.disable('x-powered-by');
  app.set('etag', false);
  app.enableShutdownHooks();
  return app;
}

/** Runs the command; returns an exit code for one-shot commands, undefined while a server keeps running. */
export async function startGateway(boot: BootConfig, logger: Logger, command: Command): Promise<number | undefined> {
  const config = boot.loaded.config;
  if (command === 'test-connection') {
    logger.error('test-connection is not available yet');
    return 1;
  }
  const app = await createGatewayApp(boot, logger);
  app.get(ConfigStore).startWatching();
  const { address, port } = config.server;
  await app.listen(port, address);
  logger.info({ url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/`, transport: config.server.transport }, 'HTTP server listening');
  return undefined;
}
