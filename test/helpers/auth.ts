import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { newApiKey } from '../../src/auth/api-keys.ts';

export const ISSUER = 'https://issuer.test/';
export const AUDIENCE = 'jobql-test';
export const ADMIN_SCOPE = 'jobql:admin';

/** An RSA key pair of a pretend identity provider, and a way to mint its tokens. */
export interface Issuer {
  publicKeyPem: string;
  /** A token for `sub`, valid for `ttlSeconds`, with any claims overridden. */
  token(sub: string, options?: { ttlSeconds?: number; scope?: string; claims?: JWTPayload; kid?: string }): Promise<string>;
  /** The key as a JWK with `kid`, for a JWKS document. */
  jwk(kid: string): Promise<Record<string, unknown>>;
  privateKey: CryptoKey;
}

export async function makeIssuer(): Promise<Issuer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  return {
    publicKeyPem: await exportSPKI(publicKey),
    privateKey,
    async token(sub, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ ...(options.scope ? { scope: options.scope } : {}), ...options.claims })
        .setProtectedHeader({ alg: 'RS256', ...(options.kid ? { kid: options.kid } : {}) })
        .setSubject(sub)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + (options.ttlSeconds ?? 600))
        .sign(privateKey);
    },
    async jwk(kid) {
      return { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    },
  };
}

/** The environment of a server that trusts `issuer` by its public key. */
export function jwtEnv(issuer: Issuer, extra: Record<string, string> = {}): Record<string, string> {
  return {
    JOBQL_JWT_PUBLIC_KEY: issuer.publicKeyPem,
    JOBQL_JWT_ISSUER: ISSUER,
    JOBQL_JWT_AUDIENCE: AUDIENCE,
    ...extra,
  };
}

/** A loopback JWKS endpoint that counts its requests. */
export async function jwksServer(keys: () => Promise<Record<string, unknown>[]>): Promise<{
  url: string;
  hits(): number;
  close(): Promise<void>;
}> {
  let hits = 0;
  const server: Server = createServer((_req, res) => {
    hits += 1;
    void keys().then((list) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: list }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    hits: () => hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export { newApiKey };
