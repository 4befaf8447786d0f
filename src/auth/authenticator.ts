import { RequestErrorCode, requestError } from '../core/errors.ts';
import { type ApiKeyEntry, verifyApiKey } from './api-keys.ts';
import { type JwtSettings, jwtVerifier, TokenError } from './jwt.ts';
import { LOCAL_PRINCIPAL, type Principal, type RunAsMapping } from '../core/principal.ts';

export interface AuthSettings {
  jwt: JwtSettings | null;
  apiKeys: ApiKeyEntry[];
  /** Principals mapped to warehouse identities; null when all share the warehouse's one. */
  runAs: RunAsMapping | null;
}

export interface Authenticator {
  /** `open` when nothing is configured: every request is the local principal. */
  readonly mode: 'open' | 'authenticated';
  /** The principal of an `Authorization` header value (`Bearer <JWT or API key>`); UNAUTHENTICATED otherwise. */
  authenticate(authorization: string | null | undefined): Promise<Principal>;
}

/** A JWT has three dot-separated base64url parts; an API key has none. */
const LOOKS_LIKE_JWT = /^[\w-]+\.[\w-]+\.[\w-]*$/;
/** Longer headers are refused before any parsing or hashing. */
const MAX_TOKEN_LENGTH = 8192;

export function createAuthenticator(settings: AuthSettings): Authenticator {
  if (!settings.jwt && settings.apiKeys.length === 0) {
    return { mode: 'open', authenticate: async () => LOCAL_PRINCIPAL };
  }
  const verifyJwt = settings.jwt ? jwtVerifier({ ...settings.jwt, runAsClaim: settings.runAs?.claim ?? null }) : null;
  // The claim wins for a JWT; otherwise the mapping by principal id.
  const mapped = (principal: Principal): Principal =>
    settings.runAs ? { ...principal, runAs: principal.runAs ?? settings.runAs.byPrincipal.get(principal.id) ?? null } : principal;
  return {
    mode: 'authenticated',
    async authenticate(authorization) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
      const token = match?.[1];
      if (!token) throw unauthenticated('Authentication required: send "Authorization: Bearer <token>"');
      if (token.length > MAX_TOKEN_LENGTH) throw unauthenticated('The token is not valid for this server');
      if (LOOKS_LIKE_JWT.test(token)) {
        if (!verifyJwt) throw unauthenticated('The token is not valid for this server');
        try {
          return mapped(await verifyJwt(token));
        } catch (error) {
          throw unauthenticated(error instanceof TokenError ? error.message : 'The token is not valid for this server');
        }
      }
      const principal = verifyApiKey(settings.apiKeys, token);
      if (!principal) throw unauthenticated('The token is not valid for this server');
      return mapped(principal);
    },
  };
}

function unauthenticated(message: string) {
  return requestError(RequestErrorCode.UNAUTHENTICATED, message, {
    http: { status: 401, headers: { 'www-authenticate': 'Bearer' } },
  });
}
