/**
 * A Warehouse (src/warehouses/warehouse.ts) whose queries do what the benchmark says: each query
 * is RUNNING from its submit until `end()` ends it (SUCCESS, `endedAt` = that instant). `end`
 * fires the `onChange` listeners, as the embedded engine does when a query settles, so the poller
 * checks at once. It counts every status call, to show what the poller asks and how often.
 * Results are a one-row page: only statuses matter to the benchmarks that use it.
 */
import { randomUUID } from 'node:crypto';
import type { SubmitRequest, Warehouse } from '../../src/warehouses/warehouse.ts';
import type { QueryState, ResultPage } from '../../src/core/results.ts';

export interface ScriptedOptions {
  /** Fire onChange right after submit (as DuckDB does when a query starts), so QUEUED → RUNNING at once. */
  pushOnStart: boolean;
}

export interface ScriptedCounts {
  submits: number;
  statusCalls: number;
  idsChecked: number;
  maxIdsPerCall: number;
  /** Ids asked about that are not RUNNING queries of this warehouse (should stay 0). */
  idsNotActive: number;
  /** Ids asked twice in one call (should stay 0). */
  duplicateIds: number;
  /** Queries submitted and not ended. */
  active: number;
}

export class ScriptedWarehouse implements Warehouse {
  readonly name = 'scripted';
  readonly forgetsOnRestart = true;
  readonly idempotentSubmit = false;
  readonly #options: ScriptedOptions;
  readonly #queries = new Map<string, { jobId: string; state: QueryState; checks: number }>();
  readonly #byJob = new Map<string, string>();
  readonly #listeners = new Set<(queryId: string) => void>();
  #active = 0;
  readonly counts: Omit<ScriptedCounts, 'active'> = {
    submits: 0,
    statusCalls: 0,
    idsChecked: 0,
    maxIdsPerCall: 0,
    idsNotActive: 0,
    duplicateIds: 0,
  };

  constructor(options: ScriptedOptions) {
    this.#options = options;
  }

  snapshot(): ScriptedCounts {
    return { ...this.counts, active: this.#active };
  }

  resetCounts(): void {
    for (const key of Object.keys(this.counts) as (keyof typeof this.counts)[]) this.counts[key] = 0;
    for (const query of this.#queries.values()) query.checks = 0;
  }

  /** Status checks per active query since the last reset (to show every job is checked alike). */
  checksPerActiveQuery(): number[] {
    return [...this.#queries.values()].filter((q) => q.state.status === 'RUNNING').map((q) => q.checks);
  }

  async submit(request: SubmitRequest): Promise<string> {
    const queryId = randomUUID();
    const now = new Date();
    this.#queries.set(queryId, {
      jobId: request.jobId,
      state: { status: 'RUNNING', startedAt: now, endedAt: null, error: null, progress: null, dml: null },
      checks: 0,
    });
    this.#byJob.set(request.jobId, queryId);
    this.counts.submits += 1;
    this.#active += 1;
    if (this.#options.pushOnStart) setImmediate(() => this.#notify(queryId));
    return queryId;
  }

  async status(queryIds: readonly string[]): Promise<Map<string, QueryState>> {
    this.counts.statusCalls += 1;
    this.counts.idsChecked += queryIds.length;
    this.counts.maxIdsPerCall = Math.max(this.counts.maxIdsPerCall, queryIds.length);
    this.counts.duplicateIds += queryIds.length - new Set(queryIds).size;
    const states = new Map<string, QueryState>();
    for (const id of queryIds) {
      const query = this.#queries.get(id);
      if (!query) continue;
      if (query.state.status !== 'RUNNING') this.counts.idsNotActive += 1;
      query.checks += 1;
      states.set(id, { ...query.state });
    }
    return states;
  }

  /**
   * Ends the given jobs' queries (all running ones when `jobIds` is null) at one instant, then
   * tells the listeners. Returns that instant (ms since the epoch) and how many ended.
   */
  end(jobIds: readonly string[] | null): { at: number; ended: number } {
    const at = new Date();
    const ids: string[] = [];
    const candidates = jobIds === null ? [...this.#queries.keys()] : jobIds.map((j) => this.#byJob.get(j));
    for (const queryId of candidates) {
      if (queryId === undefined) continue;
      const query = this.#queries.get(queryId);
      if (!query || query.state.status !== 'RUNNING') continue;
      query.state = { ...query.state, status: 'SUCCESS', endedAt: at, dml: null };
      this.#active -= 1;
      ids.push(queryId);
    }
    for (const id of ids) this.#notify(id);
    return { at: at.getTime(), ended: ids.length };
  }

  async describe(): Promise<null> {
    return null;
  }

  async cancel(jobId: string, queryId: string | null): Promise<void> {
    const id = queryId ?? this.#byJob.get(jobId);
    const query = id ? this.#queries.get(id) : undefined;
    if (!id || !query || query.state.status !== 'RUNNING') return;
    query.state = { ...query.state, status: 'ABORTED', endedAt: new Date() };
    this.#active -= 1;
    this.#notify(id);
  }

  async readResult(queryId: string, offset: number): Promise<ResultPage | null> {
    if (this.#queries.get(queryId)?.state.status !== 'SUCCESS') return null;
    return {
      columns: [{ name: 'n', type: 'INTEGER', nullable: false }],
      rows: offset === 0 ? [[42]] : [],
      totalRows: 1,
      offset,
      truncated: false,
    };
  }

  async downloadResult(): Promise<null> {
    return null;
  }

  async deleteResult(): Promise<void> {}

  onChange(listener: (queryId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }

  #notify(queryId: string): void {
    for (const listener of this.#listeners) listener(queryId);
  }
}
