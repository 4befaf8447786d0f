/**
 * Fails when a committed output of codegen.ts no longer matches schema.graphql and the documents:
 * every entry of its `generates` (a file such as src/graphql/generated.ts, or a directory such as
 * the console's console/src/gql/) is regenerated in place, compared with what was there, and put
 * back as it was. Run by `npm run lint` (and so `npm test`).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import config from '../codegen.ts';

/** The files of one output and their contents: the file itself, or every file under a directory. */
function snapshot(output: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (file: string): void => {
    if (!fs.existsSync(file)) return;
    if (fs.statSync(file).isDirectory()) {
      for (const entry of fs.readdirSync(file).sort()) walk(path.join(file, entry));
    } else {
      files.set(file, fs.readFileSync(file, 'utf8'));
    }
  };
  walk(output);
  return files;
}

/** Puts the files back as `before` had them, touching only those that differ. */
function restore(before: Map<string, string>, after: Map<string, string>): void {
  for (const file of after.keys()) if (!before.has(file)) fs.rmSync(file);
  for (const [file, content] of before) {
    if (after.get(file) === content) continue;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

const outputs = Object.keys(config.generates);
const before = new Map(outputs.map((output) => [output, snapshot(output)]));
const stale: string[] = [];
try {
  execFileSync('npx', ['graphql-codegen', '--config', 'codegen.ts', '--silent'], { stdio: 'inherit' });
  for (const output of outputs) {
    const was = before.get(output) ?? new Map<string, string>();
    const now = snapshot(output);
    for (const file of new Set([...was.keys(), ...now.keys()])) {
      if (!was.has(file)) stale.push(`${file} is missing`);
      else if (!now.has(file)) stale.push(`${file} is no longer generated`);
      else if (was.get(file) !== now.get(file)) stale.push(`${file} is stale`);
    }
    restore(was, now);
  }
} catch (error) {
  for (const output of outputs) restore(before.get(output) ?? new Map(), snapshot(output));
  throw error;
}
if (stale.length > 0) {
  for (const problem of stale) console.error(problem);
  console.error('Run `npm run codegen` and commit the result.');
  process.exitCode = 1;
} else {
  console.log(`${outputs.join(' and ')} match schema.graphql and the documents`);
}
