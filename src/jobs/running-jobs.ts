/**
 * The jobs one instance runs (dispatched or taken over, not yet terminal), with their owners, and
 * how many each owner has, kept as they change: the dispatcher asks for the counts on every job's
 * end, and counting 10,000 running jobs each time made a burst of ends quadratic. These are the
 * jobs whose polling lease the instance holds and renews; attached queries count too (they run).
 *
 * Also the jobs being claimed right now (not yet running): a lease pass must not adopt those.
 */
export class RunningJobs {
  readonly #owners = new Map<string, string>();
  readonly #perOwner = new Map<string, number>();
  readonly #claiming = new Set<string>();
  readonly #emptied = new Set<() => void>();

  /** Runs `claim` with the job marked as being claimed. */
  async claiming<T>(jobId: string, claim: () => Promise<T>): Promise<T> {
    this.#claiming.add(jobId);
    try {
      return await claim();
    } finally {
      this.#claiming.delete(jobId);
    }
  }

  isClaiming(jobId: string): boolean {
    return this.#claiming.has(jobId);
  }

  /** Resolves once no job runs here, or after `ms`. */
  async emptied(ms: number): Promise<void> {
    if (this.size === 0) return;
    await new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.#emptied.delete(check);
        resolve();
      };
      const check = (): void => {
        if (this.size === 0) finish();
      };
      const timer = setTimeout(finish, ms);
      this.#emptied.add(check);
    });
  }

  get size(): number {
    return this.#owners.size;
  }

  has(jobId: string): boolean {
    return this.#owners.has(jobId);
  }

  ids(): string[] {
    return [...this.#owners.keys()];
  }

  add(jobId: string, owner: string): void {
    if (this.#owners.has(jobId)) return;
    this.#owners.set(jobId, owner);
    this.#perOwner.set(owner, (this.#perOwner.get(owner) ?? 0) + 1);
  }

  /** False when the job was not running here. */
  delete(jobId: string): boolean {
    const owner = this.#owners.get(jobId);
    if (owner === undefined) return false;
    this.#owners.delete(jobId);
    const left = (this.#perOwner.get(owner) ?? 1) - 1;
    if (left > 0) this.#perOwner.set(owner, left);
    else this.#perOwner.delete(owner);
    for (const check of [...this.#emptied]) check();
    return true;
  }

  /** A copy of the running count per owner (owners with none are absent). */
  perOwner(): Map<string, number> {
    return new Map(this.#perOwner);
  }
}
