import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ParsedArgs } from './config.cli.js';
import { CONFIG_FIELDS, EXTRA_FLAGS, type FieldSpec, REMOVED_KEYS, removedKeyWarning } from './config.fields.js';
import type { DynamicToolRule, GatewayConfig, StartupOptions, ToolDefinition } from './config.types.js';
import { closestMatch } from './did-you-mean.js';
import { formatDuration, parseDuration } from './duration.js';
import { validateConfig } from './config.validation.js';

/** Where a value came from; error messages name it so a person knows what to fix. */
export type Source = { kind: 'flag'; name: string } | { kind: 'env'; name: string } | { kind: 'file' } | { kind: 'default' };

export interface LoadedConfig {
  config: GatewayConfig;
  options: StartupOptions;
  warnings: string[];
  /** Where each key's value came from, by dotted path. */
  sources: Record<string, Source['kind']>;
  /** The file text that produced this config (hot reload skips unchanged files). */
  fileText?: string;
}

/** A configuration that cannot be used: one line per bad key, each naming the key, the value and what is allowed. */
export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(issues.join('\n'));
  }
}

export interface LoadInput {
  args: ParsedArgs;
  env: NodeJS.ProcessEnv;
  /** Injected for tests; defaults to reading from disk. */
  readFile?: (path: string) => string;
}

const describeSource = (s: Source): string =>
  s.kind === 'flag' ? `--${s.name}` : s.kind === 'env' ? `env ${s.name}` : s.kind === 'file' ? 'the config file' : 'the default';

function showValue(field: FieldSpec, raw: unknown): string {
  if (field.kind === 'secret') return '"***"';
  const text = typeof raw === 'string' ? JSON.stringify(raw) : JSON.stringify(raw) ?? String(raw);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function readConfigFile(path: string, readFile: (p: string) => string): { raw: Record<string, unknown>; text: string } {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError([`failed to load config file: failed to read config file ${path}: ${reason}`]);
  }
  const ext = extname(path).toLowerCase();
  const tryYaml = (): unknown => parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  const tryJson = (): unknown => JSON.parse(text);
  let parsed: unknown;
  try {
    if (ext === '.json') parsed = tryJson();
    else if (ext === '.yaml' || ext === '.yml') parsed = tryYaml();
    else {
      try {
        parsed = tryYaml();
      } catch (yamlErr) {
        try {
          parsed = tryJson();
        } catch (jsonErr) {
          throw new Error(
            `failed to parse config file ${path} as YAML or JSON: YAML error: ${firstLine(yamlErr)}, JSON error: ${firstLine(jsonErr)}`,
          );
        }
      }
    }
  } catch (err) {
    const message = (err as Error).message.startsWith('failed to parse config file')
      ? (err as Error).message
      : `failed to parse ${ext === '.json' ? 'JSON' : 'YAML'} config file ${path}: ${firstLine(err)}`;
    throw new ConfigError([`failed to load config file: ${message}`]);
  }
  if (parsed === null || parsed === undefined) return { raw: {}, text };
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError([`failed to load config file: ${path} must hold a mapping of keys (clickhouse:, server:, ...), not a ${Array.isArray(parsed) ? 'list' : typeof parsed}`]);
  }
  return { raw: parsed as Record<string, unknown>, text };
}

const firstLine = (err: unknown): string => String((err as Error)?.message ?? err).split('\n')[0]!;

