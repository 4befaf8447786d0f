import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import sirv from 'sirv';

/** The console's policy: everything from this server, GraphQL over HTTP and WebSocket to it. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

/**
 * The job console (console/, built by Vite into console/dist) at `/`, its hashed assets under
 * `/assets/`. When it has not been built (an install without devDependencies), `/` says how.
 */
export function consolePages(distDir: string): (req: IncomingMessage, res: ServerResponse, pathname: string) => boolean {
  const built = fs.existsSync(path.join(distDir, 'index.html'));
  const files = built
    ? sirv(distDir, {
        etag: true,
        dotfiles: false,
        // The build writes .br and .gz beside each file (console/vite.config.ts).
        brotli: true,
        gzip: true,
        setHeaders: (res, pathname) => {
          res.setHeader('x-content-type-options', 'nosniff');
          // Vite names assets by content hash: they never change under one name.
          const asset = pathname.startsWith('/assets/');
          res.setHeader('cache-control', asset ? 'public, max-age=31536000, immutable' : 'no-cache');
          // The page (`/` or `/index.html`: sirv passes the request's path, not the file's).
          if (!asset) {
            res.setHeader('content-security-policy', CONSOLE_CSP);
            res.setHeader('referrer-policy', 'no-referrer');
          }
        },
      })
    : null;
  return (req, res, pathname) => {
    if (pathname !== '/' && pathname !== '/index.html' && !pathname.startsWith('/assets/')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    if (!files) {
      res
        .writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
        .end('The jobql console is not built: run `npm run build:console` (it needs the devDependencies). The API is at /graphql.\n');
      return true;
    }
    files(req, res, () => {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found');
    });
    return true;
  };
}
