#!/usr/bin/env node
import 'reflect-metadata';
import { createRootLogger } from './common/logging/logger.js';
import { CommandLineError, helpText, parseArgs } from './config/config.cli.js';
import { ConfigError, loadConfig } from './config/config.loader.js';
import type { BootConfig } from './config/config.store.js';
import { GATEWAY_VERSION } from './version.js';
import { startGateway } from './bootstrap.js';

/** Prints a message meant for a person and exits: no stack trace for a configuration mistake. */
function fail(lines: string[], code = 2): never {
  for (const line of lines) process.stderr.write(`${line}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof CommandLineError) fail([`error: ${err.message}`]);
    throw err;
  }
  if (args.command === 'help') {
    process.stdout.write(`${helpText(GATEWAY_VERSION)}\n`);
    return;
  }
  if (args.command === 'version') {
    process.stdout.write(`clickhouse-mcp-gateway version ${GATEWAY_VERSION}\n`);
    return;
  }

  const input = { args, env: process.env };
  let boot: BootConfig;
  try {
    boot = { input, loaded: loadConfig(input) };
  } catch (err) {
    if (err instanceof ConfigError) {
      const head = args.command === 'check-config' ? 'configuration error:' : 'configuration error (nothing was started):';
      fail([head, ...err.issues.map((i) => `  - ${i}`)]);
    }
    throw err;
  }
  if (args.command === 'check-config') {
    // The very validation start-up runs (loadConfig), without starting anything or contacting ClickHouse.
    for (const warning of boot.loaded.warnings) process.stdout.write(`warning: ${warning}\n`);
    const source = boot.loaded.options.configFile ? ` (${boot.loaded.options.configFile}, env and flags)` : ' (env and flags, no config file)';
    process.stdout.write(`configuration is valid${source}\n`);
    return;
  }

  const logger = createRootLogger(boot.loaded.config.logging.level);
  for (const warning of boot.loaded.warnings) logger.warn({ context: 'config', config_file: boot.loaded.options.configFile }, warning);

  const exitCode = await startGateway(boot, logger, args.command);
  if (exitCode !== undefined) {
    logger.flush();
    process.exitCode = exitCode;
  }
}

main().catch((err: unknown) => {
  // Last resort: still one readable line, and the stack only when asked for.
  process.stderr.write(`fatal: ${(err as Error)?.message ?? String(err)}\n`);
  if (process.env.LOG_LEVEL === 'debug') process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
  process.exit(1);
});
