import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from 'jose';
import type { Principal } from '../core/principal.ts';

export interface JwtSettings {
  /** Exactly one of the two: a JWKS URL (keys fetched, cached, refetched on an unknown `kid`)… */
  jwksUrl: string | null;
  /** …or one PEM public key (SPKI). */
  publicKeyPem: string | null;
  issuer: string;
  audience: string;
  /** Pinned: a token signed with any other algorithm (`none`, HS256 with the public key) fails. */
  algorithms: string[];
  adminScope: string;
  /** A claim naming the warehouse identity the principal runs as (Principal.runAs); null for none. */
  runAsClaim?: string | null;
}

/** Why a token was refused; the message is safe to show. */
export class TokenError extends Error {}

/** Seconds of clock difference tolerated on `exp` and `nbf`. */
const CLOCK_TOLERANCE_SECONDS = 5;

export type JwtVerifier = (token: string) => Promise<Principal>;

export function jwtVerifier(settings: JwtSettings): JwtVerifier {
  const key: KeyObject | ReturnType<typeof createRemoteJWKSet> = settings.jwksUrl
    ? // jose caches the set and refetches at most every 30 s on an unknown kid (cooldown), so random
      // kids cannot turn into a flood of JWKS requests.
      createRemoteJWKSet(new URL(settings.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 })
    : createPublicKey(settings.publicKeyPem ?? '');
  return async (token) => {
    let payload: JWTPayload;
    try {
      const options = {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms: settings.algorithms,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      };
      ({ payload } =
        typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new TokenError('The token has expired');
      throw new TokenError('The token is not valid for this server');
    }
    return {
      id: `user:${payload.sub ?? ''}`,
      admin: scopesOf(payload).includes(settings.adminScope),
      expiresAt: new Date((payload.exp ?? 0) * 1000),
      runAs: settings.runAsClaim && typeof payload[settings.runAsClaim] === 'string' ? (payload[settings.runAsClaim] as string) : null,
    };
  };
}

/** OAuth's `scope` (space-separated) or the `scp` claim some providers use (string or array). */
function scopesOf(payload: JWTPayload): string[] {
  const raw = payload['scope'] ?? payload['scp'];
  if (typeof raw === 'string') return raw.split(' ').filter(Boolean);
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === 'string');
  return [];
}
