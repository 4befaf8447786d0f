import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

/**
 * The job console: console/ → console/dist, which jobql serves at `/` (src/web/console.ts).
 * `npm run build:console` builds it (and `npm ci` does, through the prepare script).
 *
 * Development: start jobql (`npm start`, port 4000), then `npx vite --config console/vite.config.ts`
 * and open the URL Vite prints; it proxies /graphql (HTTP and the graphql-ws WebSocket) and the
 * downloads under /jobs/ to 127.0.0.1:4000 (`JOBQL_DEV_API` points elsewhere).
 */
const api = process.env['JOBQL_DEV_API'] ?? 'http://127.0.0.1:4000';

/**
 * Writes a .br and a .gz beside every text file of the build, which jobql's static handler (sirv)
 * sends to browsers that accept them: the server compresses nothing at run time.
 */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'jobql-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      const walk = (dir: string): string[] =>
        fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
      for (const file of walk(outDir).filter((f) => /\.(html|js|css|svg)$/.test(f))) {
        const body = fs.readFileSync(file);
        const br = brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
        const gz = gzipSync(body, { level: 9 });
        if (br.length < body.length) fs.writeFileSync(`${file}.br`, br);
        if (gz.length < body.length) fs.writeFileSync(`${file}.gz`, gz);
      }
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react(), precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // Every browser that runs the console supports <link rel=modulepreload>: no polyfill.
    modulePreload: { polyfill: false },
    // Assets stay files: the page's policy allows scripts and styles from 'self' only.
    assetsInlineLimit: 0,
  },
  server: {
    proxy: {
      '/graphql': { target: api, ws: true },
      '/jobs/': { target: api },
    },
  },
});
