import type { Clock } from '../core/clock.ts';
import type { Job } from '../core/job.ts';
import { type Logger, logPassFailure } from '../core/logger.ts';
import { isTerminal } from '../core/status.ts';
import type { JobStore, Lease } from '../store/job-store.ts';
import type { Warehouse } from '../warehouses/warehouse.ts';
import type { Dispatcher } from './dispatcher.ts';
import type { Poller } from './poller.ts';
import type { RunningJobs } from './running-jobs.ts';
import type { TransitionWriter } from './transitions.ts';

/** Who this process is among the instances sharing a job store, and how long its leases last. */
export interface Instance {
  /** Unique per running process when several share a store; fixed when one process owns the store. */
  id: string;
  /** A lease not renewed within this time passes to another instance. Renewed every third of it, or every second. */
  leaseTtlMs: number;
  /**
   * Whether other instances share the store. One process alone takes its leases back once, at
   * recovery; after that nobody can take them, so its lease passes only dispatch.
   */
  shared: boolean;
}

/** Jobs taken over per lease pass; the next pass takes more. */
const LEASE_BATCH = 500;
/** The longest time between two lease passes. */
const LEASE_PASS_MS = 1000;

interface LeasesDeps {
  store: JobStore;
  warehouse: Warehouse;
  writer: TransitionWriter;
  poller: Poller;
  dispatcher: Dispatcher;
  running: RunningJobs;
  instance: Instance;
  clock: Clock;
  logger: Logger;
}

/**
 * Recovery and the polling leases. At start, jobs never handed to the warehouse wait to run again
 * (a cancelled one ends ABORTED); dispatched jobs whose lease is free (or this instance's) are
 * polled, or submitted again where the warehouse recognises a repeated submit; the embedded
 * warehouse, which forgot them, gets them ended JOB_INTERRUPTED by the poller. Then a lease pass
 * runs every second (or every third of the lease time, if shorter): with instances sharing the
 * store it renews this instance's leases and takes over the jobs of instances that died; always,
 * it ends with a dispatch (jobs may have been queued through other instances).
 */
export class Leases {
  readonly #deps: LeasesDeps;
  #timer: NodeJS.Timeout | null = null;
  #pass: Promise<void> | null = null;
  #recovered = false;
  #stopped = false;
  /**
   * Until when this instance's leases surely hold, in ms since the epoch: a third of the lease time
   * before the `until` of the last renewal that succeeded (a margin for clock skew between
   * instances). Past it, polling pauses; the leases may pass to another instance, which then polls.
   */
  #surelyHeldUntil: number;
  #paused = false;

  constructor(deps: LeasesDeps) {
    this.#deps = deps;
    this.#surelyHeldUntil = this.#heldUntilAfterRenewing(deps.clock.now().getTime() + deps.instance.leaseTtlMs);
  }

  #heldUntilAfterRenewing(until: number): number {
    return until - Math.ceil(this.#deps.instance.leaseTtlMs / 3);
  }

  /**
   * Whether this instance may poll its jobs now. With one process, always (nobody else takes its
   * leases); with several, only while its last renewal is recent enough that no lease can have
   * run out elsewhere: an instance that cannot reach the store stops polling before another takes
   * its jobs, so no query is polled by two instances.
   */
  mayPoll(): boolean {
    if (!this.#deps.instance.shared) return true;
    const held = this.#deps.clock.now().getTime() < this.#surelyHeldUntil;
    if (held === this.#paused) {
      this.#paused = !held;
      if (held) this.#deps.logger.info('polling leases renewed: polling again');
      else this.#deps.logger.warn('polling leases not renewed in time (the job store does not answer): polling paused');
    }
    return held;
  }

  /** The lease this instance takes or renews now. */
  lease(): Lease {
    return { holder: this.#deps.instance.id, until: new Date(this.#deps.clock.now().getTime() + this.#deps.instance.leaseTtlMs) };
  }

  async recover(): Promise<void> {
    for (const job of await this.#deps.store.listUnfinished()) {
      if (!job.dispatchedAt && job.status === 'ABORTING') await this.#deps.writer.finishCancel(job);
    }
    await this.#round();
    this.#recovered = true;
    // At least every second, so that released leases and jobs queued through other instances are
    // picked up quickly; a lease outlives three missed passes.
    this.#timer = setInterval(() => void this.#round(), Math.min(LEASE_PASS_MS, Math.floor(this.#deps.instance.leaseTtlMs / 3)));
    this.#timer.unref();
  }

  /** No more passes; resolves when the pass under way (if any) is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#pass;
  }

  /** Hands these leases over at once, so that another instance (or this one, restarted) polls the jobs. */
  release(ids: readonly string[]): Promise<void> {
    return this.#deps.store.releaseLeases(this.#deps.instance.id, ids);
  }

  /** One lease pass (never two at once): renew, take over, then dispatch. */
  #round(): Promise<void> {
    this.#pass ??= this.#renewAndTakeOver()
      .catch((error: unknown) => logPassFailure(this.#deps.logger, error, 'lease pass failed'))
      .finally(() => {
        this.#pass = null;
        this.#deps.dispatcher.pump();
      });
    return this.#pass;
  }

  async #renewAndTakeOver(): Promise<void> {
    if (this.#stopped || (this.#recovered && !this.#deps.instance.shared)) return;
    const held = this.#deps.running.ids();
    const lease = this.lease();
    const kept = new Set(await this.#deps.store.renewLeases(held, lease));
    this.#surelyHeldUntil = this.#heldUntilAfterRenewing(lease.until.getTime());
    for (const id of held) {
      // Taken over (this process stalled past its lease): the new holder polls it now, not us.
      if (kept.has(id) || !this.#deps.running.has(id)) continue;
      this.#deps.running.delete(id);
      const job = await this.#deps.store.get(id);
      if (job?.queryId) this.#deps.poller.untrack(job.queryId);
      this.#deps.logger.warn({ jobId: id }, 'polling lease lost to another instance');
    }
    // The store hands back this instance's own live leases too (oldest first), so ask for those
    // plus a batch, and go on only while a full answer brought jobs that are new to us.
    for (;;) {
      const limit = this.#deps.running.size + LEASE_BATCH;
      const taken = await this.#deps.store.acquireLeases(this.lease(), this.#deps.clock.now(), limit);
      let adopted = 0;
      for (const job of taken) if (await this.#adopt(job)) adopted += 1;
      if (adopted > 0) this.#deps.logger.info({ adopted }, 'took over jobs');
      if (taken.length < limit || adopted === 0) break;
    }
  }

  /**
   * Starts polling a dispatched job whose lease this instance just took (after a restart, or from
   * an instance that died). False when it is already this instance's.
   */
  async #adopt(job: Job): Promise<boolean> {
    if (this.#deps.running.has(job.id) || this.#deps.running.isClaiming(job.id) || isTerminal(job.status)) return false;
    this.#deps.running.add(job.id, job.owner);
    if (job.queryId) this.#deps.poller.track(job.id, job.queryId);
    // Cut off mid-submit: submitting again finds the query if the warehouse had accepted it.
    else if (this.#deps.warehouse.idempotentSubmit) await this.#deps.dispatcher.submitClaimed(job);
    else await this.#deps.writer.interrupt(job, 'The server stopped before the warehouse accepted this job');
    return true;
  }
}
