import type { Warehouse } from '../warehouses/warehouse.ts';
import type { QueryState } from '../core/results.ts';

/**
 * Told of every warehouse status call once it settled: how long it took (seconds), how many query
 * ids it asked about, and whether it threw. For metrics; it must not throw (if it does, the error
 * goes to `onError` and polling carries on).
 */
export type StatusCallObserver = (durationSeconds: number, queries: number, failed: boolean) => void;

export interface PollerOptions {
  warehouse: Pick<Warehouse, 'status' | 'onChange'>;
  /**
   * Delay before each check of a job, by how many checks it already had; the last value repeats.
   * The default mirrors the Snowflake connectors: 0.5 s × 1, 1, 2, 3, 4, 8, 10.
   */
  backoffMs: readonly number[];
  /** Applies what the warehouse said of one job; returns true when the job needs no more checks. */
  onState: (jobId: string, state: QueryState | undefined) => Promise<boolean>;
  onError: (error: unknown) => void;
  /**
   * The global budget: at most this many query checks per second across all jobs (a token bucket
   * holding one second's worth). Due checks over budget wait, oldest first. Default: no limit.
   */
  maxChecksPerSecond?: number;
  /**
   * Queries one warehouse call answers (Warehouse.statusBatchSize): the budget counts calls, so
   * with batches of 500 a budget of 50 a second checks up to 25,000 queries a second. Default 1.
   */
  queriesPerCall?: number;
  /** See StatusCallObserver; can also be set after construction with `observe`. */
  onStatusCall?: StatusCallObserver;
  /**
   * Whether this instance may poll now: false while it cannot be sure its polling leases still
   * hold (Leases.mayPoll), so that no query is polled by two instances. Default: always.
   */
  mayPoll?: () => boolean;
}

/** While polling is paused, how often it looks again. */
const PAUSED_RETRY_MS = 250;

/** Early nudges remembered; a query is tracked within milliseconds of its submit returning. */
const MAX_EARLY_NUDGES = 1000;
/** How many answers of one tick are applied at once (bounded: each may hold a store connection). */
const APPLIED_AT_ONCE = 256;

interface Tracked {
  jobId: string;
  checks: number;
  dueAt: number;
  /** Bumped by every nudge, so a tick can tell a nudge that came while it worked. */
  nudges: number;
}

/**
 * The one polling loop of a process. Each tick asks the warehouse, in a single call, for the status
 * of the active jobs that are due; subscribers never add calls, because they listen to the event
 * bus, not to the poller. With nothing tracked no timer is armed. An adapter that learns of a
 * change (DuckDB when a query starts or settles) nudges the job, which makes it due at once.
 *
 * Its modes (`mode`), a state machine:
 *
 *   idle ──track/nudge──► waiting ──timer──► ticking ──tick ends──► waiting | idle
 *     any ──stop()──► stopped
 *
 * idle: nothing due, no timer. waiting: one timer, for the earliest due job. ticking: one tick in
 * flight; it reschedules when it ends, so ticks never overlap and a nudge made meanwhile is kept.
 */
export type PollerMode = 'idle' | 'waiting' | 'ticking' | 'stopped';

export class Poller {
  readonly #options: PollerOptions;
  readonly #tracked = new Map<string, Tracked>();
  /** Query ids nudged before they were tracked, oldest first. */
  readonly #early = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #timerDueAt = Infinity;
  #tick: Promise<void> | null = null;
  #stopped = false;
  readonly #removeListener: () => void;
  /** Warehouse status calls made, and query ids asked about; for tests and benchmarks. */
  readonly stats = { statusCalls: 0, queriesChecked: 0, ticks: 0, deferredByBudget: 0, pausedTicks: 0 };
  #tokens: number;
  #tokensAt = Date.now();
  /** No tick before this time: the budget ran out. */
  #budgetWaitUntil = 0;
  #onStatusCall: StatusCallObserver | undefined;

  constructor(options: PollerOptions) {
    this.#options = options;
    this.#onStatusCall = options.onStatusCall;
    this.#tokens = options.maxChecksPerSecond ?? Infinity;
    this.#removeListener = options.warehouse.onChange((queryId) => this.nudge(queryId));
  }

