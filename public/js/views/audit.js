// audit: admin actions, newest first: the whole log, or one tenant's.
import { html } from '../../vendor/htm-preact.js';
import { listAudit } from '../api.js';
import { time } from '../format.js';
import { MoreButton, usePages } from '../ui/pages.js';

/** @param {{target?: string}} props */
function AuditTable({ target }) {
  const pages = usePages((cursor) => listAudit({ cursor, target }), [target]);
  return html`
    ${pages.items.length > 0 && html`<div class="table-wrap"><table>
      <caption class="visually-hidden">Audit entries</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Tenant</th><th scope="col">From</th><th scope="col">Detail</th></tr></thead>
      <tbody>${pages.items.map((a) => html`<tr key=${a.seq}>
        <td>${time(a.at)}</td><td>${a.actor}</td><td><code>${a.action}</code></td>
        <td>${a.target ? html`<a href=${`#/tenants/${a.target}`}><code>${a.target}</code></a>` : '–'}</td>
        <td>${a.address || '–'}</td>
        <td><span class="preview">${Object.keys(a.detail || {}).length ? JSON.stringify(a.detail) : ''}</span></td>
      </tr>`)}</tbody>
    </table></div>`}
    ${!pages.loading && !pages.error && pages.items.length === 0 && html`<div class="empty"><p>Nothing recorded yet.</p></div>`}
    <${MoreButton} pages=${pages} what="entries" />`;
}

export function AuditPage() {
  return html`<div class="page-head"><h1>Audit log</h1></div>
    <p>Logins and every change an admin made, newest first.</p>
    <${AuditTable} />`;
}

/** @param {{tenant: import('../types.js').Tenant}} props */
export function TenantAuditTab({ tenant }) {
  return html`<section aria-labelledby="taudit-h"><h2 id="taudit-h">Audit</h2><${AuditTable} target=${tenant.id} /></section>`;
}
