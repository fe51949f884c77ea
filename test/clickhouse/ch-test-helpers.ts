import pino, { type Logger } from 'pino';
import { expect } from 'vitest';
import { ClickHouseQueryError } from '../../src/clickhouse/clickhouse-error.js';
import { ClickHouseService } from '../../src/clickhouse/clickhouse.service.js';
import type { ConnectionSpec } from '../../src/clickhouse/clickhouse.types.js';
import { parseArgs } from '../../src/config/config.cli.js';
import { loadConfig } from '../../src/config/config.loader.js';
import { ConfigService } from '@nestjs/config';
import type { ClickHouseConfig, GatewayConfig } from '../../src/config/config.types.js';
import { CH_TEST_HOST, CH_TEST_PORT } from '../setup/clickhouse-server.js';

/** The gateway defaults with the ClickHouse section pointed at the test server (and any overrides). */
export function testConfig(ch: Partial<ClickHouseConfig> = {}): GatewayConfig {
  const config = loadConfig({ args: parseArgs([]), env: {} }).config;
  Object.assign(config.clickhouse, { host: CH_TEST_HOST, port: CH_TEST_PORT, username: 'default', password: '' }, ch);
  return config;
}

/** A log sink that keeps every line (to check that nothing secret is logged). */
export function memoryLogger(level: pino.Level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

export function makeService(config: GatewayConfig = testConfig(), logger: Logger = pino({ level: 'silent' })): ClickHouseService {
  return new ClickHouseService(new ConfigService<GatewayConfig, true>(config), logger);
}

export function connection(service: ClickHouseService, ch: Partial<ClickHouseConfig> = {}): ConnectionSpec {
  return service.connectionFromConfig(testConfig(ch).clickhouse);
}

/** A port on 127.0.0.1 where nothing listens. */
export const DEAD_PORT = 1;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` is true or the time is up; resolves with the last value of check. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await sleep(everyMs);
  }
}

/** Awaits a call that must fail, and returns its ClickHouseQueryError. */
export async function failure(promise: Promise<unknown>): Promise<ClickHouseQueryError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ClickHouseQueryError);
    return err as ClickHouseQueryError;
  }
  throw new Error('expected the call to fail');
}
