import { useCallback, useEffect, useMemo, useState } from 'react';
import { type Client, Provider, useQuery } from 'urql';
import { createConsoleClient } from './client';
import { ErrorView } from './components/ErrorView';
import { JobHistory } from './components/JobHistory';
import { JobView, type SubmittedJob } from './components/JobView';
import { SqlEditor } from './components/SqlEditor';
import { TokenField } from './components/TokenField';
import { describeError, isUnauthenticated } from './errors';
import { graphql } from './gql';
import { loadToken, saveToken, TokenContext, type TokenState, useToken } from './token';

/**
 * Whether this server wants a token: an anonymous request that answers UNAUTHENTICATED means auth
 * is on; with a token, the same answer means the token was refused.
 */
const AuthProbe = graphql(`
  query AuthProbe {
    jobs(first: 1) {
      pageInfo {
        hasNextPage
      }
    }
  }
`);

/** The token, and one urql client (HTTP + graphql-ws) per token: a new token remounts the console. */
export function App() {
  const [token, setTokenState] = useState(loadToken);
  const [session, setSession] = useState<{ client: Client; generation: number } | null>(null);
  // Bumped when the token stops working mid-session: a fresh client and probe show the sign-in.
  const [refusedAt, setRefusedAt] = useState(0);
  useEffect(() => {
    const { client, dispose } = createConsoleClient(token, () => setRefusedAt(Date.now()));
    setSession((previous) => ({ client, generation: (previous?.generation ?? 0) + 1 }));
    return dispose;
  }, [token, refusedAt]);
  const tokenState = useMemo<TokenState>(
    () => ({
      token,
      setToken: (next) => {
        saveToken(next);
        setTokenState(next);
      },
    }),
    [token],
  );
  if (!session) return null;
  return (
    <TokenContext.Provider value={tokenState}>
      <Provider value={session.client} key={session.generation}>
        <Console />
      </Provider>
    </TokenContext.Provider>
  );
}

function Console() {
  const { token, setToken } = useToken();
  const [probe, reprobe] = useQuery({ query: AuthProbe });
  const [selected, setSelected] = useState<{ id: string; submitted: SubmittedJob | null } | null>(null);
  const [historyVersion, setHistoryVersion] = useState(0);
  const refreshHistory = useCallback(() => setHistoryVersion((v) => v + 1), []);

  let body;
  if (!probe.data && !probe.error) {
    body = (
      <p className="connecting" role="status">
        Connecting to jobql…
      </p>
    );
  } else if (isUnauthenticated(probe.error)) {
    body = (
      <main className="signin" id="main">
        <section aria-labelledby="signin-title">
          <h2 id="signin-title">This server needs a token</h2>
          <p>
            Paste an API key (<code>jq_…</code>) or a JWT from your identity provider. It stays in this tab only
            (sessionStorage) and goes with every request: as <code>Authorization: Bearer</code> over HTTP and in the
            WebSocket&apos;s <code>connection_init</code>.
          </p>
          {token && probe.error && <ErrorView error={describeError(probe.error)} />}
          <TokenField autoFocus />
        </section>
      </main>
    );
  } else if (probe.error) {
    body = (
      <main className="signin" id="main">
        <ErrorView error={describeError(probe.error)} />
        <button type="button" onClick={() => reprobe()}>
          Try again
        </button>
      </main>
    );
  } else {
    body = (
      <div className="layout">
        <aside className="history" aria-label="Job history">
          <JobHistory version={historyVersion} selectedId={selected?.id ?? null} onSelect={(id) => setSelected({ id, submitted: null })} />
        </aside>
        <main id="main" className="work">
          <SqlEditor
            onSubmitted={(job) => {
              setSelected({ id: job.id, submitted: job });
              refreshHistory();
            }}
          />
          {selected && <JobView key={selected.id} id={selected.id} submitted={selected.submitted} onSettled={refreshHistory} />}
        </main>
      </div>
    );
  }

  const signedIn = !!probe.data;
  return (
    <div className="app">
      <header className="top">
        <h1>
          jobql <span>console</span>
        </h1>
        {signedIn && token && (
          <p className="auth">
            Using a token{' '}
            <button type="button" className="link" onClick={() => setToken(null)}>
              Forget token
            </button>
          </p>
        )}
        {signedIn && !token && (
          <details className="auth">
            <summary>Open server: no token needed</summary>
            <TokenField />
          </details>
        )}
      </header>
      {body}
    </div>
  );
}