function getPath(obj: Record<string, unknown>, path: string): { found: boolean; value: unknown } {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !(part in (cur as object))) {
      return { found: false, value: undefined };
    }
    cur = (cur as Record<string, unknown>)[part];
  }
  return { found: true, value: cur };
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    cur[part] ??= {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

type Coerced = { ok: true; value: unknown } | { ok: false; allowed: string };

const BOOL_TEXT: Record<string, boolean> = { '1': true, t: true, true: true, '0': false, f: false, false: false };

/** Turns one raw value (a YAML scalar/list/map, or the text of a flag or env var) into the field's type. */
function coerce(field: FieldSpec, raw: unknown, fromText: boolean): Coerced {
  switch (field.kind) {
    case 'string':
    case 'secret':
      if (typeof raw === 'string') return { ok: true, value: raw };
      if (typeof raw === 'number' || typeof raw === 'boolean') return { ok: true, value: String(raw) };
      return { ok: false, allowed: 'a string' };
    case 'enum': {
      const text = typeof raw === 'string' ? raw.trim().toLowerCase() : undefined;
      if (text !== undefined && field.values!.includes(text)) return { ok: true, value: text };
      return { ok: false, allowed: `one of ${field.values!.join(', ')}` };
    }
    case 'int': {
      const range =
        field.min !== undefined && field.max !== undefined
          ? `an integer from ${field.min} to ${field.max}`
          : field.min !== undefined
            ? `an integer >= ${field.min}`
            : 'an integer';
      let n: number | undefined;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string' && /^\s*[-+]?\d+\s*$/.test(raw)) n = Number(raw);
      if (n === undefined || !Number.isSafeInteger(n)) return { ok: false, allowed: range };
      return { ok: true, value: n };
    }
    case 'bool':
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      if (typeof raw === 'string' && raw.trim().toLowerCase() in BOOL_TEXT) {
        return { ok: true, value: BOOL_TEXT[raw.trim().toLowerCase()] };
      }
      return { ok: false, allowed: 'true or false' };
    case 'list':
      if (fromText && typeof raw === 'string') {
        return { ok: true, value: raw.split(',').map((s) => s.trim()).filter(Boolean) };
      }
      if (Array.isArray(raw) && raw.every((v) => typeof v === 'string' || typeof v === 'number')) {
        return { ok: true, value: raw.map((v) => String(v).trim()).filter(Boolean) };
      }
      if (raw === null) return { ok: true, value: [] };
      return { ok: false, allowed: 'a list of strings' };
    case 'map': {
      if (fromText && typeof raw === 'string') {
        const out: Record<string, string> = {};
        for (const pair of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
          const eq = pair.indexOf('=');
          if (eq <= 0) return { ok: false, allowed: 'comma-separated key=value pairs' };
          out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
        }
        return { ok: true, value: out };
      }
      if (raw === null) return { ok: true, value: {} };
      if (typeof raw === 'object' && !Array.isArray(raw)) {
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
          if (v !== null && typeof v === 'object') return { ok: false, allowed: 'a mapping of names to scalar values' };
          out[k] = v === null ? '' : String(v);
        }
        return { ok: true, value: out };
      }
      return { ok: false, allowed: 'a mapping of names to values' };
    }
    case 'duration': {
      // JSON configs of the Go server hold durations as nanosecond integers.
      const ms = typeof raw === 'number' ? raw / 1e6 : typeof raw === 'string' ? parseDuration(raw) : undefined;
      const range =
        field.min !== undefined && field.max !== undefined
          ? ` between ${formatDuration(field.min)} and ${formatDuration(field.max)}`
          : '';
      if (ms === undefined || Number.isNaN(ms)) return { ok: false, allowed: `a duration such as 90s, 15m or 1h${range}` };
      return { ok: true, value: ms };
    }
    case 'tools':
      return coerceObjectList<ToolDefinition>(raw, ['type', 'name', 'view_regexp', 'table_regexp', 'prefix', 'mode']);
    case 'dynamic_tools':
      return coerceObjectList<DynamicToolRule>(raw, ['name', 'regexp', 'prefix', 'type', 'mode']);
  }
}

function coerceObjectList<T>(raw: unknown, keys: string[]): Coerced {
  if (raw === null || raw === undefined) return { ok: true, value: [] };
  const allowed = `a list of mappings with keys ${keys.join(', ')}`;
  if (!Array.isArray(raw)) return { ok: false, allowed };
  const out: T[] = [];
  for (const item of raw) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return { ok: false, allowed };
    const entry: Record<string, string> = {};
    for (const [k, v] of Object.entries(item as Record<string, unknown>)) {
      if (!keys.includes(k)) continue; // reported as an unknown key by the key walk
      if (v !== null && typeof v === 'object') return { ok: false, allowed };
      if (v !== null && v !== undefined) entry[k] = String(v);
    }
    out.push(entry as T);
  }
  return { ok: true, value: out };
}

