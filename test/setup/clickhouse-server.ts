import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Helpers for tests that need the real ClickHouse test server started by the global setup. */
export const CH_TEST_HOST = process.env.CH_TEST_HOST ?? '127.0.0.1';
export const CH_TEST_PORT = Number(process.env.CH_TEST_PORT ?? 18123);
export const CH_TEST_URL = `http://${CH_TEST_HOST}:${CH_TEST_PORT}`;

const script = fileURLToPath(new URL('../../scripts/clickhouse-test-server.sh', import.meta.url));

/**
 * A ClickHouse server of a test's own, on its own port and data dir. Tests that stop, kill or restart
 * ClickHouse use one of these so that files running in parallel keep their shared server.
 */
export class PrivateClickHouse {
  readonly url: string;
  constructor(
    readonly port: number,
    readonly dir = `/tmp/ch-test-${port}`,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }
  private run(action: 'start' | 'stop' | 'kill'): void {
    execFileSync('bash', [script, action], {
      stdio: 'pipe',
      env: { ...process.env, CH_HTTP_PORT: String(this.port), CH_TCP_PORT: String(this.port + 1000), CH_DIR: this.dir, CH_KEEP_DATA: action === 'stop' ? '1' : '0' },
    });
  }
  start(): void {
    this.run('start');
  }
  /** Graceful stop that keeps the data. */
  stop(): void {
    this.run('stop');
  }
  /** SIGKILL, as a crash would. */
  kill(): void {
    this.run('kill');
  }
  /** Stops it and removes its data dir. */
  destroy(): void {
    execFileSync('bash', [script, 'stop'], { stdio: 'pipe', env: { ...process.env, CH_HTTP_PORT: String(this.port), CH_DIR: this.dir } });
  }
}

/** Runs SQL on a test server directly over HTTP (setup and assertions; never through the gateway). */
export async function chQuery(sql: string, opts: { user?: string; password?: string; url?: string } = {}): Promise<string> {
  const url = opts.url ?? CH_TEST_URL;
  const res = await fetch(`${url}/?user=${encodeURIComponent(opts.user ?? 'default')}&password=${encodeURIComponent(opts.password ?? '')}`, {
    method: 'POST',
    body: sql,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse ${res.status}: ${text}`);
  return text;
}
