import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Which web origins may call this server (JOBQL_CORS_ORIGINS), one answer for every way in: CORS
 * on /graphql and on downloads, and the Origin check of WebSocket upgrades. A request without an
 * `Origin` header (curl, a server, a same-origin GET navigation) is not a browser page calling from
 * elsewhere and passes.
 *
 * Allowed: the server's own origin (the page's host is the request's Host), the listed origins
 * (exact, or `https://*.example.com` for any one subdomain label), and in open mode any loopback
 * origin (`http://localhost:5173` and the like, for local frontends). In open mode the Host must be
 * a loopback name too, so a page on a name that resolves to 127.0.0.1 (DNS rebinding) is refused.
 */
export class OriginPolicy {
  readonly #exact: ReadonlySet<string>;
  readonly #patterns: readonly RegExp[];
  readonly #loopback: boolean;
  readonly #loopbackHostOnly: boolean;

  /**
   * `origins` as validated by config.ts (scheme://host[:port], or with `*.` as the first label).
   * `allowLoopback`: open mode. `loopbackHostOnly`: open mode on a loopback address (not opened to
   * the network with JOBQL_ALLOW_OPEN_REMOTE), where every honest Host is a loopback name.
   */
  constructor(origins: readonly string[], options: { allowLoopback: boolean; loopbackHostOnly: boolean }) {
    this.#exact = new Set(origins.filter((o) => !o.includes('*')).map((o) => o.toLowerCase()));
    this.#patterns = origins
      .filter((o) => o.includes('*'))
      .map((o) => new RegExp(`^${escapeRegExp(o.toLowerCase()).replace('\\*\\.', '[a-z0-9-]+\\.')}$`));
    this.#loopback = options.allowLoopback;
    this.#loopbackHostOnly = options.loopbackHostOnly;
  }

  /** Why the request's origin may not call, or null when it may. */
  refusal(origin: string | undefined, host: string | undefined): string | null {
    if (this.#loopbackHostOnly && host !== undefined && !isLoopbackHost(host)) {
      return `open mode serves loopback names only, and the request named host ${JSON.stringify(host)}`;
    }
    if (origin === undefined) return null;
    const normalized = origin.toLowerCase();
    let url: URL;
    try {
      url = new URL(normalized);
    } catch {
      return `the Origin ${JSON.stringify(origin)} is not an origin`;
    }
    if (host !== undefined && url.host === host.toLowerCase()) return null;
    if (this.#exact.has(normalized) || this.#patterns.some((p) => p.test(normalized))) return null;
    if (this.#loopback && isLoopbackHost(url.host)) return null;
    return `the origin ${origin} is not in JOBQL_CORS_ORIGINS`;
  }

  /**
   * CORS for one HTTP request: refuses a foreign origin (403), answers a preflight (204), or sets
   * the response headers for an allowed origin and lets the request through (true).
   */
  apply(req: IncomingMessage, res: ServerResponse, refuse: (message: string) => void): boolean {
    const origin = req.headers.origin;
    const refusal = this.refusal(origin, req.headers.host);
    if (refusal) {
      refuse(`This origin may not call jobql: ${refusal}`);
      return false;
    }
    if (origin === undefined) return true;
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    // Bearer tokens, not cookies: no credentials mode is needed, and none is offered.
    res.setHeader('access-control-expose-headers', 'Content-Disposition, Content-Length, Content-Range, Accept-Ranges');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, HEAD, POST, OPTIONS',
        'access-control-allow-headers': 'Authorization, Content-Type, Accept, Range',
        'access-control-max-age': '600',
      });
      res.end();
      return false;
    }
    return true;
  }
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/;

function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host.toLowerCase());
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
