import { CONFIG_FIELDS, EXTRA_FLAGS } from './config.fields.js';
import { closestMatch } from './did-you-mean.js';

export type Command = 'serve' | 'version' | 'test-connection' | 'check-config' | 'help';

export interface ParsedArgs {
  command: Command;
  /** Flag name (without dashes) → the values given, in order (repeatable list flags keep every value). */
  flags: Map<string, string[]>;
}

/** Thrown for a command line the gateway cannot understand; the message is meant for the person typing it. */
export class CommandLineError extends Error {}

const BOOL_FLAGS = new Set(CONFIG_FIELDS.filter((f) => f.kind === 'bool' && f.flag).map((f) => f.flag!));
const VALUE_FLAGS = new Set<string>([
  ...CONFIG_FIELDS.filter((f) => f.kind !== 'bool' && f.flag).map((f) => f.flag!),
  ...Object.values(EXTRA_FLAGS).map((f) => f.flag),
]);
const SUBCOMMANDS: ReadonlySet<string> = new Set(['version', 'test-connection', 'check-config', 'help']);

/**
 * Parses argv the way altinity-mcp's CLI (urfave/cli) does: `--flag value`, `--flag=value`, `-flag value`;
 * boolean flags take no separate value (`--read-only`, `--read-only=false`); list flags may repeat.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const flags = new Map<string, string[]>();
  let command: Command = 'serve';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-' || arg === '--') {
      if (command === 'serve' && flags.size === 0 && SUBCOMMANDS.has(arg)) {
        command = arg as Command;
        continue;
      }
      throw new CommandLineError(`unexpected argument "${arg}"; flags start with --, commands are: version, test-connection, check-config`);
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (name === 'help' || name === 'h') {
      command = 'help';
      continue;
    }
    if (name === 'version' || name === 'v') {
      command = 'version';
      continue;
    }
    let value: string;
    if (BOOL_FLAGS.has(name)) {
      value = eq >= 0 ? body.slice(eq + 1) : 'true';
    } else if (VALUE_FLAGS.has(name)) {
      if (eq >= 0) value = body.slice(eq + 1);
      else {
        const next = argv[i + 1];
        if (next === undefined) throw new CommandLineError(`flag --${name} needs a value`);
        value = next;
        i++;
      }
    } else {
      const hint = closestMatch(name, [...BOOL_FLAGS, ...VALUE_FLAGS]);
      throw new CommandLineError(`unknown flag --${name}${hint ? `; did you mean --${hint}?` : ''} (see --help)`);
    }
    const list = flags.get(name) ?? [];
    list.push(value);
    flags.set(name, list);
  }
  return { command, flags };
}

export function helpText(version: string): string {
  const lines = [
    `clickhouse-mcp-gateway ${version}: a Model Context Protocol server for ClickHouse`,
    '',
    'Usage: clickhouse-mcp-gateway [command] [flags]',
    '',
    'Commands:',
    '  version           print the version',
    '  test-connection   connect to ClickHouse with the configuration and list the tables of its database',
    '  check-config      validate the configuration (file, env and flags) exactly as start-up does, and exit:',
    '                    0 valid (warnings are printed), 2 invalid (every problem on its own line)',
    '',
    'Flags (each also read from the env var in brackets; flag > env > file > default):',
  ];
  const rows: Array<[string, string]> = [
    ...Object.values(EXTRA_FLAGS).map((f): [string, string] => [`--${f.flag} [${f.env}]`, f.doc]),
    ...CONFIG_FIELDS.filter((f) => f.flag).map((f): [string, string] => [
      `--${f.flag}${f.env ? ` [${f.env}]` : ''}`,
      `${f.path}: ${f.doc.replace(/`/g, '')}`,
    ]),
  ];
  for (const [left, right] of rows) lines.push(`  ${left.padEnd(62)} ${right}`);
  return lines.join('\n');
}
