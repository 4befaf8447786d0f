/**
 * Preloaded (`--import`) into a jobql process by adapter-loading.test.ts: appends every module the
 * process resolves, imported or required, to `<JOBQL_TEST_LOADS_DIR>/<pid>.log` as
 * `<url> <- <importer>`, and every native addon it opens as `dlopen <path>` (addons skip the module
 * hooks). Synchronous appends, so the file is complete however the process ends. Does nothing
 * without JOBQL_TEST_LOADS_DIR.
 */
import fs from 'node:fs';
import { registerHooks } from 'node:module';
import path from 'node:path';

const dir = process.env['JOBQL_TEST_LOADS_DIR'];
if (dir) {
  const file = path.join(dir, `${process.pid}.log`);
  const record = (line: string): void => fs.appendFileSync(file, `${line}\n`);
  record(`argv ${process.argv.slice(1).join(' ')}`);
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      record(`${resolved.url} <- ${context.parentURL ?? '(entry)'}`);
      return resolved;
    },
  });
  const dlopen = process.dlopen.bind(process);
  process.dlopen = (module: { exports: unknown }, filename: string, flags?: number): void => {
    record(`dlopen ${filename}`);
    if (flags === undefined) dlopen(module, filename);
    else dlopen(module, filename, flags);
  };
}
