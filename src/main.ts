/**
 * Entry point. DuckDB runs queries on libuv's thread pool, which Node sizes (default 4) the first
 * time it is used, so the size is raised here, before any module that might touch the pool loads.
 */
process.env['UV_THREADPOOL_SIZE'] ??= '16';

const { run } = await import('./run.ts');
await run();
