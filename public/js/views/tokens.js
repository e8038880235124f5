// tokens: tenant-scoped tokens: issue one (shown once, with a copy
// button), list them, revoke them.
import { html, useState } from '../../vendor/htm-preact.js';
import { ApiError, issueToken, listTokens, revokeToken } from '../api.js';
import { time } from '../format.js';
import { actions } from '../store.js';
import { CopyButton } from '../ui/copy.js';
import { Dialog } from '../ui/dialog.js';
import { Field } from '../ui/field.js';
import { MoreButton, usePages } from '../ui/pages.js';
import { ProblemView } from '../ui/problem.js';
import { wholeNumber } from './tenantforms.js';

/** @param {{tenant: import('../types.js').Tenant}} props */
export function TokensTab({ tenant }) {
  const pages = usePages((cursor) => listTokens(tenant.id, { cursor }), [tenant.id]);
  const [days, setDays] = useState('30');
  const [busy, setBusy] = useState('');
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [fieldError, setFieldError] = useState('');
  const [issued, setIssued] = useState(/** @type {import('../types.js').TokenIssued|null} */ (null));

  /** @param {Event} e */
  const issue = async (e) => {
    e.preventDefault();
    const d = wholeNumber(days);
    if (d === undefined || d === null || d < 1 || d > 365) {
      setFieldError('must be a whole number of days, 1 to 365');
      return;
    }
    setFieldError('');
    setError(null);
    setBusy('issue');
    try {
      setIssued(await issueToken(tenant.id, d * 86400));
      pages.reload();
    } catch (err) {
      if (err instanceof ApiError && err.fields.ttl) setFieldError(err.fields.ttl);
      else setError(err);
    } finally {
      setBusy('');
    }
  };
  /** @param {string} jti */
  const revoke = async (jti) => {
    setBusy(jti);
    setError(null);
    try {
      await revokeToken(tenant.id, jti);
      actions.toast('ok', `Token ${jti} revoked.`);
      pages.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy('');
    }
  };

  return html`<section aria-labelledby="tok-h">
    <h2 id="tok-h">Tokens</h2>
    <p>A tenant token reads and publishes this tenant's messages and dead letters, and nothing else.</p>
    <form class="inline-fields" onSubmit=${issue}>
      <${Field} id="token-days" label="Valid for (days)" error=${fieldError}
        control=${(/** @type {Record<string, unknown>} */ a) => html`<input ...${a} inputmode="numeric" value=${days} onInput=${(/** @type {any} */ e) => setDays(e.currentTarget.value)} />`} />
      <div class="field"><button type="submit" class=${`primary ${busy === 'issue' ? 'busy' : ''}`} disabled=${!!busy}>Issue a token</button></div>
    </form>
    <${ProblemView} error=${error} />
    ${pages.items.length > 0 && html`<div class="table-wrap"><table>
      <caption class="visually-hidden">Tokens of ${tenant.name}</caption>
      <thead><tr><th scope="col">Id (jti)</th><th scope="col">Issued</th><th scope="col">Expires</th><th scope="col">Revoked</th><th scope="col">By</th><th scope="col">Actions</th></tr></thead>
      <tbody>${pages.items.map((t) => html`<tr key=${t.jti}>
        <td><code>${t.jti}</code></td><td>${time(t.created_at)}</td><td>${time(t.expires_at)}</td>
        <td>${t.revoked_at ? time(t.revoked_at) : 'no'}</td><td>${t.created_by}</td>
        <td>${!t.revoked_at && html`<button type="button" class=${`small danger ${busy === t.jti ? 'busy' : ''}`} disabled=${!!busy}
          onClick=${() => revoke(t.jti)} aria-label=${`Revoke token ${t.jti}`}>Revoke</button>`}</td>
      </tr>`)}</tbody>
    </table></div>`}
    ${!pages.loading && !pages.error && pages.items.length === 0 && html`<div class="empty"><p>No tokens issued for this tenant yet.</p></div>`}
    <${MoreButton} pages=${pages} what="tokens" />
    <${Dialog} open=${issued !== null} onClose=${() => setIssued(null)} title="Token issued">
      ${issued && html`<p>Copy it now: it is shown only once. It expires ${time(issued.expires_at)}.</p>
        <code class="secret" id="issued-token">${issued.token}</code>
        <div class="actions"><${CopyButton} text=${issued.token} label="Copy the token" />
        <button type="button" class="primary" onClick=${() => setIssued(null)}>Done</button></div>`}
    <//>
  </section>`;
}
