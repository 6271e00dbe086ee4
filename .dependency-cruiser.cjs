/**
 * Import rules of the service, checked by `npm run deps` (part of `npm test`).
 *
 * Layers, lowest first: src/shared and src/clinical (pure) → src/cards (pure) → src/fhir →
 * src/cds-hooks (the protocol) → src/storage, src/http → cds-services/ → src/app.ts, src/server.ts
 * (the composition root). The rules below are per file; scripts/check-deps.ts adds the folder
 * level: no cycle between folders.
 *
 * Type-only imports are included everywhere (tsPreCompilationDeps): a type import is still a
 * dependency of the design, so it may not close a cycle either.
 */
/** The pure code: the engine, the cards, and the shared constants both use. Also runs in the browser. */
const PURE = '^src/(clinical|cards|shared)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycle between files (type-only imports included: they are part of the design too).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'pure-no-node-builtins',
      severity: 'error',
      comment:
        'src/clinical, src/cards and src/shared are pure: no Node built-in (they also run in the browser, in the SMART app).',
      from: { path: PURE },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'pure-no-io',
      severity: 'error',
      comment:
        'Pure code does no I/O: no express, no logger, no database, no HTTP client, no storage, HTTP or FHIR access layer.',
      from: { path: PURE },
      to: {
        path: [
          '^node_modules/(express|pino|pg|better-sqlite3|jose|prom-client|fhir-kit-client)/',
          '^src/(storage|http)/',
          '^src/fhir/gateway',
        ],
      },
    },
    {
      name: 'pure-only-protocol-types',
      severity: 'error',
      comment: "Of src/cds-hooks, pure code may use the protocol's types (schemas.ts) and nothing else.",
      from: { path: PURE },
      to: { path: '^src/cds-hooks/', pathNot: '^src/cds-hooks/schemas\\.ts$' },
    },
    {
      name: 'pure-protocol-types-only',
      severity: 'error',
      comment:
        "Pure code imports src/cds-hooks/schemas.ts with `import type` only (zod schemas are the protocol edge's business).",
      from: { path: PURE },
      to: { path: '^src/cds-hooks/schemas\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-demo-outside-composition-root',
      severity: 'error',
      comment:
        'The demo (synthetic patients, embedded FHIR server) is wired in by src/app.ts and src/server.ts only (tests may use it too).',
      from: { pathNot: ['^src/(app|server)\\.ts$', '^src/demo/'] },
      to: { path: '^src/demo/' },
    },
    {
      name: 'services-only-in-composition-root',
      severity: 'error',
      comment: 'cds-services/ sits on top of src/: only src/server.ts, which starts the service, imports it.',
      from: { path: '^src/', pathNot: '^src/server\\.ts$' },
      to: { path: '^cds-services/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^src/smart-app/dist/', '^dist/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types'],
    },
  },
};
