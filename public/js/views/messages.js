// messages: a tenant's stored messages, newest first (or oldest), a page
// at a time, and a drawer with one message in full. Payloads and headers
// are shown as text, never as HTML.
import { html, useEffect, useRef, useState } from '../../vendor/htm-preact.js';
import { listMessages } from '../api.js';
import { oneLine, pretty, time } from '../format.js';
import { CopyButton } from '../ui/copy.js';
import { Dialog } from '../ui/dialog.js';
import { MoreButton, usePages } from '../ui/pages.js';
import { useStore } from '../store.js';

/** @typedef {import('../types.js').Message} Message */

/** @param {{message: Message|null, onClose: () => void}} props */
export function MessageDrawer({ message: m, onClose }) {
  return html`<${Dialog} open=${m !== null} onClose=${onClose} title="Message" drawer=${true}>
    ${m && html`<div class="actions"><button type="button" onClick=${onClose}>Close</button></div>
      <dl class="facts">
        <dt>Id</dt><dd><code>${m.id}</code> <${CopyButton} text=${m.id} label="Copy id" /></dd>
        <dt>Tenant</dt><dd><code>${m.tenant_id}</code></dd>
        <dt>Published</dt><dd>${time(m.published_at)}</dd>
        <dt>Stored</dt><dd>${time(m.stored_at)}</dd>
        <dt>Attempts</dt><dd>${m.attempts}</dd>
        <dt>Trace id</dt><dd>${m.trace_id ? html`<code>${m.trace_id}</code> <${CopyButton} text=${m.trace_id} label="Copy trace id" />` : 'none'}</dd>
      </dl>
      <h3>Payload <${CopyButton} text=${pretty(m.payload)} label="Copy payload" /></h3>
      <pre class="json" tabindex="0" aria-label="Payload">${pretty(m.payload)}</pre>
      <h3>Headers <${CopyButton} text=${pretty(m.headers)} label="Copy headers" /></h3>
      ${Object.keys(m.headers).length ? html`<pre class="json" tabindex="0" aria-label="Headers">${pretty(m.headers)}</pre>` : html`<p>None.</p>`}`}
  <//>`;
}

/** @param {{tenant: import('../types.js').Tenant}} props */
export function MessagesTab({ tenant }) {
  const [order, setOrder] = useState(/** @type {'desc'|'asc'} */ ('desc'));
  const [open, setOpen] = useState(/** @type {Message|null} */ (null));
  const resync = useStore((s) => s.resync);
  const pages = usePages((cursor) => listMessages(tenant.id, { cursor, order, limit: 50 }), [tenant.id, order, resync]);
  const [waiting, setWaiting] = useState(/** @type {Message[]} */ ([]));
  const stored = useRef(tenant.counters.stored);

  // New messages (the tenant's stored counter moved): newest first, they
  // go on top; while the user is reading further down they wait behind a
  // button, so the rows under the reader's eyes do not move.
  useEffect(() => {
    if (tenant.counters.stored === stored.current) return;
    stored.current = tenant.counters.stored;
    if (order !== 'desc' || pages.loading) return;
    listMessages(tenant.id, { order: 'desc', limit: 50 }).then((page) => {
      const have = new Set([...pages.items, ...waiting].map((m) => m.id));
      const fresh = page.data.filter((m) => !have.has(m.id));
      if (!fresh.length) return;
      if (window.scrollY < 80 && waiting.length === 0) pages.setItems((old) => [...fresh, ...old]);
      else setWaiting((w) => [...fresh, ...w]);
    }, () => {});
  }, [tenant.counters.stored]);
  const showWaiting = () => {
    pages.setItems((old) => [...waiting, ...old]);
    setWaiting([]);
  };
  return html`<section aria-labelledby="msgs-h">
    <div class="toolbar">
      <h2 id="msgs-h">Messages</h2>
      <div class="field">
        <label for="msg-order">Order</label>
        <select id="msg-order" value=${order} onChange=${(/** @type {any} */ e) => setOrder(e.currentTarget.value)}>
          <option value="desc">newest first</option>
          <option value="asc">oldest first</option>
        </select>
      </div>
      <div class="field"><button type="button" onClick=${pages.reload} disabled=${pages.loading}>Refresh</button></div>
    </div>
    ${waiting.length > 0 && html`<div class="notice" role="status">
      <button type="button" class="primary" onClick=${showWaiting}>Show ${waiting.length} new message${waiting.length === 1 ? '' : 's'}</button>
    </div>`}
    ${pages.items.length > 0 && html`<div class="table-wrap"><table>
      <caption class="visually-hidden">Messages of ${tenant.name}</caption>
      <thead><tr><th scope="col">Id</th><th scope="col">Published</th><th scope="col">Stored</th><th scope="col" class="num">Attempts</th><th scope="col">Payload</th></tr></thead>
      <tbody>${pages.items.map((m) => html`<tr key=${m.id}>
        <td><button type="button" class="link mono" onClick=${() => setOpen(m)} aria-label=${`Open message ${m.id}`}>${m.id}</button></td>
        <td>${time(m.published_at)}</td>
        <td>${time(m.stored_at)}</td>
        <td class="num">${m.attempts}</td>
        <td><span class="preview">${oneLine(m.payload)}</span></td>
      </tr>`)}</tbody>
    </table></div>`}
    ${!pages.loading && !pages.error && pages.items.length === 0 && html`<div class="empty">
      <p>No messages stored yet.</p>
      <p><a href=${`#/tenants/${tenant.id}/publish`}>Publish a test message</a>, or POST to <code>/api/tenants/${tenant.id}/messages</code>.</p>
    </div>`}
    <${MoreButton} pages=${pages} what="messages" />
    <${MessageDrawer} message=${open} onClose=${() => setOpen(null)} />
  </section>`;
}
