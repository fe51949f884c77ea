import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { PUBLIC_RESOURCE_URL_UNSET_WARNING } from '../auth/oauth/oauth-config-checks.js';
import { CONFIG_FIELDS } from './config.fields.js';
import { ConfigError, type LoadInput, type LoadedConfig, loadConfig } from './config.loader.js';
import type { GatewayConfig, StartupOptions } from './config.types.js';
import { MULTICLUSTER_NO_PLACEHOLDER_WARNING } from './config.validation.js';

export const BOOT_CONFIG = Symbol('BOOT_CONFIG');

/** What the process was started with: the parsed command line and env, and the config they produced. */
export interface BootConfig {
  input: LoadInput;
  loaded: LoadedConfig;
}

export type ReloadOutcome =
  | { status: 'unchanged' }
  | { status: 'applied'; warnings: string[]; changedKeys: string[] }
  | { status: 'failed'; errors: string[] };

type Listener = (outcome: ReloadOutcome) => void;

const BOOT_ONLY_WARNINGS: ReadonlySet<string> = new Set([PUBLIC_RESOURCE_URL_UNSET_WARNING, MULTICLUSTER_NO_PLACEHOLDER_WARNING]);

/** `multicluster.*` is judged as one block (below); every other restart-only key on its own. */
const RESTART_ONLY = CONFIG_FIELDS.filter((f) => f.restartOnly && !f.path.startsWith('multicluster.')).map((f) => f.path);

/** altinity-mcp's reload warning for any change under `multicluster.*` (auth spec §3.5), exact text. */
export const MULTICLUSTER_RELOAD_WARNING =
  'config reload: multicluster.* fields changed — restart required for these to take effect; routing/cache remain on the previous configuration';

/** Ours: in multicluster mode every cluster's connection is a copy of the boot `clickhouse.*` (auth spec §3.5). */
export const MULTICLUSTER_CLICKHOUSE_RELOAD_WARNING =
  'config reload: clickhouse.* changed — in multicluster mode every cluster keeps the boot clickhouse.* settings until a restart';

function get(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);
}

function set(obj: unknown, path: string, value: unknown): void {
  const parts = path.split('.');
  const parent = parts.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], obj);
  (parent as Record<string, unknown>)[parts.at(-1)!] = value;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Holds the configuration in force. Request handlers read `current` per request, so a hot reload applies to
 * new requests without a restart; keys marked restart-only keep their boot value and a reload that changes
 * them says so. A reload that fails keeps the last good configuration.
 */
@Injectable()
export class ConfigStore implements OnApplicationShutdown {
  private active: GatewayConfig;
  /**
   * What `ConfigService` reads: one accessor per namespace (`clickhouse`, `server`, `logging`, `multicluster`,
   * `reload_time`) onto the snapshot in force. A reload swaps `active` in one assignment, so the next `get`
   * sees the new snapshot, and a namespace object once read never changes under its reader.
   */
  readonly namespaces: GatewayConfig;
  private lastFileText: string | undefined;
  private readonly listeners: Listener[] = [];
  private timer?: NodeJS.Timeout;

  constructor(@Inject(BOOT_CONFIG) private readonly bootConfig: BootConfig) {
    this.active = bootConfig.loaded.config;
    this.lastFileText = bootConfig.loaded.fileText;
    const namespaces = {} as GatewayConfig;
    for (const key of Object.keys(this.active) as (keyof GatewayConfig)[]) {
      Object.defineProperty(namespaces, key, { enumerable: true, get: () => this.active[key] });
    }
    this.namespaces = Object.freeze(namespaces);
  }

  get current(): GatewayConfig {
    return this.active;
  }

  get boot(): GatewayConfig {
    return this.bootConfig.loaded.config;
  }

  get options(): StartupOptions {
    return this.bootConfig.loaded.options;
  }

  /** Warnings produced while loading the boot configuration (unknown keys, deprecations...). */
  get bootWarnings(): readonly string[] {
    return this.bootConfig.loaded.warnings;
  }

  onReload(listener: Listener): () => void {
    this.listeners.push(listener);
    return () => this.listeners.splice(this.listeners.indexOf(listener), 1);
  }

  /** Re-reads the config file with the same flags and env, and swaps it in if it is valid. */
  reload(): ReloadOutcome {
    const outcome = this.tryReload();
    for (const listener of this.listeners) listener(outcome);
    return outcome;
  }

  private tryReload(): ReloadOutcome {
    let next: LoadedConfig;
    try {
      next = loadConfig(this.bootConfig.input);
    } catch (err) {
      const errors = err instanceof ConfigError ? err.issues : [(err as Error).message];
      return { status: 'failed', errors };
    }
    if (next.fileText !== undefined && next.fileText === this.lastFileText) return { status: 'unchanged' };
    this.lastFileText = next.fileText;
    // Some warnings are about the process as started (altinity-mcp logs them once, at boot): not repeated here.
    const warnings = next.warnings.filter((warning) => !BOOT_ONLY_WARNINGS.has(warning));
    for (const path of RESTART_ONLY) {
      const bootValue = get(this.boot, path);
      if (!same(get(next.config, path), bootValue)) {
        warnings.push(
          `config reload: ${path} changed from ${JSON.stringify(bootValue)} to ${JSON.stringify(get(next.config, path))}, which needs a restart; keeping ${JSON.stringify(bootValue)} until then`,
        );
        set(next.config, path, structuredClone(bootValue));
      }
    }
    if (!same(next.config.multicluster, this.boot.multicluster)) {
      // The router and the catalog cache were built at boot: the stored config keeps the running values too.
      warnings.push(MULTICLUSTER_RELOAD_WARNING);
      next.config.multicluster = structuredClone(this.boot.multicluster);
    }
    if (this.boot.multicluster.enabled && !same(next.config.clickhouse, this.active.clickhouse)) {
      warnings.push(MULTICLUSTER_CLICKHOUSE_RELOAD_WARNING);
    }
    const changedKeys = CONFIG_FIELDS.map((f) => f.path).filter((p) => !same(get(this.active, p), get(next.config, p)));
    this.active = next.config;
    return { status: 'applied', warnings, changedKeys };
  }

  /** Starts the periodic re-read (`--config-reload-time`), as altinity-mcp does; no-op without a file or interval. */
  startWatching(): void {
    const seconds = this.options.configReloadTime;
    if (!this.options.configFile || seconds <= 0 || this.timer) return;
    this.timer = setInterval(() => this.reload(), seconds * 1000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
