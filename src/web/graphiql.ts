import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * GraphiQL served by jobql itself: yoga's own GraphiQL build (@graphql-yoga/render-graphiql, the
 * npm package) split into files this server sends, so the page loads nothing from a CDN, works
 * offline, and runs under a Content-Security-Policy without inline scripts (the package's own
 * renderer inlines 6 MB of script and makes its workers from blobs).
 */
export const GRAPHIQL_ASSETS = '/graphiql/';

/** The page's policy: its scripts, styles, workers and fonts from this server; requests to it only. */
export const GRAPHIQL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // Monaco and GraphiQL set style attributes at run time.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "worker-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

/** A file of the page: its bytes, type and an ETag, so a reload costs a 304. */
interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** What the page starts GraphiQL with (yoga's GraphiQLOptions, the parts jobql sets). */
export interface GraphiQLPageOptions {
  endpoint: string;
  title: string;
  subscriptionsProtocol: 'WS' | 'SSE';
  defaultHeaders?: string;
  defaultTabs: { query: string; variables?: string }[];
}

const START = `
const options = JSON.parse(document.getElementById('graphiql-options').textContent);
self.MonacoEnvironment = {
  globalAPI: false,
  getWorkerUrl: (_moduleId, label) => '${GRAPHIQL_ASSETS}worker-' + label + '.js',
};
YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), options);
`;

/** The HTML of the GraphiQL page: links to the assets and the options as data (not script). */
export function graphiqlPage(options: GraphiQLPageOptions): string {
  // JSON in a data block: `<` escaped so no text in it can end the element.
  const data = JSON.stringify(options).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(options.title)}</title>
    <link rel="icon" href="${GRAPHIQL_ASSETS}favicon.ico" />
    <link rel="stylesheet" href="${GRAPHIQL_ASSETS}graphiql.css" />
  </head>
  <body>
    <noscript>GraphiQL needs JavaScript.</noscript>
    <div id="root" style="height: 100vh"></div>
    <script type="application/json" id="graphiql-options">${data}</script>
    <script src="${GRAPHIQL_ASSETS}graphiql.js"></script>
    <script src="${GRAPHIQL_ASSETS}start.js"></script>
  </body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The assets under /graphiql/. The package's 6 MB module is loaded on the first request for one
 * (a server whose users never open GraphiQL never pays for it) and kept by this instance.
 */
export class GraphiQLAssets {
  #assets: Promise<Map<string, Asset>> | null = null;

  /** Answers a request under /graphiql/; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
    if (!pathname.startsWith(GRAPHIQL_ASSETS)) return false;
    void this.#serve(req, res, pathname.slice(GRAPHIQL_ASSETS.length));
    return true;
  }

  async #serve(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const asset = (await this.#load()).get(name);
    if (!asset) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found');
      return;
    }
    const headers = {
      'content-type': asset.type,
      etag: asset.etag,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': asset.body.length });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  }

  #load(): Promise<Map<string, Asset>> {
    this.#assets ??= import('@graphql-yoga/render-graphiql/graphiql').then((m) => {
      const js = 'text/javascript; charset=utf-8';
      const icon = m.favicon.slice(m.favicon.indexOf(',') + 1);
      const files: [string, string | Buffer, string][] = [
        ['graphiql.js', m.js, js],
        ['graphiql.css', m.css, 'text/css; charset=utf-8'],
        ['start.js', START, js],
        ['worker-editorWorkerService.js', m.editorWorkerService, js],
        ['worker-json.js', m.jsonWorker, js],
        ['worker-graphql.js', m.graphqlWorker, js],
        ['favicon.ico', Buffer.from(icon, 'base64'), 'image/x-icon'],
      ];
      return new Map(
        files.map(([name, content, type]) => {
          const body = Buffer.isBuffer(content) ? content : Buffer.from(content);
          const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
          return [name, { body, type, etag }];
        }),
      );
    });
    return this.#assets;
  }
}
