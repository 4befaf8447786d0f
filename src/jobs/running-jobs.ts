/**
 * The jobs one instance runs (dispatched or taken over, not yet terminal), with their owners, and
 * how many each owner has, kept as they change: the dispatcher asks for the counts on every job's
 * end, and counting 10,000 running jobs each time made a burst of ends quadratic.
 */
export class RunningJobs {
  readonly #owners = new Map<string, string>();
  readonly #perOwner = new Map<string, number>();

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
    return true;
  }

  /** A copy of the running count per owner (owners with none are absent). */
  perOwner(): Map<string, number> {
    return new Map(this.#perOwner);
  }
}
