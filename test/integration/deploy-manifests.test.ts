/**
 * The Kubernetes manifests of deploy/ (kustomize), kept true:
 *  - every object validates against the Kubernetes OpenAPI schemas (npm `kubernetes-models`,
 *    whose classes' validate() check required fields, types and enums; unknown fields are not
 *    flagged by it);
 *  - the security and availability settings the issue asks for are there;
 *  - the ConfigMaps are what the service accepts: the env file and the hospital files pass the
 *    service's own configuration parser and clinical loader;
 *  - every environment variable the service reads, the manifests set or the Dockerfile sets is
 *    in the README's configuration table;
 *  - every metric the Grafana dashboard queries is one the service exports.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import request from 'supertest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { loadClinicalContext } from '../../src/profiles.js';
import { SqliteAuditStore } from '../../src/storage/audit-store.js';
import { SqliteFeedbackStore } from '../../src/storage/sqlite.js';
import { buildTestApp } from '../helpers/app.js';

const DEPLOY = join(process.cwd(), 'deploy');
const read = (file: string): string => readFileSync(join(DEPLOY, file), 'utf8');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  [key: string]: unknown;
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
};

const kustomization = parse(read('kustomization.yaml')) as {
  resources: string[];
  configMapGenerator: { name: string; envs?: string[]; files?: string[] }[];
};
const objects: K8sObject[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(read(file)).map((d) => d.toJS() as K8sObject),
);
const envFile = Object.fromEntries(
  read('service.env')
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);
/** The ConfigMaps kustomize generates, built the same way (env file → keys, files → keys). */
const generated: K8sObject[] = kustomization.configMapGenerator.map((g) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: g.name },
  data: g.envs ? envFile : Object.fromEntries((g.files ?? []).map((f) => [f.split('/').pop() ?? f, read(f)])),
}));
const secretExample = parse(read('secret.example.yaml')) as K8sObject;
const byKind = (kind: string): K8sObject => {
  const found = objects.find((o) => o.kind === kind);
  if (!found) throw new Error(`no ${kind} in deploy/`);
  return found;
};
const deployment = byKind('Deployment') as unknown as {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      spec: {
        securityContext: Record<string, unknown>;
        containers: {
          env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
          resources: { requests: Record<string, string>; limits: Record<string, string> };
          securityContext: Record<string, unknown>;
          startupProbe: { httpGet: { path: string } };
          livenessProbe: { httpGet: { path: string } };
          readinessProbe: { httpGet: { path: string } };
        }[];
      };
    };
  };
};
const container = deployment.spec.template.spec.containers[0];