function isZero(field: FieldSpec, value: unknown): boolean {
  // altinity-mcp cannot tell a zero/empty value in the file from an absent one: both get the default.
  if (field.keepZero) return false;
  return (
    ((field.kind === 'string' || field.kind === 'enum') && value === '') ||
    ((field.kind === 'int' || field.kind === 'duration') && value === 0)
  );
}

const INERT_ALTINITY_KEYS: ReadonlySet<string> = new Set(['server.jwe.token_param']);

/** Reports keys of the file that no field reads: removed keys with altinity-mcp's hint, others with a suggestion. */
function walkUnknownKeys(raw: Record<string, unknown>, warnings: string[]): void {
  const leaves = new Set(CONFIG_FIELDS.map((f) => f.path));
  const branches = new Set<string>();
  for (const f of CONFIG_FIELDS) {
    const parts = f.path.split('.');
    for (let i = 1; i < parts.length; i++) branches.add(parts.slice(0, i).join('.'));
  }
  const removed = new Map(REMOVED_KEYS);
  const visit = (obj: Record<string, unknown>, prefix: string): void => {
    for (const [key, value] of Object.entries(obj)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (removed.has(path)) {
        warnings.push(removedKeyWarning(path, removed.get(path)!));
      } else if (leaves.has(path)) {
        if (path === 'server.tools' || path === 'server.dynamic_tools') visitToolEntries(path, value, warnings);
      } else if (branches.has(path)) {
        if (value !== null && typeof value === 'object' && !Array.isArray(value)) visit(value as Record<string, unknown>, path);
      } else {
        // The altinity-mcp chart writes `server.jwe.token_param`, which nothing reads there either; a "did you
        // mean token_generator" would send operators to a key with a very different meaning.
        const hint = INERT_ALTINITY_KEYS.has(path) ? undefined : closestMatch(path, [...leaves, ...branches]);
        warnings.push(`unknown config key "${path}" is ignored${hint ? `; did you mean "${hint}"?` : ''}`);
      }
    }
  };
  visit(raw, '');
}

function visitToolEntries(path: string, value: unknown, warnings: string[]): void {
  if (!Array.isArray(value)) return;
  const keys =
    path === 'server.tools'
      ? ['type', 'name', 'view_regexp', 'table_regexp', 'prefix', 'mode']
      : ['name', 'regexp', 'prefix', 'type', 'mode'];
  value.forEach((item, i) => {
    if (item === null || typeof item !== 'object') return;
    for (const key of Object.keys(item as object)) {
      if (!keys.includes(key)) {
        const hint = closestMatch(key, keys);
        warnings.push(`unknown config key "${path}[${i}].${key}" is ignored${hint ? `; did you mean "${hint}"?` : ''}`);
      }
    }
  });
}

/**
 * Builds the configuration from the file, env vars and flags with altinity-mcp's precedence
 * (flag > env > file > default), validates it, and returns it with the warnings a person should see.
 * Throws ConfigError listing every bad key at once.
 */
