import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  CHART_DIR,
  CONFIG_PATH,
  EXAMPLES_DIR,
  ROOT,
  checkConfig,
  containerEnv,
  findObject,
  gatewayContainer,
  helm,
  helmBinary,
  type K8sObject,
  mustFind,
  renderChart,
  renderedConfigFile,
} from './chart-helpers.js';

const EXAMPLES = readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const example = (name: string) => join(EXAMPLES_DIR, name);

const notYet = (line: string) => `configuration error:\n  - ${line}\n`;

/** What check-config says about each example's rendered config (with the pod's env). */
const EXPECTED_CHECK: Record<string, { valid: true; warnings?: string[] } | { refused: string } | { noConfigSecret: true }> = {
  'altinity-defaults-health-probe.yaml': { valid: true, warnings: ['warning: unknown config key "server.jwe.token_param" is ignored'] },
  'default.yaml': { valid: true },
  'existing-secret.yaml': { noConfigSecret: true },
  'jwe.yaml': { valid: true },
  'metrics-servicemonitor.yaml': { valid: true },
  'multicluster.yaml': { valid: true },
  'oauth-broker.yaml': { valid: true },
  'oauth-resource-server.yaml': { valid: true },
  'read-only-analyst.yaml': { valid: true },
};

beforeAll(() => {
  helmBinary();
}, 120_000);

