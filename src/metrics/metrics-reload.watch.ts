import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../common/logging/logging.module.js';
import { loadConfig } from '../config/config.loader.js';
import { BOOT_CONFIG, type BootConfig, ConfigStore } from '../config/config.store.js';
import type { GatewayConfig } from '../config/config.types.js';

/** altinity-mcp's words for a reload that asks for other metrics settings (upstream `reloadConfig`). */
export const METRICS_RELOAD_WARNING =
  'config reload: server.metrics.* changed — restart required for this to take effect; /metrics remains on the previous configuration';

type MetricsSettings = GatewayConfig['server']['metrics'];

const sameSettings = (a: MetricsSettings, b: MetricsSettings): boolean => a.enabled === b.enabled && a.port === b.port && a.address === b.address;

/**
 * `server.metrics.*` is restart-only. The config store already keeps the running value in the stored config
 * (so it never reports a state the listener does not have); this watch tells the operator, as altinity-mcp
 * does: one warning per mismatch with `running_enabled`/`requested_enabled`, silence while the same mismatch
 * persists, and re-armed once the file agrees with the running value again.
 */
@Injectable()
export class MetricsReloadWatch implements OnModuleInit, OnModuleDestroy {
  private readonly log: Logger;
  /** The requested settings last warned about; undefined while the file agrees with the running value. */
  private warnedFor?: MetricsSettings;
  private off?: () => void;

  constructor(
    private readonly config: ConfigStore,
    private readonly moduleRef: ModuleRef,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'config' });
  }

  onModuleInit(): void {
    this.off = this.config.onReload((outcome) => {
      if (outcome.status === 'applied') this.check();
    });
  }

  onModuleDestroy(): void {
    this.off?.();
  }

  /** Compares what the file (after flags and env) asks for with what runs; warns once per new mismatch. */
  check(requested: MetricsSettings | undefined = this.requestedSettings()): void {
    if (!requested) return;
    const running = this.config.boot.server.metrics;
    if (sameSettings(requested, running)) {
      this.warnedFor = undefined;
      return;
    }
    if (this.warnedFor && sameSettings(this.warnedFor, requested)) return;
    this.warnedFor = { ...requested };
    this.log.warn(
      {
        running_enabled: running.enabled,
        requested_enabled: requested.enabled,
        ...(requested.port !== running.port ? { running_port: running.port, requested_port: requested.port } : {}),
        ...(requested.address !== running.address ? { running_address: running.address, requested_address: requested.address } : {}),
      },
      METRICS_RELOAD_WARNING,
    );
  }

  /**
   * The store replaces restart-only values by the running ones before it keeps a reloaded config, so the
   * requested value is re-read here with the same flags and env. Reloads are rare (file changed); a file that
   * no longer loads was already reported by the store and is ignored.
   */
  private requestedSettings(): MetricsSettings | undefined {
    try {
      const boot = this.moduleRef.get<BootConfig>(BOOT_CONFIG, { strict: false });
      return loadConfig(boot.input).config.server.metrics;
    } catch {
      return undefined;
    }
  }
}
