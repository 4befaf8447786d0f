/**
 * The port behind "submissions per minute": counts one submission of a principal and says whether
 * it may go ahead. In memory for one process; in Redis when several instances share the limit.
 */
export interface SubmissionLimiter {
  /** Counts a submission; `retryAfterMs` when the principal is over the limit (nothing counted then). */
  consume(principal: string): Promise<{ allowed: true } | { allowed: false; retryAfterMs: number }>;
}
