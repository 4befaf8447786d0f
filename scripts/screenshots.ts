/**
 * Regenerates the README's pictures of the job console and GraphiQL, 1280×800, from a real jobql (embedded
 * DuckDB, a fresh data directory) and the built console, in headless Chromium:
 *
 * - docs/images/console.png: the history, the editor and a result in the grid;
 * - docs/images/console-error.png: a failed job with its error code;
 * - docs/images/console-token.png: a server with auth on asking for a token;
 * - docs/images/graphiql.png: GraphiQL with a job and a page of its result.
 *
 * `node scripts/screenshots.ts` (needs Debian's chromium, like `npm run test:browser`).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { newApiKey } from '../test/helpers/auth.ts';
import { launchBrowser } from '../test/helpers/browser.ts';
import { gqlData } from '../test/helpers/client.ts';
import { startServer } from '../test/helpers/server.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const OUT = path.join(ROOT, 'docs/images');
const VIEWPORT = { width: 1280, height: 800 };

const SUBMIT = 'mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { job { id } } }';

async function submit(url: string, sql: string, tag: string, waitMs = 5000): Promise<string> {
  const data = await gqlData<{ submitQuery: { job: { id: string } } }>(url, SUBMIT, { input: { sql, tag, waitMs } });
  return data.submitQuery.job.id;
}

async function newPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: VIEWPORT, locale: 'en-GB', colorScheme: 'light' });
  await page.goto(url);
  return page;
}

/** Types SQL into the editor and runs it with Ctrl+Enter, as a person would. */
async function run(page: Page, sql: string, tag: string): Promise<void> {
  const form = page.getByRole('form', { name: 'Run SQL' });
  await form.getByLabel('SQL').fill(sql);
  await form.getByLabel('Tag').fill(tag);
  await form.getByLabel('SQL').press('Control+Enter');
}

async function shoot(page: Page, name: string): Promise<void> {
  // Let the last status change and the history refresh settle; no focus ring in the picture.
  await page.waitForTimeout(300);
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.screenshot({ path: path.join(OUT, name) });
  console.log(`wrote docs/images/${name}`);
}

execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-console.ts')], { cwd: ROOT, stdio: 'inherit' });
fs.mkdirSync(OUT, { recursive: true });

const browser = await launchBrowser();
try {
  const server = await startServer();
  try {
    // A history worth showing: a few finished jobs of each kind.
    await submit(server.url, 'select 42 as answer', 'demo');
    await submit(server.url, 'select count(*) as rows from range(1000000) where range % 7 = 0', 'demo');
    await submit(server.url, 'select * from orders', 'reports');
    const long = await submit(server.url, 'select sum(hash(range)) from range(10000000000)', 'reports', 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await gqlData(server.url, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id: long });

    const page = await newPage(browser, `${server.app.url}/`);
    await run(
      page,
      [
        "select range as id, 'item ' || range as name,",
        '  round(range * 1.25, 2)::decimal(10, 2) as price,',
        "  date '2026-01-01' + range::int as day, range % 3 = 0 as flagged",
        'from range(1000)',
      ].join('\n'),
      'demo',
    );
    await page.getByText('Rows 1–100 of 1,000').waitFor({ timeout: 30_000 });
    await shoot(page, 'console.png');

    await run(page, 'select customer, sum(amount) from orders group by customer', 'reports');
    await page.getByRole('alert').filter({ hasText: 'The job failed' }).waitFor({ timeout: 30_000 });
    await shoot(page, 'console-error.png');
    await page.close();

    // GraphiQL, served by jobql itself, with a job and the first rows of its result.
    const shown = await submit(server.url, "select range as n, 'row ' || range as label from range(100)", 'demo');
    const query = `{\n  job(id: ${JSON.stringify(shown)}) {\n    status\n    result(first: 3) {\n      columns { name type }\n      rows\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n}\n`;
    const graphiql = await newPage(browser, `${server.app.url}/graphql?query=${encodeURIComponent(query)}`);
    await graphiql.locator('.graphiql-execute-button').click();
    await graphiql.locator('.graphiql-response').getByText('hasNextPage').waitFor({ timeout: 30_000 });
    await shoot(graphiql, 'graphiql.png');
    await graphiql.close();
  } finally {
    await server.stop();
  }

  const key = newApiKey('console', false);
  const guarded = await startServer({ JOBQL_API_KEYS: key.entry });
  try {
    const page = await newPage(browser, `${guarded.app.url}/`);
    await page.getByLabel('Token', { exact: true }).fill('jq_this-is-not-the-key');
    await page.getByLabel('Token', { exact: true }).press('Enter');
    await page.getByText(/^The token was refused: /).waitFor({ timeout: 30_000 });
    await shoot(page, 'console-token.png');
    await page.close();
  } finally {
    await guarded.stop();
  }
} finally {
  await browser.close();
}
