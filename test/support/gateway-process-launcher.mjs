// Test support: runs the BUILT gateway (the tsc output of test/support/built-gateway.ts) in a child process
// the way dist/main.js does, except that the OAuth outbound-fetch hooks (stub DNS + testOnly) reach
// createGatewayApp, which no flag or environment variable can do. Started by test/support/gateway-process.ts:
//   node gateway-process-launcher.mjs <path of the built main.js> '<JSON launch spec>'
// spec: { flags: string[], env: Record<string,string>, port?: number,
//         outbound?: { hosts: Record<string,string[]>, testOnly?: {...} } }
// Reports { listening: <port> } (or { failed: <text> }) over the IPC channel; SIGTERM closes the app.
import 'reflect-metadata';
import { pathToFileURL } from 'node:url';

const [mainPath, specJson] = process.argv.slice(2);
const spec = JSON.parse(specJson);
const built = (relative) => import(new URL(relative, pathToFileURL(mainPath)).href);
const { createGatewayApp } = await built('./bootstrap.js');
const { parseArgs } = await built('./config/config.cli.js');
const { ConfigError, loadConfig } = await built('./config/config.loader.js');
const { createRootLogger } = await built('./common/logging/logger.js');

function report(message) {
  if (process.send) process.send(message);
}

const input = { args: parseArgs(['--transport', 'http', '--address', '127.0.0.1', '--port', '1', ...spec.flags]), env: spec.env };
let loaded;
try {
  loaded = loadConfig(input);
} catch (error) {
  const text = error instanceof ConfigError ? `configuration error: ${error.issues.join('; ')}` : String(error?.message ?? error);
  report({ failed: text });
  process.exit(2);
}
const logger = createRootLogger(loaded.config.logging.level);
for (const warning of loaded.warnings) logger.warn({ context: 'config' }, warning);

let hooks = {};
if (spec.outbound) {
  const hosts = spec.outbound.hosts;
  const resolver = async (hostname) => {
    const answers = hosts[hostname.toLowerCase()];
    if (!answers) throw Object.assign(new Error(`stub resolver: ${hostname} is unknown`), { code: 'ENOTFOUND' });
    return [...answers];
  };
  hooks = { oauthOutboundFetch: { resolver, ...(spec.outbound.testOnly ? { testOnly: spec.outbound.testOnly } : {}) } };
}

let app;
try {
  app = await createGatewayApp({ input, loaded }, logger, hooks);
  await app.listen(spec.port ?? 0, '127.0.0.1');
} catch (error) {
  report({ failed: String(error?.message ?? error) });
  logger.flush();
  process.exit(1);
}
let closing = false;
process.on('SIGTERM', () => {
  if (closing) return;
  closing = true;
  app.close().finally(() => {
    logger.flush();
    process.exit(0);
  });
});
// The parent going away (test runner killed) must not leave a gateway behind.
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
report({ listening: app.getHttpServer().address().port });
