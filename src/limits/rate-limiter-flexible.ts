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

export function redisSubmissionLimiter(redis: Redis, keyPrefix: string, perMinute: number): SubmissionLimiter {
  return adapt(new RateLimiterRedis({ storeClient: redis, keyPrefix, points: perMinute, duration: 60 }));
}
