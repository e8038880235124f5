// tenants: every tenant, a page at a time, filtered by name and status;
// create, pause, resume and delete.
import { html, useEffect, useState } from '../../vendor/htm-preact.js';
import { listTenants, pauseTenant, resumeTenant } from '../api.js';
import { num, rateLimit } from '../format.js';
import { actions, useStore } from '../store.js';
import { Badge } from '../ui/badge.js';
import { MoreButton, usePages } from '../ui/pages.js';
import { CreateTenantDialog, DeleteTenantDialog } from './tenantforms.js';

const PAGE = 100;

/** @param {{tenant: import('../types.js').Tenant, onDelete: () => void}} props */
function Row({ tenant: t, onDelete }) {
  const [busy, setBusy] = useState(false);
  const toggle = async () => {
    setBusy(true);
    try {
      const next = t.status === 'paused' ? await resumeTenant(t.id) : await pauseTenant(t.id);
      actions.tenantSeen(next);
      actions.toast('ok', `Tenant ${t.name} ${next.status === 'paused' ? 'paused' : 'resumed'}.`);
    } catch (e) {
      actions.toast('error', `${t.name}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<tr data-tenant=${t.id}>
    <td><a href=${`#/tenants/${t.id}`}>${t.name}</a></td>
    <td><${Badge} value=${t.status} /></td>
    <td class="num">${num(t.concurrency)}</td>
    <td class="num">${num(t.workers.running)} / ${num(t.workers.busy)}</td>
    <td class="num">${num(t.queue_depth)}</td>
    <td class="num">${num(t.dlq_depth)}</td>
    <td>${rateLimit(t.publish_limit)}</td>
    <td><div class="actions">
      ${t.status !== 'deleting' && html`<button type="button" class=${`small ${busy ? 'busy' : ''}`} disabled=${busy} onClick=${toggle}
        aria-label=${`${t.status === 'paused' ? 'Resume' : 'Pause'} ${t.name}`}>${t.status === 'paused' ? 'Resume' : 'Pause'}</button>`}
      ${t.status !== 'deleting' && html`<button type="button" class="small danger" onClick=${onDelete} aria-label=${`Delete ${t.name}`}>Delete</button>`}
    </div></td>
  </tr>`;
}

export function Tenants() {
  const [name, setName] = useState('');
  const [status, setStatus] = useState('');
  const [query, setQuery] = useState({ name: '', status: '' });
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState(/** @type {import('../types.js').Tenant|null} */ (null));
  const known = useStore((s) => s.tenants);

  // Typing settles for 300 ms before the listing is asked again.
  useEffect(() => {
    const timer = setTimeout(() => setQuery({ name: name.trim(), status }), 300);
    return () => clearTimeout(timer);
  }, [name, status]);

  const resync = useStore((s) => s.resync);
  const pages = usePages(async (cursor) => {
    const page = await listTenants({ cursor, limit: PAGE, name: query.name, status: query.status });
    actions.tenantsSeen(page.data);
    return { data: page.data.map((t) => t.id), next_cursor: page.next_cursor };
  }, [query.name, query.status, resync]);

  // A tenant made elsewhere (event stream) joins the end of the list once
  // the list has been read to its end, if it matches the filter.
  useEffect(() => {
    if (pages.loading || pages.more) return;
    const have = new Set(pages.items);
    const added = Object.values(known).filter((t) => !have.has(t.id) &&
      (!query.status || t.status === query.status) &&
      (!query.name || t.name.toLowerCase().includes(query.name.toLowerCase())));
    if (added.length) pages.setItems((ids) => [...ids, ...added.map((t) => t.id).filter((id) => !ids.includes(id))]);
  }, [known]);

  const rows = pages.items.map((id) => known[id]).filter(Boolean);
  return html`<div class="page-head">
      <h1>Tenants</h1>
      <button type="button" class="primary" onClick=${() => setCreating(true)}>Create a tenant</button>
    </div>
    <form class="toolbar" role="search" onSubmit=${(/** @type {Event} */ e) => e.preventDefault()}>
      <div class="field">
        <label for="filter-name">Name contains</label>
        <input id="filter-name" type="search" value=${name} onInput=${(/** @type {any} */ e) => setName(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="filter-status">Status</label>
        <select id="filter-status" value=${status} onChange=${(/** @type {any} */ e) => setStatus(e.currentTarget.value)}>
          <option value="">any</option>
          <option value="active">active</option>
          <option value="paused">paused</option>
          <option value="deleting">deleting</option>
        </select>
      </div>
    </form>
    ${rows.length > 0 && html`<div class="table-wrap"><table>
      <caption class="visually-hidden">Tenants</caption>
      <thead><tr>
        <th scope="col">Name</th><th scope="col">Status</th><th scope="col" class="num">Concurrency</th>
        <th scope="col" class="num">Workers running / busy</th><th scope="col" class="num">Queue depth</th>
        <th scope="col" class="num">Dead letters</th><th scope="col">Rate limit</th><th scope="col">Actions</th>
      </tr></thead>
      <tbody>${rows.map((t) => html`<${Row} key=${t.id} tenant=${t} onDelete=${() => setDeleting(t)} />`)}</tbody>
    </table></div>`}
    ${!pages.loading && !pages.error && rows.length === 0 && html`<div class="empty">
      ${query.name || query.status
        ? html`<p>No tenant matches this filter.</p>`
        : html`<p>No tenants yet. A tenant gets its own queue and workers.</p>
          <button type="button" class="primary" onClick=${() => setCreating(true)}>Create the first tenant</button>`}
    </div>`}
    <${MoreButton} pages=${pages} what="tenants" />
    <${CreateTenantDialog} open=${creating} onClose=${() => setCreating(false)}
      onCreated=${(/** @type {import('../types.js').Tenant} */ t) => pages.setItems((ids) => (ids.includes(t.id) ? ids : [t.id, ...ids]))} />
    <${DeleteTenantDialog} tenant=${deleting} onClose=${() => setDeleting(null)}
      onDeleted=${(/** @type {string} */ id) => pages.setItems((ids) => ids.filter((x) => x !== id))} />`;
}
