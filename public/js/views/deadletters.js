// deadletters: what could not be stored, with its reason; replay one, the
// selected or all of them, or purge them after a confirmation.
import { html, useEffect, useState } from '../../vendor/htm-preact.js';
import { getTenant, listDlq, purgeDlq, replayDlq } from '../api.js';
import { bytes, num, time } from '../format.js';
import { actions, useStore } from '../store.js';
import { Dialog } from '../ui/dialog.js';
import { MoreButton, usePages } from '../ui/pages.js';
import { ProblemView } from '../ui/problem.js';

/** @param {{tenant: import('../types.js').Tenant}} props */
export function DeadLettersTab({ tenant }) {
  const resync = useStore((s) => s.resync);
  const arrived = useStore((s) => s.deadLetters[tenant.id] || 0);
  const pages = usePages((cursor) => listDlq(tenant.id, { cursor, limit: 100 }), [tenant.id, resync]);
  // A dead letter arrived (event stream): read the first page again, soon.
  useEffect(() => {
    if (!arrived) return undefined;
    const timer = setTimeout(() => pages.reload(), 300);
    return () => clearTimeout(timer);
  }, [arrived]);
  const [selected, setSelected] = useState(/** @type {Set<string>} */ (new Set()));
  const [busy, setBusy] = useState('');
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [confirmPurge, setConfirmPurge] = useState(false);

  /** @param {string} what @param {() => Promise<string>} run */
  const act = async (what, run) => {
    setBusy(what);
    setError(null);
    try {
      actions.toast('ok', await run());
      setSelected(new Set());
      pages.reload();
      actions.tenantSeen(await getTenant(tenant.id));
    } catch (e) {
      setError(e);
    } finally {
      setBusy('');
    }
  };
  /** @param {string[]|null} ids */
  const replay = (ids) => act(ids ? (ids.length === 1 ? ids[0] : 'selected') : 'all', async () => {
    const r = await replayDlq(tenant.id, ids);
    const missing = r.not_found && r.not_found.length ? ` (${r.not_found.length} no longer there)` : '';
    return `Replayed ${r.replayed} dead letter${r.replayed === 1 ? '' : 's'}${missing}.`;
  });
  const purge = () => act('purge', async () => {
    const r = await purgeDlq(tenant.id);
    setConfirmPurge(false);
    return `Purged ${r.purged} dead letter${r.purged === 1 ? '' : 's'}.`;
  });
  /** @param {string} id */
  const toggle = (id) => setSelected((s) => {
    const next = new Set(s);
    if (next.has(id)) next.delete(id); else next.add(id);
    return next;
  });

  const items = pages.items;
  return html`<section aria-labelledby="dlq-h">
    <div class="toolbar">
      <h2 id="dlq-h">Dead letters</h2>
      <div class="actions">
        <button type="button" disabled=${!!busy || selected.size === 0} class=${busy === 'selected' ? 'busy' : ''}
          onClick=${() => replay([...selected])}>Replay selected (${selected.size})</button>
        <button type="button" disabled=${!!busy || items.length === 0} class=${busy === 'all' ? 'busy' : ''} onClick=${() => replay(null)}>Replay all</button>
        <button type="button" class="danger" disabled=${!!busy || items.length === 0} onClick=${() => setConfirmPurge(true)}>Purge…</button>
        <button type="button" onClick=${pages.reload} disabled=${pages.loading}>Refresh</button>
      </div>
    </div>
    <${ProblemView} error=${error} />
    ${items.length > 0 && html`<div class="table-wrap"><table>
      <caption class="visually-hidden">Dead letters of ${tenant.name}</caption>
      <thead><tr>
        <th scope="col"><span class="visually-hidden">Select</span></th><th scope="col">Id</th><th scope="col">Reason</th>
        <th scope="col" class="num">Attempts</th><th scope="col">Last failed</th><th scope="col" class="num">Size</th>
        <th scope="col">Body</th><th scope="col">Actions</th>
      </tr></thead>
      <tbody>${items.map((d) => html`<tr key=${d.id}>
        <td><input type="checkbox" checked=${selected.has(d.id)} onChange=${() => toggle(d.id)} aria-label=${`Select ${d.id}`} /></td>
        <td><code>${d.id}</code></td>
        <td><code>${d.reason_code}</code><br />${d.reason}</td>
        <td class="num">${d.attempts}</td>
        <td>${time(d.last_failed_at)}</td>
        <td class="num">${bytes(d.size)}${d.body_truncated ? ' (cut)' : ''}</td>
        <td><span class="preview">${d.payload_preview}</span></td>
        <td><button type="button" class=${`small ${busy === d.id ? 'busy' : ''}`} disabled=${!!busy} onClick=${() => replay([d.id])}
          aria-label=${`Replay ${d.id}`}>Replay</button></td>
      </tr>`)}</tbody>
    </table></div>`}
    ${!pages.loading && !pages.error && items.length === 0 && html`<div class="empty"><p>No dead letters: every message so far was stored.</p></div>`}
    <${MoreButton} pages=${pages} what="dead letters" />
    <${Dialog} open=${confirmPurge} onClose=${() => setConfirmPurge(false)} title="Purge dead letters">
      <p>Purging deletes all ${num(tenant.dlq_depth)} dead letters of <strong>${tenant.name}</strong> for good.</p>
      <div class="actions">
        <button type="button" onClick=${() => setConfirmPurge(false)}>Cancel</button>
        <button type="button" class=${`danger ${busy === 'purge' ? 'busy' : ''}`} disabled=${!!busy} onClick=${purge}>Purge them</button>
      </div>
    <//>
  </section>`;
}
