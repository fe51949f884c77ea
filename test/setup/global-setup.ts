import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildGatewayForTests } from '../support/built-gateway.js';

const script = fileURLToPath(new URL('../../scripts/clickhouse-test-server.sh', import.meta.url));
const chromiumScript = fileURLToPath(new URL('../../scripts/install-chromium.sh', import.meta.url));

/** The OAuth consent tests drive Debian's chromium: install it on a fresh machine, or stop the run loudly. */
function ensureChromium(): void {
  try {
    process.env.CHROMIUM_PATH = execFileSync('bash', [chromiumScript], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' }).trim();
  } catch (error) {
    throw new Error(`chromium for the browser e2e tests could not be installed (scripts/install-chromium.sh): ${(error as Error).message}`);
  }
}

/**
 * Starts the real ClickHouse test server (Debian's 18.16, installed on first use) for the run and stops it
 * afterwards — unless it was already running (a developer's own, or a parallel run's), which is left alone.
 */
export default function setup(): () => void {
  process.env.CH_TEST_HOST ??= '127.0.0.1';
  process.env.CH_TEST_PORT ??= '18123';
  const env = { ...process.env, CH_HTTP_PORT: process.env.CH_TEST_PORT };
  let alreadyRunning = true;
  try {
    execFileSync('bash', [script, 'status'], { stdio: 'pipe', env });
  } catch {
    alreadyRunning = false;
  }
  if (!alreadyRunning) execFileSync('bash', [script, 'start'], { stdio: 'inherit', env });
  ensureChromium();
  // Tests that spawn the gateway as a process share one build, made before any test file starts.
  process.env.GATEWAY_TEST_MAIN = buildGatewayForTests();
  return () => {
    if (!alreadyRunning) execFileSync('bash', [script, 'stop'], { stdio: 'inherit', env });
  };
}
