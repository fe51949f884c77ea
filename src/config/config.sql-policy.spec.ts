import { describe, expect, it } from 'vitest';
import { parseArgs } from './config.cli.js';
import { ConfigError, loadConfig } from './config.loader.js';

/** The SQL-policy keys: server.allowed_table_functions and server.protected_settings. */
const load = (args: string[], env: Record<string, string> = {}) => loadConfig({ args: parseArgs(args), env });
const issuesOf = (args: string[], env: Record<string, string> = {}): string[] => {
  try {
    load(args, env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
};

describe('SQL policy configuration', () => {
  it('reads the allowlist from flag and env, and protected settings default to the built-in list', () => {
    expect(load(['--allowed-table-functions', 'url,s3']).config.server.allowed_table_functions).toEqual(['url', 's3']);
    expect(load([], { MCP_ALLOWED_TABLE_FUNCTIONS: 'remote' }).config.server.allowed_table_functions).toEqual(['remote']);
    const defaults = load([]).config.server;
    expect(defaults.allowed_table_functions).toEqual([]);
    expect(defaults.protected_settings).toContain('max_execution_time*');
    expect(defaults.protected_settings).toContain('*_overflow_mode');
  });

  it('refuses network/file functions and * on the embedded engine, with the reason', () => {
    const issues = issuesOf(['--clickhouse-protocol', 'embedded', '--allowed-table-functions', 'file,loop']);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^server\.allowed_table_functions: "file" cannot be allowed with clickhouse\.protocol "embedded"/);
    expect(issuesOf(['--clickhouse-protocol', 'embedded', '--allowed-table-functions', '*'])[0]).toMatch(/"\*" cannot be allowed/);
    expect(issuesOf(['--allowed-table-functions', '*'])).toEqual([]);
  });

  it('refuses malformed names and patterns', () => {
    expect(issuesOf(['--allowed-table-functions', 'url()'])[0]).toMatch(/"url\(\)" is not a table function name/);
    expect(issuesOf(['--protected-settings', 'max-threads'])[0]).toMatch(/"max-threads" is not a setting name or pattern/);
  });

  it('refuses a tool_input_settings name that is protected, naming the pattern', () => {
    expect(issuesOf(['--tool-input-settings', 'max_threads'])[0]).toMatch(/setting "max_threads" is protected by server\.protected_settings pattern "max_threads"/);
    expect(issuesOf(['--tool-input-settings', 'max_threads', '--protected-settings', 'readonly'])).toEqual([]);
    expect(issuesOf(['--tool-input-settings', 'max_block_size'])).toEqual([]);
  });
});
