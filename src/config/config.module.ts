import { type DynamicModule, Global, Module } from '@nestjs/common';
import { BOOT_CONFIG, type BootConfig, ConfigStore } from './config.store.js';

/** Global: every module reads the configuration in force through ConfigStore. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(boot: BootConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: BOOT_CONFIG, useValue: boot }, ConfigStore],
      exports: [ConfigStore],
    };
  }
}
