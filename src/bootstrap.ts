import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Logger } from 'pino';
import { AppModule } from './app.module.js';
import type { GatewayAppHooks } from './auth/oauth/outbound-fetch-hooks.js';
import { installHttpPipeline } from './common/http/http-pipeline.js';
import { NestPinoLogger } from './common/logging/logger.js';
import { installShutdownSignals } from './common/shutdown/shutdown-signals.js';
import type { Command } from './config/config.cli.js';
import { ConfigStore, type BootConfig } from './config/config.store.js';
import { runStdio } from './mcp/transports/stdio.runner.js';
import { ClickHouseQueryError } from './clickhouse/clickhouse-error.js';
import { ClickHouseService } from './clickhouse/clickhouse.service.js';
import type { GatewayConfig } from './config/config.types.js';
import { sqlString } from './sql/sql-literals.js';
import { usesPerRequestCredentials } from './health/clickhouse.health.js';

/**
 * Builds the HTTP application without listening, so tests can start it on port 0 exactly as production does.
 * Body parsing is off: MCP routes read their own bodies with the configured size limit and JSON-RPC errors.
 */
export async function createGatewayApp(boot: BootConfig, logger: Logger, hooks: GatewayAppHooks = {}): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(boot, logger, hooks), {
    logger: new NestPinoLogger(logger.child({ context: 'nest' })),
    bodyParser: false,
    abortOnError: false,
  });
  app.disable('x-powered-by');
  app.set('etag', false);
  // Request id, access log, CORS and the exception filter: first in line for every route.
  // No enableShutdownHooks(): SIGTERM/SIGINT run the drain in startGateway (GracefulShutdown), which closes the app.
  installHttpPipeline(app);
  return app;
}

/** Runs the command; returns an exit code for one-shot commands, undefined while a server keeps running. */
export async function startGateway(boot: BootConfig, logger: Logger, command: Command): Promise<number | undefined> {
  const config = boot.loaded.config;
  if (command === 'test-connection' || config.server.transport === 'stdio') {
    const context = await NestFactory.createApplicationContext(AppModule.forRoot(boot, logger), {
      logger: new NestPinoLogger(logger.child({ context: 'nest' })),
      abortOnError: false,
    });
    try {
      if (command === 'test-connection') return await testConnection(context.get(ClickHouseService), config);
      if (!usesPerRequestCredentials(config.server) && !(await startupCheck(context.get(ClickHouseService), logger))) return 1;
      watchConfig(context.get(ConfigStore), logger);
      await runStdio(context, logger);
      return 0;
    } finally {
      await context.close();
    }
  }
  const app = await createGatewayApp(boot, logger);
  // With JWE (or OAuth) every request brings its own ClickHouse connection: there is nothing static to test.
  if (!usesPerRequestCredentials(config.server) && !(await startupCheck(app.get(ClickHouseService), logger))) {
    await app.close();
    return 1;
  }
  watchConfig(app.get(ConfigStore), logger);
  const { address, port } = config.server;
  await app.listen(port, address);
  installShutdownSignals(app, logger);
  logger.info({ url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/`, transport: config.server.transport }, 'HTTP server listening');
  return undefined;
}

/**
 * altinity-mcp refuses to start when ClickHouse does not answer with the static credentials (only when no
 * per-request credentials are configured): a wrong host or password shows up at deploy time, not at the
 * first question.
 */
async function startupCheck(clickhouse: ClickHouseService, logger: Logger): Promise<boolean> {
  try {
    await clickhouse.ping(clickhouse.currentConnection(), { timeoutMs: 10_000 });
    return true;
  } catch (err) {
    const reason = err instanceof ClickHouseQueryError ? err.userMessage : (err as Error).message;
    logger.error({ context: 'startup' }, `ClickHouse connection test failed: ${reason}`);
    process.stderr.write(`ClickHouse connection test failed: ${reason}\n`);
    return false;
  }
}

/** Periodic re-reads (`--config-reload-time`), and an immediate one on SIGHUP. */
function watchConfig(store: ConfigStore, logger: Logger): void {
  store.startWatching();
  if (!store.options.configFile) return;
  process.on('SIGHUP', () => {
    logger.info({ context: 'config' }, 'SIGHUP: re-reading the config file');
    store.reload();
  });
}

/** `test-connection`: pings ClickHouse and lists the tables of the configured database, as altinity-mcp prints them. */
async function testConnection(clickhouse: ClickHouseService, config: GatewayConfig): Promise<number> {
  const conn = clickhouse.currentConnection();
  const database = config.clickhouse.database;
  try {
    await clickhouse.ping(conn, { timeoutMs: 10_000 });
    const result = await clickhouse.query(conn, `SELECT name, engine FROM system.tables WHERE database = ${sqlString(database)} ORDER BY name`, { readOnly: true });
    process.stdout.write(`ClickHouse connection successful (${config.clickhouse.host}:${config.clickhouse.port})\n`);
    if (result.rows.length === 0) {
      process.stdout.write(`\nNo tables found in database '${database}'\n`);
    } else {
      process.stdout.write(`\nTables in database '${database}':\n`);
      for (const [name, engine] of result.rows) process.stdout.write(`  - ${String(name)} (${String(engine)})\n`);
    }
    return 0;
  } catch (err) {
    const reason = err instanceof ClickHouseQueryError ? err.userMessage : (err as Error).message;
    process.stderr.write(`ClickHouse connection test failed: ${reason}\n`);
    return 1;
  }
}
