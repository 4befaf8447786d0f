/**
 * Makes a new API key: prints the key (give it to the service, once) and the entry for
 * JOBQL_API_KEYS (the server keeps only its hash). `npm run api-key -- <name> [admin]`.
 */
import { newApiKey } from '../src/auth/api-keys.ts';

const [name, role] = process.argv.slice(2);
if (!name || !/^[A-Za-z0-9_.-]{1,64}$/.test(name) || (role !== undefined && role !== 'admin')) {
  console.error('usage: npm run api-key -- <name> [admin]   (name: letters, digits, _ . -)');
  process.exit(64);
}
const { key, entry } = newApiKey(name, role === 'admin');
console.log(`key (give this to the client; it is not stored):\n  ${key}`);
console.log(`entry for JOBQL_API_KEYS (comma-separate several):\n  ${entry}`);
