import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../scripts/clickhouse-test-server.sh', import.meta.url));

/**
 * Starts the real ClickHouse test server (Debian's 18.16, installed on first use) once for the whole run,
 * and stops it afterwards. Tests reach it at CH_TEST_PORT on 127.0.0.1.
 */
export default function setup(): () => void {
  process.env.CH_TEST_HOST ??= '127.0.0.1';
  process.env.CH_TEST_PORT ??= '18123';
  execFileSync('bash', [script, 'start'], { stdio: 'inherit', env: { ...process.env, CH_HTTP_PORT: process.env.CH_TEST_PORT } });
  return () => {
    if (process.env.CH_TEST_KEEP_RUNNING === '1') return;
    execFileSync('bash', [script, 'stop'], { stdio: 'inherit' });
  };
}
