import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// One build directory per checkout: git worktrees that share one node_modules must not reuse each other's build.
const OUT = join(ROOT, 'node_modules', '.cache', `gateway-test-build-${createHash('sha256').update(realpathSync(ROOT)).digest('hex').slice(0, 8)}`);

function newestSource(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((max, e) => {
    const p = join(dir, e.name);
    return Math.max(max, e.isDirectory() ? newestSource(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
  }, 0);
}

/**
 * The compiled gateway for tests that spawn it as a process (stdio, SIGTERM). Built once per test run by the
 * global setup, with tsc into a directory of its own (under node_modules, so packages resolve) rather than
 * dist/, which people and the bench rebuild (`deleteOutDir`) while tests run. Reused while newer than `src/`.
 */
export function buildGatewayForTests(): string {
  const main = join(OUT, 'main.js');
  if (existsSync(main) && statSync(main).mtimeMs > newestSource(join(ROOT, 'src'))) return main;
  mkdirSync(OUT, { recursive: true });
  // Below node_modules the nearest package.json is not the project's: say again that these are ES modules.
  writeFileSync(join(OUT, 'package.json'), '{"type":"module"}\n');
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json'), '--outDir', OUT, '--sourceMap', 'false'], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  return main;
}

/** Path of the built gateway's main.js (set by the global setup). */
export function builtGatewayMain(): string {
  return process.env.GATEWAY_TEST_MAIN ?? buildGatewayForTests();
}
