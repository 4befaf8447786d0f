import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../core/principal.ts';

/**
 * Static API keys for services. The server holds only their SHA-256 hashes (a key is 256 random
 * bits, so a fast hash is enough: nothing to brute-force), configured as `name:hash[:admin]`.
 */
export interface ApiKeyEntry {
  name: string;
  hash: Buffer;
  admin: boolean;
}

const PREFIX = 'jq_';
const ENTRY = /^([A-Za-z0-9_.-]{1,64}):([0-9a-f]{64})(?::(admin))?$/;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new key and the entry to configure for it (`npm run api-key -- <name> [admin]`). */
export function newApiKey(name: string, admin: boolean): { key: string; entry: string } {
  const key = PREFIX + randomBytes(32).toString('base64url');
  return { key, entry: `${name}:${hashApiKey(key)}${admin ? ':admin' : ''}` };
}

/** Parses `JOBQL_API_KEYS`; throws with the offending entry's position, never its text. */
export function parseApiKeys(entries: readonly string[]): ApiKeyEntry[] {
  const names = new Set<string>();
  return entries.map((entry, i) => {
    const match = ENTRY.exec(entry);
    if (!match) throw new Error(`entry ${i + 1} is not name:sha256-hex[:admin]`);
    const [, name = '', hash = '', admin] = match;
    if (names.has(name)) throw new Error(`entry ${i + 1} repeats the name ${name}`);
    names.add(name);
    return { name, hash: Buffer.from(hash, 'hex'), admin: admin === 'admin' };
  });
}

/** The principal of a presented key, or null. Compares every entry in constant time. */
export function verifyApiKey(entries: readonly ApiKeyEntry[], presented: string): Principal | null {
  const hash = createHash('sha256').update(presented, 'utf8').digest();
  let found: ApiKeyEntry | null = null;
  for (const entry of entries) if (timingSafeEqual(entry.hash, hash)) found = entry;
  return found ? { id: `key:${found.name}`, admin: found.admin, expiresAt: null } : null;
}
