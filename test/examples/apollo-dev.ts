/**
 * Apollo Client runs its development checks (the cache's "Cache data may be lost" warnings among
 * them) only when `globalThis.__DEV__` is true as it loads, or under Node's `development` export
 * condition. Import this module before anything imports @apollo/client.
 */
(globalThis as { __DEV__?: boolean }).__DEV__ = true;
