import { type DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { BOOT_CONFIG, type BootConfig, ConfigStore } from './config.store.js';
import type { GatewayConfig } from './config.types.js';

/**
 * How consumers read the configuration: `@nestjs/config`'s ConfigService, typed by the YAML namespaces
 * (`config.get('server', { infer: true })`, `config.get('clickhouse.max_execution_time', { infer: true })`).
 * Each namespace is an immutable snapshot of the configuration in force; a request that needs several reads
 * them before its first `await` (or takes `ConfigStore.current`), so it never sees half-old, half-new values.
 */
export type GatewayConfigService = ConfigService<GatewayConfig, true>;

/**
 * The ConfigService the gateway serves: backed by ConfigStore's namespaces, never by `.env` files or
 * `process.env`. The loader alone applies altinity-mcp's precedence (flag > env > file > default); letting
 * ConfigService fall back to `process.env` for a missing key would add a second, different precedence.
 */
export function createGatewayConfigService(store: ConfigStore): GatewayConfigService {
  const service = new ConfigService<GatewayConfig, true>(store.namespaces);
  // The switch `ConfigModule.forRoot({ skipProcessEnv: true })` flips; ConfigModule.forRoot itself is not used
  // because it builds its own store (copied once at boot) and reads `.env`. config.module.spec.ts pins it.
  (service as unknown as { skipProcessEnv: boolean }).skipProcessEnv = true;
  return service;
}

/**
 * Global: every module reads the configuration through ConfigService; ConfigStore owns it (boot values,
 * reload, restart-only keys, reload listeners).
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(boot: BootConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: BOOT_CONFIG, useValue: boot },
        ConfigStore,
        { provide: ConfigService, useFactory: createGatewayConfigService, inject: [ConfigStore] },
      ],
      exports: [ConfigStore, ConfigService],
    };
  }
}
