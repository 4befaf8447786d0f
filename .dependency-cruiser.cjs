// The layer rules of docs/ARCHITECTURE.md, checked on every `npm run lint`.
// Layers, lowest first; a folder imports only its own files and the layers below it:
//   core
//   auth, events, limits, store, warehouses   (one port each, its adapters beside it)
//   jobs                                      (the application: core and the port files only)
//   config
//   web                                       (the pages: GraphiQL's assets, the console)
//   observability, http
//   graphql
//   cluster
//   app.ts, run.ts, main.ts, logger.ts        (wiring)

const PORTS = [
  '^src/warehouses/warehouse[.]ts$',
  '^src/store/job-store[.]ts$',
  '^src/events/event-bus[.]ts$',
  '^src/limits/submission-limiter[.]ts$',
];
const ADAPTERS = '^src/(warehouses|store|events|limits)/';
const GRAPHQL_PACKAGES = '^node_modules/(graphql|graphql-yoga|graphql-ws|@escape[.]tech/graphql-armor[^/]*|@envelop/[^/]+)/';

/** Forbids a folder to import the folders listed. */
const below = (name, folders, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: `^src/(${folders.from})(/|[.]ts$)` },
  to: { path: `^src/(${folders.to})(/|[.]ts$)` },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles hide which part depends on which.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-only-core',
      comment: 'core/ is the model: no driver, no graphql, no node:http, no other folder.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { pathNot: '^src/core/' },
    },
    {
      name: 'jobs-imports-no-adapter',
      comment: 'The application reaches warehouses, stores, buses and limiters through their ports only.',
      severity: 'error',
      from: { path: '^src/jobs/' },
      to: { pathNot: ['^src/(core|jobs)/', ...PORTS] },
    },
    {
      name: 'only-graphql-imports-graphql',
      comment: 'graphql/ is the one place that speaks GraphQL (and makes GraphQLErrors).',
      severity: 'error',
      from: { pathNot: '^src/graphql/' },
      to: { path: GRAPHQL_PACKAGES },
    },
    {
      name: 'edges-import-no-adapter',
      comment: 'http/ and graphql/ see the ports; which adapter runs is decided by the wiring.',
      severity: 'error',
      from: { path: '^src/(http|graphql|observability)/' },
      to: { path: ADAPTERS, pathNot: PORTS },
    },
    {
      name: 'adapters-stand-alone',
      comment: 'An adapter imports core, its own port and its own folder, never another adapter or layer.',
      severity: 'error',
      from: { path: '^src/(auth|events|limits|store)/' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/$1/'] },
    },
    {
      name: 'notifications-stand-alone',
      comment:
        'notifications/ (completion webhooks: URL checks, signatures, delivery) imports core and its own folder only; ' +
        'config.ts, graphql/ and the wiring use it, jobs/ reaches it through an interface of its own.',
      severity: 'error',
      from: { path: '^src/notifications/' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/notifications/'] },
    },
    {
      name: 'warehouse-adapters-stand-alone',
      comment: 'The DuckDB and Snowflake adapters share only warehouses/*.ts: one never loads the other.',
      severity: 'error',
      from: { path: '^src/warehouses/(duckdb|snowflake)/' },
      to: { path: '^src/(?!core/)', pathNot: ['^src/warehouses/$1/', '^src/warehouses/[^/]+[.]ts$'] },
    },
    {
      name: 'warehouses-import-only-core',
      comment: 'A warehouse knows nothing of the application, the configuration or the edges.',
      severity: 'error',
      from: { path: '^src/warehouses/' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/warehouses/'] },
    },
    {
      name: 'web-imports-only-core',
      comment: 'web/ serves pages and their assets; it knows nothing of jobs, GraphQL or the adapters.',
      severity: 'error',
      from: { path: '^src/web/' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/web/'] },
    },
    below('jobs-below-edges', { from: 'jobs', to: 'config|observability|http|graphql|cluster|app|run|main|logger' }),
    below('config-below-edges', { from: 'config', to: 'observability|http|graphql|cluster|app|run|main' }),
    below('http-below-graphql', { from: 'http', to: 'observability|graphql|cluster|app|run|main' }),
    below('observability-below-graphql', { from: 'observability', to: 'http|graphql|cluster|app|run|main' }),
    below('graphql-below-cluster', { from: 'graphql', to: 'cluster|app|run|main|observability' }),
    below('cluster-below-wiring', { from: 'cluster', to: 'app|run|main|graphql|http' }),
  ],
  options: {
    // TypeScript 7 has no JavaScript API; swc parses the sources, type-only imports included.
    parser: 'swc',
    doNotFollow: { path: 'node_modules' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
