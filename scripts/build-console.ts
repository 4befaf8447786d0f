/**
 * Builds the job console (console/ → console/dist) after `npm ci` / `npm install` (the `prepare`
 * lifecycle script), so the README's `npm ci && npm start` serves it on a fresh clone. An install
 * without devDependencies (`npm ci --omit=dev`) has no Vite: it says so and leaves the build to an
 * earlier stage (see the README's deployment section); the server then serves a page saying how.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
let vite: string;
try {
  // vite's exports map names its package.json, not its bin: find the bin beside it.
  vite = path.join(path.dirname(require.resolve('vite/package.json')), 'bin', 'vite.js');
} catch {
  console.log('jobql: Vite is not installed (devDependencies omitted); the console is not built. Run `npm run build:console` where it is.');
  process.exit(0);
}
const config = path.join(import.meta.dirname, '..', 'console', 'vite.config.ts');
execFileSync(process.execPath, [vite, 'build', '--config', config, '--logLevel', 'warn'], { stdio: 'inherit' });
