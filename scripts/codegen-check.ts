/**
 * Fails when src/graphql/generated.ts no longer matches schema.graphql: regenerates it into a
 * temporary copy of the config's output and compares. Run by `npm run lint` (and so `npm test`).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const generated = 'src/graphql/generated.ts';
const before = fs.readFileSync(generated, 'utf8');
try {
  execFileSync('npx', ['graphql-codegen', '--config', 'codegen.ts', '--silent'], { stdio: 'inherit' });
  const after = fs.readFileSync(generated, 'utf8');
  if (after !== before) {
    console.error(`${generated} is stale: run \`npm run codegen\` and commit the result.`);
    process.exitCode = 1;
  } else {
    console.log(`${generated} matches schema.graphql`);
  }
} finally {
  fs.writeFileSync(generated, before);
}
