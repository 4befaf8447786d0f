/** The shared services several instances depend on (cluster/shared-state.ts opens them). */
export type Dependency = 'postgresql' | 'redis';

export interface Dependencies {
  /** Whether there are any: false with one process, which shares nothing. */
  readonly shared: boolean;
  /** Those that do not answer now. */
  missing(): Promise<Dependency[]>;
  /** Submissions counted against the per-instance limit because Redis did not answer. */
  readonly limitFallbacks: number;
  /** Subscriptions handed their job's stored state after Redis reconnected (events sent meanwhile reached no one). */
  readonly catchUps: number;
  /** Events whose PUBLISH failed while Redis was away: they reached no other instance (catch-ups cover them). */
  readonly unpublishedEvents: number;
  /** Times it stopped answering since the start (an outage counted once however long it lasts). */
  outages(dependency: Dependency): number;
}
