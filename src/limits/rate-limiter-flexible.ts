import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import type { SubmissionLimiter } from './submission-limiter.ts';

/** The limiter adapters: rate-limiter-flexible's fixed one-minute windows, in memory or in Redis. */
function adapt(limiter: RateLimiterAbstract): SubmissionLimiter {
  return {
    async consume(principal) {
      try {
        await limiter.consume(principal);
        return { allowed: true };
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        return { allowed: false, retryAfterMs: rejection.msBeforeNext };
      }
    },
  };
}

export function memorySubmissionLimiter(perMinute: number): SubmissionLimiter {
  return adapt(new RateLimiterMemory({ points: perMinute, duration: 60 }));
}

/**
 * Counted across instances in Redis; while Redis does not answer, in this process's memory instead
 * (rate-limiter-flexible's insurance limiter), so a submission is never refused for Redis's sake:
 * the limit is then per instance. `onFallback` is told of every submission counted that way.
 * `redis` should not queue commands while disconnected (`enableOfflineQueue: false`), or a
 * submission would wait for Redis instead of falling back.
 */
export function redisSubmissionLimiter(redis: Redis, keyPrefix: string, perMinute: number, onFallback: () => void): SubmissionLimiter {
  const insurance = new RateLimiterMemory({ points: perMinute, duration: 60 });
  const consume = insurance.consume.bind(insurance);
  insurance.consume = (...args) => {
    onFallback();
    return consume(...args);
  };
  return adapt(new RateLimiterRedis({ storeClient: redis, keyPrefix, points: perMinute, duration: 60, insuranceLimiter: insurance }));
}
