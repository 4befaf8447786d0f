import type { Job, QueuePlace } from '../core/job.ts';
import type { JobStore } from '../store/job-store.ts';
import type { RunningJobs } from './running-jobs.ts';
import type { TransitionWriter } from './transitions.ts';

/** At most this often the waiting jobs' places are worked out and published (4 a second). */
export const QUEUE_EVENTS_MS = 250;
/** The waiting jobs at the head of the line that get QUEUE_POSITION events; the rest read theirs. */
export const QUEUE_EVENTS_HEAD = 1000;

/**
 * The places in line of `waiting` (oldest first), by the dispatcher's rule (see
 * JobService.queuePlace): a job waits behind the older jobs of its own principal and of every
 * principal not passed over for holding its share. Pure.
 */
export function placesInLine(
  waiting: readonly Job[],
  passedOver: ReadonlySet<string>,
  reasonOf: (passedOver: boolean) => QueuePlace['reason'],
): Map<string, QueuePlace> {
  const places = new Map<string, QueuePlace>();
  let notPassedOver = 0;
  const ownBefore = new Map<string, number>();
  for (const job of waiting) {
    const capped = passedOver.has(job.owner);
    const before = notPassedOver + (capped ? (ownBefore.get(job.owner) ?? 0) : 0);
    places.set(job.id, { position: before + 1, reason: reasonOf(capped) });
    if (capped) ownBefore.set(job.owner, (ownBefore.get(job.owner) ?? 0) + 1);
    else notPassedOver += 1;
  }
  return places;
}

/**
 * Publishes QUEUE_POSITION events when the line moves (a job dispatched, cancelled or added), for
 * the QUEUE_EVENTS_HEAD jobs at its head whose place changed since this instance last said it:
 * one store read per QUEUE_EVENTS_MS at most, however fast the line moves.
 */
export class QueuePositions {
  readonly #store: JobStore;
  readonly #running: RunningJobs;
  readonly #writer: TransitionWriter;
  readonly #maxRunningPerPrincipal: number;
  readonly #reasonOf: (passedOver: boolean) => QueuePlace['reason'];
  /** The place last published per waiting job. */
  #published = new Map<string, QueuePlace>();
  #timer: NodeJS.Timeout | null = null;
  #lastRun = 0;
  #publishing: Promise<void> | null = null;
  #stopped = false;

  constructor(deps: {
    store: JobStore;
    running: RunningJobs;
    writer: TransitionWriter;
    maxRunningPerPrincipal: number;
    reasonOf: (passedOver: boolean) => QueuePlace['reason'];
  }) {
    this.#reasonOf = deps.reasonOf;
    this.#store = deps.store;
    this.#running = deps.running;
    this.#writer = deps.writer;
    this.#maxRunningPerPrincipal = deps.maxRunningPerPrincipal;
  }

  /** The line may have moved: publish the changes soon (trailing, at most every QUEUE_EVENTS_MS). */
  moved(): void {
    if (this.#timer || this.#stopped) return;
    const wait = Math.max(0, this.#lastRun + QUEUE_EVENTS_MS - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#lastRun = Date.now();
      // A store that does not answer (an outage) skips this round; the next move publishes again.
      this.#publishing = this.publish()
        .catch(() => {})
        .finally(() => (this.#publishing = null));
    }, wait);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#publishing;
  }

  async publish(): Promise<void> {
    const waiting = await this.#store.listWaiting(QUEUE_EVENTS_HEAD);
    const passedOver = new Set([...this.#running.perOwner()].filter(([, n]) => n >= this.#maxRunningPerPrincipal).map(([owner]) => owner));
    const places = placesInLine(waiting, passedOver, this.#reasonOf);
    for (const job of waiting) {
      const place = places.get(job.id)!;
      const last = this.#published.get(job.id);
      if (last && last.position === place.position && last.reason === place.reason) continue;
      this.#writer.publishUpdate({ ...job, queue: place }, 'QUEUE_POSITION');
    }
    this.#published = places;
  }
}
