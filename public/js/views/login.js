// login: the admin's username and password, or a tenant token pasted in.
import { html, useState } from '../../vendor/htm-preact.js';
import { ApiError, getTenant, keepToken, login, sessionOf, forgetToken } from '../api.js';
import { actions, useStore } from '../store.js';
import { Field } from '../ui/field.js';
import { ProblemView } from '../ui/problem.js';

export function Login() {
  const notice = useStore((s) => s.loginNotice);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [tokenError, setTokenError] = useState('');

  /** @param {Event} e */
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await login(username, password);
      const s = sessionOf(r.access_token);
      if (!s) throw new Error('The server sent a token this console does not understand.');
      keepToken(r.access_token);
      actions.sessionStarted(s);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  /** @param {Event} e */
  const useToken = async (e) => {
    e.preventDefault();
    setTokenError('');
    setError(null);
    const s = sessionOf(token);
    if (!s) {
      setTokenError('This is not an mtm token (three dot-separated parts with role and expiry).');
      return;
    }
    if (s.exp * 1000 <= Date.now()) {
      setTokenError('This token has expired.');
      return;
    }
    setBusy(true);
    keepToken(s.token);
    try {
      // Ask the API whether it accepts the token before showing anything.
      if (s.role === 'tenant' && s.tenantId) await getTenant(s.tenantId);
      actions.sessionStarted(s);
    } catch (err) {
      forgetToken();
      setError(err instanceof ApiError && err.status === 401 ? new Error(`The API refused this token: ${err.problem.detail}`) : err);
    } finally {
      setBusy(false);
    }
  };

  const fields = error instanceof ApiError ? error.fields : {};
  return html`<main class="login" id="main">
    <h1>mtm console</h1>
    ${notice && html`<div class="notice" role="status">${notice}</div>`}
    <div class="card">
      <h2>Log in</h2>
      <${ProblemView} error=${error} />
      <form onSubmit=${submit} aria-busy=${busy}>
        <${Field} id="login-user" label="Username" error=${fields.username} control=${(/** @type {Record<string, unknown>} */ a) =>
          html`<input ...${a} name="username" autocomplete="username" required value=${username}
            onInput=${(/** @type {any} */ e) => setUsername(e.currentTarget.value)} />`} />
        <${Field} id="login-password" label="Password" error=${fields.password} control=${(/** @type {Record<string, unknown>} */ a) =>
          html`<input ...${a} name="password" type="password" autocomplete="current-password" required value=${password}
            onInput=${(/** @type {any} */ e) => setPassword(e.currentTarget.value)} />`} />
        <button type="submit" class=${`primary ${busy ? 'busy' : ''}`} disabled=${busy}>Log in</button>
      </form>
      <details>
        <summary>Use a tenant token instead</summary>
        <form onSubmit=${useToken}>
          <${Field} id="login-token" label="Tenant token" error=${tokenError}
            hint="A token from POST /api/tenants/{id}/tokens. It sees only its own tenant."
            control=${(/** @type {Record<string, unknown>} */ a) => html`<textarea ...${a} rows="4" spellcheck="false" value=${token}
              onInput=${(/** @type {any} */ e) => setToken(e.currentTarget.value)}></textarea>`} />
          <button type="submit" disabled=${busy || !token.trim()}>Use this token</button>
        </form>
      </details>
    </div>
  </main>`;
}
