import { type FormEvent, useId, useState } from 'react';
import { useToken } from '../token';

/** Enter (or replace) the bearer token: an API key or a JWT. */
export function TokenField({ autoFocus = false }: { autoFocus?: boolean }) {
  const { token, setToken } = useToken();
  const [value, setValue] = useState('');
  const id = useId();
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (value.trim()) setToken(value.trim());
  };
  return (
    <form className="token-form" onSubmit={onSubmit}>
      <label htmlFor={id}>Token</label>
      <input
        id={id}
        type="password"
        autoComplete="off"
        spellCheck={false}
        required
        autoFocus={autoFocus}
        placeholder="jq_… or a JWT"
        value={value}
        onChange={(event) => setValue(event.target.value)}
      />
      <button type="submit">Use token</button>
      {token && (
        <button type="button" onClick={() => setToken(null)}>
          Forget token
        </button>
      )}
    </form>
  );
}
