/**
 * Shared bits of the randomised batteries: the seed and run counts (from the environment, so a
 * failure can be replayed with the seed it printed), the closed sets of error codes, and a tally
 * for the summary lines that go into docs/SECURITY.md.
 */
import fc from 'fast-check';
import { JobErrorCode, RequestErrorCode } from '../../src/core/errors.ts';

/** A whole number from the environment, or the default when unset or empty. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name}=${raw} is not a whole number`);
  return value;
}

/** A small seeded PRNG (mulberry32) in [0, 1): the same seed gives the same moments and choices. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `BATTERY_SEED` replays a run; every battery prints the seed it used. */
export const BATTERY_SEED = envInt('BATTERY_SEED', 20261124);

export const REQUEST_ERROR_CODES: ReadonlySet<string> = new Set(Object.values(RequestErrorCode));
export const JOB_ERROR_CODES: ReadonlySet<string> = new Set(Object.values(JobErrorCode));

/** Counts by key, printed in a stable order. */
export class Tally {
  readonly counts = new Map<string, number>();
  add(key: string | number, by = 1): void {
    const k = String(key);
    this.counts.set(k, (this.counts.get(k) ?? 0) + by);
  }
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  total(): number {
    let sum = 0;
    for (const v of this.counts.values()) sum += v;
    return sum;
  }
  toString(): string {
    const entries = [...this.counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${k}:${v}`).join(',')}}`;
  }
}

/** Runs `work` over `items` with at most `concurrency` in flight, in order of start. */
export async function pool<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** A string shortened for a failure message: its length and both ends. */
export function preview(value: unknown, max = 300): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  if (text.length <= max) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, max / 2))}…(${text.length} chars)…${JSON.stringify(text.slice(-max / 2))}`;
}

/** Lone surrogates and other characters that trip decoders and lexers. */
export const NASTY_CHARS = ['\u0000', '\ud800', '\udfff', '\ufeff', '\u2028', '\u202e', '\uffff', '\u{1f600}', '\\', '"', "'", '\r', '\u0085'];

/** One change to a tokenised text (a GraphQL document or SQL), applied in place. */
export type TokenMutation = (tokens: string[]) => void;

/** The token mutations both text batteries use: drop, repeat, swap, insert, cut the tail. */
export const tokenMutations = {
  drop: fc.nat().map((i): TokenMutation => (t) => void t.splice(i % Math.max(t.length, 1), 1)),
  repeat: (maxTimes: number, filler: string): fc.Arbitrary<TokenMutation> =>
    fc.tuple(fc.nat(), fc.integer({ min: 1, max: maxTimes })).map(([i, n]): TokenMutation => (t) => {
      const at = i % Math.max(t.length, 1);
      t.splice(at, 0, ...Array<string>(n).fill(t[at] ?? filler));
    }),
  swap: fc.tuple(fc.nat(), fc.nat()).map(([i, j]): TokenMutation => (t) => {
    if (t.length === 0) return;
    const a = i % t.length;
    const b = j % t.length;
    [t[a], t[b]] = [t[b] as string, t[a] as string];
  }),
  insert: (values: readonly string[]): fc.Arbitrary<TokenMutation> =>
    fc.tuple(fc.nat(), fc.constantFrom(...values)).map(([i, v]): TokenMutation => (t) => void t.splice(i % (t.length + 1), 0, v)),
  cut: fc.nat().map((i): TokenMutation => (t) => void t.splice(i % (t.length + 1))),
};