describe('deploy/ manifests', () => {
  test.each([...objects, ...generated, secretExample].map((o) => [`${o.kind} ${o.metadata.name}`, o] as const))(
    '%s validates against the Kubernetes schema',
    (_name, object) => {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(Model).toBeDefined();
      expect(() => new (Model as new (data: K8sObject) => { validate(): void })(object).validate()).not.toThrow();
    },
  );

  test('the Deployment runs as non-root, read-only, without privilege escalation, with probes and sized resources', () => {
    expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(container?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container?.startupProbe.httpGet.path).toBe('/healthz');
    expect(container?.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container?.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container?.resources).toEqual({
      requests: { cpu: '500m', memory: '256Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    });
  });

  test('DATABASE_URL, ADMIN_TOKEN and the trusted issuers come from a Secret, never from the manifests', () => {
    const secretRefs = Object.fromEntries(
      (container?.env ?? []).filter((e) => e.valueFrom?.secretKeyRef).map((e) => [e.name, e.valueFrom?.secretKeyRef]),
    );
    expect(Object.keys(secretRefs).sort()).toEqual(['ADMIN_TOKEN', 'CDS_TRUSTED_ISSUERS', 'DATABASE_URL']);
    for (const name of ['DATABASE_URL', 'ADMIN_TOKEN', 'CDS_TRUSTED_ISSUERS']) expect(envFile[name]).toBeUndefined();
  });

  test('Service, HPA and PodDisruptionBudget point at the Deployment; the PDB keeps two pods of at least three', () => {
    const labels = deployment.spec.selector.matchLabels;
    expect((byKind('Service') as unknown as { spec: { selector: unknown } }).spec.selector).toEqual(labels);
    const pdb = byKind('PodDisruptionBudget') as unknown as { spec: { minAvailable: number; selector: unknown } };
    expect(pdb.spec.selector).toEqual({ matchLabels: labels });
    const hpa = byKind('HorizontalPodAutoscaler') as unknown as {
      spec: { scaleTargetRef: { name: string }; minReplicas: number };
    };
    expect(hpa.spec.scaleTargetRef.name).toBe(byKind('Deployment').metadata.name);
    expect(hpa.spec.minReplicas).toBeGreaterThan(pdb.spec.minAvailable);
  });

  test('the NetworkPolicy lets out only DNS, PostgreSQL and HTTPS to the listed FHIR/JWKS addresses', () => {
    const policy = byKind('NetworkPolicy') as unknown as {
      spec: { policyTypes: string[]; egress: { to: unknown[]; ports: { port: number; protocol: string }[] }[] };
    };
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const ports = policy.spec.egress.flatMap((e) => e.ports.map((p) => `${p.port}/${p.protocol}`));
    expect(new Set(ports)).toEqual(new Set(['443/TCP', '5432/TCP', '53/TCP', '53/UDP']));
    expect(policy.spec.egress.every((e) => e.to.length > 0)).toBe(true);
  });

  test("the env ConfigMap, the Secret's shape and the hospital files pass the service's own configuration and clinical loaders", () => {
    const secret = (secretExample as unknown as { stringData: Record<string, string> }).stringData;
    const config = loadConfig({
      ...envFile,
      THRESHOLDS_FILE: join(DEPLOY, 'hospital/thresholds.yaml'),
      LOCAL_CODES_FILE: join(DEPLOY, 'hospital/local-codes.yaml'),
      DATABASE_URL: secret['database-url'],
      ADMIN_TOKEN: secret['admin-token'],
      CDS_TRUSTED_ISSUERS: secret['cds-trusted-issuers'],
    });
    expect(config).toMatchObject({ host: '0.0.0.0', hostExplicit: true, trustProxy: true });
    const clinical = loadClinicalContext(config);
    expect(clinical.thresholds.overridden.size).toBeGreaterThan(0);
  });

  test('every environment variable the service reads, the manifests set or the Dockerfile sets is in the README configuration table', () => {
    const readme = readFileSync('README.md', 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'));
    const documented = new Set([...table.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));
    const source = readFileSync('src/config.ts', 'utf8');
    const schema = source.slice(source.indexOf('const envSchema'), source.indexOf('export interface Config'));
    const read = [...schema.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]);
    const docker = [...readFileSync('Dockerfile', 'utf8').matchAll(/^\s*(?:ENV\s+)?([A-Z][A-Z0-9_]+)=/gm)].map(
      (m) => m[1],
    );
    const manifests = [...Object.keys(envFile), ...(container?.env ?? []).map((e) => e.name)].filter(
      (n) => n !== 'NODE_OPTIONS',
    );
    expect(read.length).toBeGreaterThan(30);
    const missing = [...new Set([...read, ...docker, ...manifests])].filter(
      (name) => name && !['NODE_ENV'].includes(name) && !documented.has(name),
    );
    expect(missing).toEqual([]);
  });

  test('every metric the Grafana dashboard queries is exported by the service', async () => {
    const dashboard = JSON.parse(read('grafana-dashboard.json')) as { panels: { targets: { expr: string }[] }[] };
    const queried = new Set(
      dashboard.panels
        .flatMap((p) => p.targets.map((t) => t.expr))
        .flatMap((e) => [...e.matchAll(/\b((?:cds|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1] ?? ''))
        .map((n) => n.replace(/_(bucket|count|sum)$/, '')),
    );
    const store = new SqliteFeedbackStore(':memory:');
    await store.init();
    const { app } = buildTestApp({
      overrides: { feedback: store, audit: new SqliteAuditStore(() => store.bookkeeping()) },
    });
    const exported = (await request(app).get('/metrics')).text;
    await store.close();
    const types = new Set([...exported.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    expect([...queried].filter((name) => !types.has(name))).toEqual([]);
    expect(queried.size).toBeGreaterThanOrEqual(12);
  });
});
