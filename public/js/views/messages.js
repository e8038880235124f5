// messages: a tenant's stored messages, newest first (or oldest), a page
// at a time, and a drawer with one message in full. Payloads and headers
// are shown as text, never as HTML.
import { html, useState } from '../../vendor/htm-preact.js';
import { listMessages } from '../api.js';
import { oneLine, pretty, time } from '../format.js';
import { CopyButton } from '../ui/copy.js';
import { Dialog } from '../ui/dialog.js';
import { MoreButton, usePages } from '../ui/pages.js';

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
  const pages = usePages((cursor) => listMessages(tenant.id, { cursor, order, limit: 50 }), [tenant.id, order]);
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
