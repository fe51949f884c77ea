import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { builtGatewayMain } from './built-gateway.js';
import type { SerializedOutboundHooks } from './outbound-hooks.js';

const LAUNCHER = fileURLToPath(new URL('./gateway-process-launcher.mjs', import.meta.url));

/**
 * Test support: the BUILT gateway (`builtGatewayMain()`) as a separate Node process, listening on a loopback
 * port it reports back, with the OAuth outbound-fetch hooks passed in as JSON (see gateway-process-launcher.mjs).
 * Two of these with the same flags/env and no shared store are the HA setup (stateless artifacts).
 */
export interface GatewayProcessOptions {
  /** CLI flags as for `node dist/main.js` (`--transport http --address 127.0.0.1` are set already). */
  readonly flags?: readonly string[];
  /** The environment the configuration loader sees (only this: the test runner's own is not passed). */
  readonly env?: Readonly<Record<string, string>>;
  /** Stub DNS + testOnly, e.g. `CimdClientServer.serializedHooks`. */
  readonly outboundHooks?: SerializedOutboundHooks;
  /** Default 0 (a free port). */
  readonly port?: number;
  /** Default 30 s. */
  readonly startTimeoutMs?: number;
}

export interface GatewayProcess {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Everything the gateway logged (JSON lines on its stderr) and any other stderr output. */
  readonly logs: string[];
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. Idempotent. */
  close(): Promise<void>;
}

export async function startGatewayProcess(options: GatewayProcessOptions = {}): Promise<GatewayProcess> {
  const spec = { flags: [...(options.flags ?? [])], env: { ...options.env }, port: options.port ?? 0, outbound: options.outboundHooks };
  const child: ChildProcess = spawn(process.execPath, [LAUNCHER, builtGatewayMain(), JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' },
  });
  const logs: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      logs.push(...lines.filter((line) => line !== ''));
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway process did not listen within ${options.startTimeoutMs ?? 30_000} ms; logs:\n${logs.slice(-20).join('\n')}`));
    }, options.startTimeoutMs ?? 30_000);
    child.on('message', (message: { listening?: number; failed?: string }) => {
      clearTimeout(timer);
      if (message.listening) resolve(message.listening);
      else reject(new Error(`gateway process failed to start: ${message.failed}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`gateway process exited (${signal ?? code}) before listening; logs:\n${logs.slice(-20).join('\n')}`));
    });
  });

  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    pid: child.pid!,
    logs,
    close: () => {
      closed ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killer);
      })();
      return closed;
    },
  };
}
