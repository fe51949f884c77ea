import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { builtGatewayMain } from '../support/built-gateway.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHART_DIR = join(ROOT, 'charts', 'clickhouse-mcp-gateway');
export const EXAMPLES_DIR = join(CHART_DIR, 'examples');
/** Where the chart mounts the config file and what the container's `--config` names. */
export const CONFIG_PATH = '/etc/altinity-mcp/config.yaml';

const execFileAsync = promisify(execFile);
let helmPath: string | undefined;

/** The real helm 3.17 binary, installed (once, cached under node_modules/.cache) by scripts/install-helm.sh. */
export function helmBinary(): string {
  helmPath ??= execFileSync('bash', [join(ROOT, 'scripts', 'install-helm.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  return helmPath;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with a private HOME/cache so nothing outside the temp dir is read or written. */
export async function helm(args: string[]): Promise<HelmResult> {
  const home = helmHome();
  try {
    const { stdout, stderr } = await execFileAsync(helmBinary(), args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: home, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let home: string | undefined;
function helmHome(): string {
  home ??= mkdtempSync(join(tmpdir(), 'chart-helm-home-'));
  return home;
}

/** A Kubernetes object as rendered (loosely typed: tests read what they assert). */
export type K8sObject = Record<string, any>;

/** `helm template` with the given values files and --set pairs; throws with helm's stderr when it fails. */
export async function renderChart(valuesFiles: string[] = [], sets: string[] = [], namespace = 'mcp'): Promise<K8sObject[]> {
  const args = ['template', 'gw', CHART_DIR, '--namespace', namespace];
  for (const f of valuesFiles) args.push('-f', f);
  for (const s of sets) args.push('--set', s);
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return parseManifests(r.stdout);
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`rendered YAML does not parse: ${d.errors[0]!.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

export function findObject(objects: K8sObject[], kind: string, predicate: (o: K8sObject) => boolean = () => true): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && predicate(o));
}

export function mustFind(objects: K8sObject[], kind: string, predicate?: (o: K8sObject) => boolean): K8sObject {
  const found = findObject(objects, kind, predicate);
  if (!found) throw new Error(`no ${kind} rendered; got ${objects.map((o) => o.kind).join(', ')}`);
  return found;
}

/** The gateway container of the rendered Deployment. */
export function gatewayContainer(objects: K8sObject[]): K8sObject {
  const deployment = mustFind(objects, 'Deployment');
  return deployment.spec.template.spec.containers[0];
}

/** The config file the pod would read: the rendered Secret's `config.yaml` (base64 `data` or `stringData`). */
export function renderedConfigFile(objects: K8sObject[]): string {
  const deployment = mustFind(objects, 'Deployment');
  const volume = deployment.spec.template.spec.volumes.find((v: K8sObject) => v.name === 'config');
  const secretName: string = volume.secret.secretName;
  const item = volume.secret.items.find((i: K8sObject) => i.path === 'config.yaml');
  const secret = mustFind(objects, 'Secret', (s) => s.metadata.name === secretName);
  if (secret.stringData?.[item.key] !== undefined) return secret.stringData[item.key] as string;
  return Buffer.from(secret.data[item.key] as string, 'base64').toString('utf8');
}

/**
 * The container's env as the pod would see it: literal values as rendered, each secretKeyRef replaced by a
 * stand-in secret (long enough for any key-length rule), so check-config sees what boot would see.
 */
export function containerEnv(container: K8sObject): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of (container.env ?? []) as K8sObject[]) {
    if (typeof entry.value === 'string') env[entry.name] = entry.value;
    else if (entry.valueFrom?.secretKeyRef) env[entry.name] = `stand-in-${entry.valueFrom.secretKeyRef.name}-${entry.valueFrom.secretKeyRef.key}-0123456789abcdef`;
  }
  return env;
}

export interface CheckConfigResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node <built main> check-config --config <file>` with only the given env (plus PATH). */
export function checkConfig(configText: string, env: Record<string, string> = {}): CheckConfigResult {
  const dir = mkdtempSync(join(tmpdir(), 'chart-config-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, configText);
  const res = spawnSync(process.execPath, [builtGatewayMain(), 'check-config', '--config', file], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return { code: res.status, stdout: res.stdout.replaceAll(file, '<file>'), stderr: res.stderr.replaceAll(file, '<file>') };
}

const PROMQL_WORDS = new Set([
  // aggregations, functions and keywords that can stand where a metric name could
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'histogram_quantile', 'clamp_min', 'clamp_max', 'clamp',
  'abs', 'absent', 'absent_over_time', 'avg_over_time', 'max_over_time', 'min_over_time', 'sum_over_time',
  'count_over_time', 'last_over_time', 'label_replace', 'label_join', 'vector', 'scalar', 'time', 'round', 'sort',
  'sort_desc', 'changes', 'resets', 'and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring',
  'group_left', 'group_right', 'label_values', 'inf', 'nan',
]);

/**
 * Metric names a PromQL expression (or a Grafana `label_values(...)` query) reads. Drops quoted strings, label
 * matchers `{…}`, ranges `[…]`, grouping clauses `by (…)`, Grafana variables and numbers; what is left and is
 * not a PromQL word is a metric name.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
    .replace(/'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^{}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)/g, ')') // label_values(metric, label): the label argument
    .replace(/\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![a-zA-Z0-9_.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![a-zA-Z0-9_:]*\s*\()/g)) {
    const word = m[1]!;
    if (!PROMQL_WORDS.has(word.toLowerCase())) names.add(word);
  }
  return [...names];
}