export function loadConfig(input: LoadInput): LoadedConfig {
  const { args, env } = input;
  const readFile = input.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const issues: string[] = [];
  const warnings: string[] = [];

  const flagValue = (name: string): string | undefined => args.flags.get(name)?.at(-1);
  const envValue = (name: string | undefined): string | undefined => {
    if (!name) return undefined;
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };

  const configFile = flagValue(EXTRA_FLAGS.config.flag) ?? envValue(EXTRA_FLAGS.config.env);
  let raw: Record<string, unknown> = {};
  let fileText: string | undefined;
  if (configFile) {
    const read = readConfigFile(configFile, readFile);
    raw = read.raw;
    fileText = read.text;
    walkUnknownKeys(raw, warnings);
  }

  const config = {} as Record<string, unknown>;
  const sources: Record<string, Source['kind']> = {};
  for (const field of CONFIG_FIELDS) {
    let source: Source = { kind: 'default' };
    let rawValue: unknown;
    const flagValues = field.flag ? args.flags.get(field.flag) : undefined;
    const fromEnv = envValue(field.env);
    const inFile = getPath(raw, field.path);
    if (flagValues?.length) {
      source = { kind: 'flag', name: field.flag! };
      // Repeated list flags accumulate, as urfave's StringSliceFlag does.
      rawValue = field.kind === 'list' ? flagValues.join(',') : flagValues.at(-1);
    } else if (fromEnv !== undefined) {
      source = { kind: 'env', name: field.env! };
      rawValue = fromEnv;
    } else if (inFile.found && inFile.value !== null) {
      source = { kind: 'file' };
      rawValue = inFile.value;
    }

    let value: unknown = structuredClone(field.default);
    if (source.kind !== 'default') {
      const coerced = coerce(field, rawValue, source.kind !== 'file');
      if (!coerced.ok) {
        issues.push(badValue(field, rawValue, source, coerced.allowed));
      } else if ((source.kind === 'file' || field.zeroIsDefaultFromFlags) && isZero(field, coerced.value)) {
        source = { kind: 'default' };
      } else {
        value = coerced.value;
        const rangeIssue = field.rangeInValidation ? undefined : checkRange(field, value);
        if (rangeIssue) issues.push(badValue(field, rawValue, source, rangeIssue));
      }
    }
    setPath(config, field.path, value);
    sources[field.path] = source.kind;
  }

  const cfg = config as unknown as GatewayConfig;
  applyOpenApiFlag(cfg, flagValue(EXTRA_FLAGS.openapi.flag) ?? envValue(EXTRA_FLAGS.openapi.env), issues);

  const reloadText = flagValue(EXTRA_FLAGS.configReloadTime.flag) ?? envValue(EXTRA_FLAGS.configReloadTime.env);
  let configReloadTime = 0;
  if (reloadText !== undefined) {
    if (!/^\s*\d+\s*$/.test(reloadText)) {
      issues.push(`config-reload-time: must be a whole number of seconds (got ${JSON.stringify(reloadText)})`);
    } else configReloadTime = Number(reloadText);
  }

  if (issues.length === 0) validateConfig(cfg, issues, warnings);
  if (issues.length > 0) throw new ConfigError(issues);
  return { config: cfg, options: { configFile, configReloadTime }, warnings, sources, fileText };
}

function checkRange(field: FieldSpec, value: unknown): string | undefined {
  if (typeof value !== 'number') return undefined;
  const outside = (field.min !== undefined && value < field.min) || (field.max !== undefined && value > field.max);
  if (!outside) return undefined;
  if (field.kind === 'duration') return `a duration between ${formatDuration(field.min!)} and ${formatDuration(field.max!)}`;
  if (field.min !== undefined && field.max !== undefined) return `an integer from ${field.min} to ${field.max}`;
  if (field.min !== undefined) return `an integer >= ${field.min}`;
  return `an integer <= ${field.max}`;
}

function badValue(field: FieldSpec, raw: unknown, source: Source, allowed: string): string {
  if (field.path === 'logging.level') {
    // altinity-mcp's texts, which scripts may grep for.
    const text = String(raw);
    const core = `invalid log level: ${text}`;
    const prefix = source.kind === 'file' ? `failed setup logging ${text} level: ` : '';
    return `logging.level: ${prefix}${core}; allowed: ${field.values!.join(', ')} (from ${describeSource(source)})`;
  }
  if (field.path === 'clickhouse.protocol' && typeof raw === 'string' && /^(tcp|native)$/i.test(raw.trim())) {
    return `clickhouse.protocol: "${raw.trim()}" is not supported by this gateway; use http (port 8123, or 8443 with clickhouse.tls.enabled) (from ${describeSource(source)})`;
  }
  return `${field.path}: got ${showValue(field, raw)}, expected ${allowed} (from ${describeSource(source)})`;
}

function applyOpenApiFlag(cfg: GatewayConfig, value: string | undefined, issues: string[]): void {
  if (value === undefined) return;
  switch (value.trim().toLowerCase()) {
    case 'http':
      cfg.server.openapi.enabled = true;
      cfg.server.openapi.tls = false;
      return;
    case 'https':
      cfg.server.openapi.enabled = true;
      cfg.server.openapi.tls = true;
      return;
    case 'disable':
    case '':
      return;
    default:
      issues.push(`openapi: got ${JSON.stringify(value)}, expected one of disable, http, https (from --openapi or env MCP_OPENAPI)`);
  }
}