  get mode(): PollerMode {
    if (this.#stopped) return 'stopped';
    if (this.#tick) return 'ticking';
    return this.#timer ? 'waiting' : 'idle';
  }

  get trackedCount(): number {
    return this.#tracked.size;
  }

  /**
   * Sets (or, with undefined, removes) the observer of status calls. The poller is made inside the
   * job service, so whoever wires metrics sets it here afterwards.
   */
  observe(observer: StatusCallObserver | undefined): void {
    this.#onStatusCall = observer;
  }

  track(jobId: string, queryId: string): void {
    if (this.#stopped) return;
    // An adapter may report a change before its submit has returned the query id to us.
    const nudgedEarly = this.#early.delete(queryId);
    this.#tracked.set(queryId, { jobId, checks: 0, dueAt: nudgedEarly ? 0 : Date.now() + this.#delay(0), nudges: 0 });
    this.#schedule();
  }

  /** Stops checking this query (another instance took its job over). */
  untrack(queryId: string): void {
    this.#tracked.delete(queryId);
  }

  /** Check this query at once (an adapter saw it change). */
  nudge(queryId: string): void {
    const entry = this.#tracked.get(queryId);
    if (this.#stopped) return;
    if (!entry) {
      // Not tracked yet (or no longer): kept for a `track` that may follow, a bounded few.
      if (this.#early.size >= MAX_EARLY_NUDGES) this.#early.delete(this.#early.values().next().value ?? '');
      this.#early.add(queryId);
      return;
    }
    entry.dueAt = 0;
    entry.nudges += 1;
    // Due now: nothing can be earlier, so no scan of every tracked job for the earliest (a burst
    // of 10,000 ends nudges 10,000 times). A tick in flight reschedules when it ends.
    if (!this.#tick) this.#arm(Math.max(Date.now(), this.#budgetWaitUntil));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#removeListener();
    this.#clearTimer();
    await this.#tick;
    this.#tracked.clear();
  }

  #delay(checks: number): number {
    const backoff = this.#options.backoffMs;
    return backoff[Math.min(checks, backoff.length - 1)] ?? 1000;
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerDueAt = Infinity;
  }

  #schedule(): void {
    if (this.#stopped) return;
    if (this.#tick) return; // the tick reschedules when it ends
    let next = Infinity;
    for (const entry of this.#tracked.values()) next = Math.min(next, entry.dueAt);
    if (next === Infinity) return this.#clearTimer();
    this.#arm(Math.max(next, this.#budgetWaitUntil));
  }

  /** Arms the one timer for `at`, unless it is already armed for then or earlier. */
  #arm(at: number): void {
    if (this.#stopped) return;
    if (this.#timer && this.#timerDueAt <= at) return;
    this.#clearTimer();
    this.#timerDueAt = at;
    this.#timer = setTimeout(() => this.#runTick(), Math.max(0, at - Date.now()));
  }

  #runTick(): void {
    this.#clearTimer();
    this.#tick = this.#check()
      .catch((error: unknown) => this.#options.onError(error))
      .finally(() => {
        this.#tick = null;
        this.#schedule();
      });
  }

  /** Takes up to `wanted` calls from the budget; returns how many it may make now. */
  #takeBudget(wanted: number, now: number): number {
    const rate = this.#options.maxChecksPerSecond ?? Infinity;
    if (rate === Infinity) return wanted;
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#tokensAt) / 1000) * rate);
    this.#tokensAt = now;
    const granted = Math.min(wanted, Math.floor(this.#tokens));
    this.#tokens -= granted;
    return granted;
  }

  async #check(): Promise<void> {
    const now = Date.now();
    const perCall = this.#options.queriesPerCall ?? 1;
    // Where one call answers many queries, those due within the first backoff step come along:
    // the jobs fall into step, and a tick costs one call instead of one per job's own moment.
    const horizon = perCall > 1 ? now + this.#delay(0) : now;
    const allDue = [...this.#tracked].filter(([, entry]) => entry.dueAt <= horizon).sort(([, a], [, b]) => a.dueAt - b.dueAt);
    const granted = Math.min(allDue.length, this.#takeBudget(Math.ceil(allDue.length / perCall), now) * perCall);
    const due = allDue.slice(0, granted);
    if (granted < allDue.length) {
      // Over budget: the rest keep their place in line (oldest due first) until a token is back.
      this.#budgetWaitUntil = now + Math.ceil(1000 / (this.#options.maxChecksPerSecond ?? 1));
      this.stats.deferredByBudget += allDue.length - granted;
    }
    const nudgesSeen = new Map(due.map(([queryId, entry]) => [queryId, entry.nudges]));
    if (due.length === 0) return;
    if (this.#options.mayPoll && !this.#options.mayPoll()) {
      // Their checks wait, each keeping its place in its backoff.
      for (const [, entry] of allDue) entry.dueAt = now + PAUSED_RETRY_MS;
      this.stats.pausedTicks += 1;
      return;
    }
    this.stats.ticks += 1;
    this.stats.statusCalls += 1;
    this.stats.queriesChecked += due.length;
    const started = performance.now();
    let states: Map<string, QueryState>;
    try {
      states = await this.#options.warehouse.status(due.map(([queryId]) => queryId));
    } catch (error) {
      this.#reportStatusCall(started, due.length, true);
      throw error;
    }
    this.#reportStatusCall(started, due.length, false);
    // The answers are applied side by side, a bounded slice at a time: the store can write a
    // slice's transitions in one commit (a burst of ends is one write, not thousands).
    for (let i = 0; i < due.length; i += APPLIED_AT_ONCE) {
      await Promise.all(due.slice(i, i + APPLIED_AT_ONCE).map(([queryId, entry]) => this.#applyOne(queryId, entry, states, nudgesSeen)));
    }
  }

  async #applyOne(queryId: string, entry: Tracked, states: Map<string, QueryState>, nudgesSeen: Map<string, number>): Promise<void> {
    let finished = false;
    try {
      finished = await this.#options.onState(entry.jobId, states.get(queryId));
    } catch (error) {
      this.#options.onError(error);
    }
    if (finished) {
      this.#tracked.delete(queryId);
    } else if (entry.nudges === nudgesSeen.get(queryId)) {
      // Not nudged again while we worked: back off.
      entry.checks += 1;
      entry.dueAt = Date.now() + this.#delay(entry.checks);
    }
  }

  #reportStatusCall(started: number, queries: number, failed: boolean): void {
    if (!this.#onStatusCall) return;
    try {
      this.#onStatusCall((performance.now() - started) / 1000, queries, failed);
    } catch (error) {
      this.#options.onError(error);
    }
  }
}