describe('chart tooling', () => {
  it('scripts/install-helm.sh provides helm 3.17', async () => {
    const r = await helm(['version', '--short']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^v3\.17\./);
  });

  it('appVersion is the package.json version', () => {
    const chart = parseYaml(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { appVersion: string; name: string };
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(chart.name).toBe('clickhouse-mcp-gateway');
    expect(chart.appVersion).toBe(pkg.version);
  });

  it('every example has an expected check-config outcome', () => {
    expect(EXAMPLES).toEqual(Object.keys(EXPECTED_CHECK).sort());
  });
});

describe('helm lint and helm template', () => {
  it.each([['(defaults)'], ...EXAMPLES.map((f) => [f])])('%s: lint, lint --strict and template succeed', async (name) => {
    const files = name === '(defaults)' ? [] : ['-f', example(name)];
    const [lint, strict, template] = await Promise.all([
      helm(['lint', CHART_DIR, ...files]),
      helm(['lint', '--strict', CHART_DIR, ...files]),
      helm(['template', 'gw', CHART_DIR, ...files]),
    ]);
    expect(lint.stdout + lint.stderr).toContain('0 chart(s) failed');
    expect(lint.code).toBe(0);
    expect(strict.stdout + strict.stderr).toContain('0 chart(s) failed');
    expect(strict.code).toBe(0);
    expect(template.stderr).toBe('');
    expect(template.code).toBe(0);
  });
});

describe('rendered Deployment (defaults)', () => {
  let objects: K8sObject[];
  let container: K8sObject;
  let podSpec: K8sObject;
  beforeAll(async () => {
    objects = await renderChart();
    container = gatewayContainer(objects);
    podSpec = mustFind(objects, 'Deployment').spec.template.spec;
  });

  it('runs the gateway with upstream-compatible args and the mounted config path', () => {
    expect(container.args).toEqual(['clickhouse-mcp-gateway', '--config', CONFIG_PATH]);
    const mount = container.volumeMounts.find((m: K8sObject) => m.name === 'config');
    expect(mount).toMatchObject({ mountPath: '/etc/altinity-mcp', readOnly: true });
    expect(mount.subPath).toBeUndefined();
    const volume = podSpec.volumes.find((v: K8sObject) => v.name === 'config');
    expect(volume.secret).toMatchObject({ secretName: 'gw-clickhouse-mcp-gateway', items: [{ key: 'config.yaml', path: 'config.yaml' }] });
    expect(`${mount.mountPath}/${volume.secret.items[0].path}`).toBe(CONFIG_PATH);
  });

  it('exposes port http 8080 and the Service targets it', () => {
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    const service = mustFind(objects, 'Service');
    expect(service.spec.ports).toEqual([{ port: 8080, targetPort: 'http', protocol: 'TCP', name: 'http' }]);
    expect(service.spec.selector).toEqual(mustFind(objects, 'Deployment').spec.selector.matchLabels);
  });

  it('probes /livez (liveness, startup) and /readyz (readiness) on port http', () => {
    expect(container.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'http', scheme: 'HTTP' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http', scheme: 'HTTP' });
    expect(container.startupProbe.httpGet).toEqual({ path: '/livez', port: 'http', scheme: 'HTTP' });
    expect(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold).toBeGreaterThanOrEqual(30);
  });

  it('is hardened: non-root, no privilege escalation, ALL capabilities dropped, read-only root, seccomp, /tmp emptyDir', () => {
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(podSpec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(podSpec.volumes.find((v: K8sObject) => v.name === 'tmp').emptyDir).toBeDefined();
    expect(podSpec.automountServiceAccountToken).toBe(false);
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits.memory).toBeDefined();
  });

  it('gives SIGTERM draining more time than server.shutdown_timeout (10 s)', () => {
    expect(podSpec.terminationGracePeriodSeconds).toBeGreaterThan(10);
  });

  it('wires metrics.enabled (default false) as MCP_METRICS_ENABLED and renders no ServiceMonitor', () => {
    expect(container.env).toEqual([{ name: 'MCP_METRICS_ENABLED', value: 'false' }]);
    expect(findObject(objects, 'ServiceMonitor')).toBeUndefined();
  });

  it('has a PodDisruptionBudget, a helm test hook on /readyz, no NetworkPolicy, HPA or Ingress by default', () => {
    expect(mustFind(objects, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1 });
    const testPod = mustFind(objects, 'Pod');
    expect(testPod.metadata.annotations['helm.sh/hook']).toBe('test');
    expect(testPod.spec.containers[0].env).toContainEqual({ name: 'READYZ_URL', value: 'http://gw-clickhouse-mcp-gateway:8080/readyz' });
    expect(testPod.spec.containers[0].args[0]).toBe('node');
    for (const kind of ['NetworkPolicy', 'HorizontalPodAutoscaler', 'Ingress', 'ServiceMonitor', 'PrometheusRule', 'ConfigMap']) {
      expect(findObject(objects, kind), kind).toBeUndefined();
    }
  });

  it('annotates the pod with checksum/config of the rendered Secret, so a config change rolls the pods', async () => {
    const checksum = mustFind(objects, 'Deployment').spec.template.metadata.annotations['checksum/config'];
    expect(checksum).toMatch(/^[0-9a-f]{64}$/);
    const changed = await renderChart([], ['config.clickhouse.host=other.example']);
    expect(mustFind(changed, 'Deployment').spec.template.metadata.annotations['checksum/config']).not.toBe(checksum);
    const sameAgain = await renderChart();
    expect(mustFind(sameAgain, 'Deployment').spec.template.metadata.annotations['checksum/config']).toBe(checksum);
  });
});

describe('rendered objects for the examples', () => {
  it('an altinity-mcp values file unchanged: /health readiness, its timings, and still hardened', async () => {
    const objects = await renderChart([example('altinity-defaults-health-probe.yaml')]);
    const container = gatewayContainer(objects);
    expect(container.readinessProbe).toMatchObject({ httpGet: { path: '/health', port: 'http' }, initialDelaySeconds: 7, periodSeconds: 30 });
    expect(container.livenessProbe).toMatchObject({ httpGet: { path: '/livez', port: 'http' }, initialDelaySeconds: 7, periodSeconds: 30 });
    // `securityContext: {}` and `resources: {}` in the user's file merge with (do not erase) the hardened defaults.
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    expect(container.resources.limits.memory).toBeDefined();
  });

  it('existingSecret: the config comes from the named Secret and key, no config Secret or checksum is rendered', async () => {
    const objects = await renderChart([example('existing-secret.yaml')]);
    const deployment = mustFind(objects, 'Deployment');
    const volume = deployment.spec.template.spec.volumes.find((v: K8sObject) => v.name === 'config');
    expect(volume.secret).toMatchObject({ secretName: 'mcp-gateway-config', items: [{ key: 'gateway.yaml', path: 'config.yaml' }] });
    expect(findObject(objects, 'Secret')).toBeUndefined();
    expect(deployment.spec.template.metadata.annotations?.['checksum/config']).toBeUndefined();
    const container = gatewayContainer(objects);
    expect(container.args).toEqual(['clickhouse-mcp-gateway', '--config', CONFIG_PATH, '--config-reload-time', '30']);
    expect(container.env).toContainEqual({ name: 'CLICKHOUSE_PASSWORD', valueFrom: { secretKeyRef: { name: 'clickhouse-credentials', key: 'password' } } });
  });

  it('each secret comes from its existing Secret as env, after MCP_METRICS_ENABLED and before the user env', async () => {
    const objects = await renderChart(
      [],
      [
        'secrets.clickhousePassword.existingSecret=ch',
        'secrets.jweSecretKey.existingSecret=jwe',
        'secrets.jwtSecretKey.existingSecret=jwe',
        'secrets.oauthClientSecret.existingSecret=oauth',
        'secrets.oauthSigningSecret.existingSecret=oauth',
        'secrets.oauthSigningSecret.key=sign',
        'env[0].name=LOG_LEVEL',
        'env[0].value=debug',
      ],
    );
    const env = gatewayContainer(objects).env as K8sObject[];
    expect(env.map((e) => e.name)).toEqual([
      'MCP_METRICS_ENABLED',
      'CLICKHOUSE_PASSWORD',
      'MCP_JWE_SECRET_KEY',
      'MCP_JWT_SECRET_KEY',
      'MCP_OAUTH_CLIENT_SECRET',
      'MCP_OAUTH_SIGNING_SECRET',
      'LOG_LEVEL',
    ]);
    expect(env.find((e) => e.name === 'MCP_OAUTH_SIGNING_SECRET')).toEqual({ name: 'MCP_OAUTH_SIGNING_SECRET', valueFrom: { secretKeyRef: { name: 'oauth', key: 'sign' } } });
    expect(env.find((e) => e.name === 'CLICKHOUSE_PASSWORD')?.valueFrom.secretKeyRef).toEqual({ name: 'ch', key: 'password' });
  });

  it('ServiceMonitor renders only when metrics.enabled and metrics.serviceMonitor.enabled are both on', async () => {
    for (const [metrics, sm] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const objects = await renderChart([], [`metrics.enabled=${metrics}`, `metrics.serviceMonitor.enabled=${sm}`]);
      expect(gatewayContainer(objects).env[0]).toEqual({ name: 'MCP_METRICS_ENABLED', value: String(metrics) });
      expect(findObject(objects, 'ServiceMonitor') !== undefined, `metrics=${metrics} serviceMonitor=${sm}`).toBe(metrics && sm);
    }
    const objects = await renderChart([example('metrics-servicemonitor.yaml')]);
    const sm = mustFind(objects, 'ServiceMonitor');
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.metadata.labels.release).toBe('kube-prometheus-stack');
    expect(sm.spec.endpoints).toEqual([{ port: 'http', path: '/metrics', scheme: 'http', interval: '15s', scrapeTimeout: '10s' }]);
    expect(sm.spec.selector.matchLabels).toEqual(mustFind(objects, 'Deployment').spec.selector.matchLabels);
    const tls = await renderChart([], ['metrics.enabled=true', 'metrics.serviceMonitor.enabled=true', 'config.server.tls.enabled=true']);
    expect(mustFind(tls, 'ServiceMonitor').spec.endpoints[0].scheme).toBe('https');
    expect(gatewayContainer(tls).readinessProbe.httpGet.scheme).toBe('HTTPS');
  });

  it('NetworkPolicy: ingress to port http from the given peers; egress only DNS, ClickHouse and extra rules', async () => {
    const objects = await renderChart([example('read-only-analyst.yaml')]);
    const policy = mustFind(objects, 'NetworkPolicy');
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress[0].ports).toEqual([{ port: 'http', protocol: 'TCP' }]);
    expect(policy.spec.ingress[0].from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name']).toBe('ingress-nginx');
    expect(policy.spec.egress).toHaveLength(2);
    expect(policy.spec.egress[0].ports).toEqual([
      { port: 53, protocol: 'UDP' },
      { port: 53, protocol: 'TCP' },
    ]);
    expect(policy.spec.egress[1].ports).toEqual([{ port: 8443, protocol: 'TCP' }]);
    const oauth = mustFind(await renderChart([example('oauth-resource-server.yaml')]), 'NetworkPolicy');
    expect(oauth.spec.egress[1].ports).toEqual([{ port: 8123, protocol: 'TCP' }]);
    expect(oauth.spec.egress[1].to).toBeUndefined();
    expect(oauth.spec.egress[2].ports).toEqual([{ port: 443, protocol: 'TCP' }]);
  });

  it('autoscaling replaces the fixed replica count with an HPA', async () => {
    const objects = await renderChart([], ['autoscaling.enabled=true', 'autoscaling.maxReplicas=5', 'autoscaling.targetMemoryUtilizationPercentage=70']);
    expect(mustFind(objects, 'Deployment').spec.replicas).toBeUndefined();
    const hpa = mustFind(objects, 'HorizontalPodAutoscaler');
    expect(hpa.spec).toMatchObject({ minReplicas: 1, maxReplicas: 5 });
    expect(hpa.spec.metrics.map((m: K8sObject) => m.resource.name)).toEqual(['cpu', 'memory']);
  });
});

describe('values.schema.json refuses typos', () => {
  it.each([
    ['replicaCont=2', 'Additional property replicaCont is not allowed'],
    ['probes.readiness.pathh=/readyz', 'Additional property pathh is not allowed'],
    ['metrics.serviceMonitor.enable=true', 'Additional property enable is not allowed'],
    ['config.clickhose.host=x', 'Additional property clickhose is not allowed'],
    ['service.port=99999', 'service.port'],
    ['executable=sh', 'executable'],
  ])('helm template --set %s fails', async (set, message) => {
    const r = await helm(['template', 'gw', CHART_DIR, '--set', set]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('values don\'t meet the specifications of the schema');
    expect(r.stderr).toContain(message);
  });

  it('a PrometheusRule without metrics is refused with a sentence', async () => {
    const r = await helm(['template', 'gw', CHART_DIR, '--set', 'prometheusRule.enabled=true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('prometheusRule.enabled needs metrics.enabled: true');
  });
});

describe('the rendered config Secret, fed to check-config (as boot validates it)', () => {
  it('the chart defaults are accepted without warnings', async () => {
    const objects = await renderChart();
    const r = checkConfig(renderedConfigFile(objects), containerEnv(gatewayContainer(objects)));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('configuration is valid (<file>, env and flags)\n');
    expect(r.code).toBe(0);
  });

  it.each(EXAMPLES.filter((f) => !('noConfigSecret' in EXPECTED_CHECK[f]!)))('%s', async (name) => {
    const objects = await renderChart([example(name)]);
    const configText = renderedConfigFile(objects);
    const r = checkConfig(configText, containerEnv(gatewayContainer(objects)));
    const expected = EXPECTED_CHECK[name]!;
    if ('refused' in expected) {
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(expected.refused);
      expect(r.code).toBe(2);
    } else {
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe([...(('warnings' in expected && expected.warnings) || []), 'configuration is valid (<file>, env and flags)', ''].join('\n'));
      expect(r.code).toBe(0);
    }
  });

  it('a wrong value is refused with boot\'s message', async () => {
    const objects = await renderChart([example('default.yaml')], ['config.clickhouse.port=99999']);
    const r = checkConfig(renderedConfigFile(objects), containerEnv(gatewayContainer(objects)));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('configuration error:\n  - clickhouse.port: got 99999, expected an integer from 1 to 65535 (from the config file)\n');
  });

  it('JWE needs its key: without the Secret env the rendered config alone is refused for the missing key', async () => {
    const objects = await renderChart([example('jwe.yaml')]);
    const r = checkConfig(renderedConfigFile(objects));
    expect(r.stderr).toBe(notYet('server.jwe.enabled: JWE encryption is enabled but no JWE secret key is provided'));
  });
});

describe('chart README', () => {
  it('documents every key of values.yaml', () => {
    const values = parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
    const keys: string[] = [];
    const walk = (node: unknown, prefix: string) => {
      if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
      for (const [k, v] of Object.entries(node)) {
        const path = prefix ? `${prefix}.${k}` : k;
        keys.push(path);
        walk(v, path);
      }
    };
    walk(values, '');
    expect(keys.length).toBeGreaterThan(100);
    const missing = keys.filter((k) => !readme.includes(`\`${k}\``));
    expect(missing).toEqual([]);
  });
});
