/**
 * The wait after failed attempt `attempt` (1-based): exponential backoff with full jitter, a
 * uniformly random time in [0, min(max, initial · 2^(attempt-1))). The jitter spreads the
 * retries of many deliveries that failed together (a receiver's outage), so they do not return
 * in step the moment it comes back.
 */
export function backoffDelayMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  // 2^40 of anything is past any cap; the bound keeps the arithmetic finite.
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40));
  return Math.floor(random() * ceiling);
}
