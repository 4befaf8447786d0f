/**
 * Waiting for a condition instead of sleeping a fixed time: a test goes on as soon as the thing it
 * waits for has happened, and fails with what it waited for when it does not happen in time.
 * Prefer an explicit signal (a deferred resolved by the event, the first message of a
 * subscription; bound it with `within`) where the code offers one; poll a state with `waitFor`
 * where it offers only that (a counter, a job's status through the API).
 *
 * Both use real timers: not for code under node:test's mock timers (tick those instead).
 */

/** What `waitFor` throws when the condition did not hold in time. */
export class WaitForTimeout extends Error {
  override name = 'WaitForTimeout';
}

export interface WaitForOptions {
  /** How long to keep checking before failing. */
  timeoutMs: number;
  /** Between checks (default 20 ms). */
  intervalMs?: number;
  /** What is awaited, for the failure message; a function can tell what it saw last. */
  what?: string | (() => string);
}

/**
 * Checks `condition` until it returns something other than false, null or undefined, and returns
 * that. It is checked at once, then every `intervalMs`, and once more at the deadline; an error it
 * throws ends the wait at once. Throws WaitForTimeout, naming `what`, after `timeoutMs`.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions,
): Promise<Exclude<T, false | null | undefined>> {
  const { timeoutMs, intervalMs = 20, what = 'the condition' } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== false && value !== null && value !== undefined) return value as Exclude<T, false | null | undefined>;
    const left = deadline - Date.now();
    if (left <= 0) throw new WaitForTimeout(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, left)));
  }
}

/**
 * Awaits `promise` (say, a deferred that the awaited event resolves), failing with WaitForTimeout,
 * naming `what`, if it has not settled within `timeoutMs`: a missing event fails the test instead
 * of hanging it.
 */
export async function within<T>(promise: Promise<T>, options: { timeoutMs: number; what: string }): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WaitForTimeout(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`)), options.timeoutMs);
  });
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
