import { createContext, useContext } from 'react';

/**
 * The bearer token (an API key or a JWT), kept in sessionStorage: it lasts as long as the tab and
 * is never written anywhere a later visitor of the machine would find it.
 */
const KEY = 'jobql.token';

export function loadToken(): string | null {
  try {
    return sessionStorage.getItem(KEY) || null;
  } catch {
    return null; // storage disabled: the token lives in memory only
  }
}

export function saveToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(KEY, token);
    else sessionStorage.removeItem(KEY);
  } catch {
    // storage disabled
  }
}

export interface TokenState {
  token: string | null;
  setToken(token: string | null): void;
}

export const TokenContext = createContext<TokenState>({ token: null, setToken: () => {} });

export function useToken(): TokenState {
  return useContext(TokenContext);
}
