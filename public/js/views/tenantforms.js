// tenantforms: the dialogs that change a tenant, shared by the tenants
// table and the tenant page: create, delete (typing the name to confirm).
import { html, useState } from '../../vendor/htm-preact.js';
import { ApiError, createTenant, deleteTenant, setRateLimit } from '../api.js';
import { actions } from '../store.js';
import { Dialog } from '../ui/dialog.js';
import { Field } from '../ui/field.js';
import { ProblemView } from '../ui/problem.js';

/** @param {string} s @returns {number|undefined|null} undefined: empty, null: not a whole number */
export function wholeNumber(s) {
  if (s.trim() === '') return undefined;
  return /^\d+$/.test(s.trim()) ? Number(s.trim()) : null;
}

/** @param {{open: boolean, onClose: () => void, onCreated: (t: import('../types.js').Tenant) => void}} props */
export function CreateTenantDialog({ open, onClose, onCreated }) {
  const [name, setName] = useState('');
  const [concurrency, setConcurrency] = useState('');
  const [rate, setRate] = useState('');
  const [burst, setBurst] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(/** @type {unknown} */ (null));
  /** @type {[Record<string, string>, (f: Record<string, string>) => void]} */
  const [fields, setFields] = useState({});

  /** @param {Event} e */
  const submit = async (e) => {
    e.preventDefault();
    /** @type {Record<string, string>} */
    const bad = {};
    const c = wholeNumber(concurrency), r = wholeNumber(rate), b = wholeNumber(burst);
    if (c === null) bad.concurrency = 'must be a whole number';
    if (r === null) bad.rate = 'must be a whole number (0: unlimited)';
    if (b === null) bad.burst = 'must be a whole number';
    if (b !== undefined && r === undefined) bad.burst = 'needs a rate';
    setFields(bad);
    setError(null);
    if (Object.keys(bad).length) return;
    setBusy(true);
    try {
      let t = await createTenant(c === undefined ? { name } : { name, concurrency: /** @type {number} */ (c) });
      if (r !== undefined && r !== null) {
        try {
          t = await setRateLimit(t.id, b === undefined || b === null ? { rate: r } : { rate: r, burst: b });
        } catch (err) {
          // The tenant exists: say so, and show why the limit was refused.
          actions.tenantSeen(t);
          onCreated(t);
          if (err instanceof ApiError) setFields(err.fields);
          setError(err);
          actions.toast('error', `Tenant ${t.name} was created, but its rate limit was refused.`);
          return;
        }
      }
      actions.tenantSeen(t);
      actions.toast('ok', `Tenant ${t.name} created.`);
      setName(''); setConcurrency(''); setRate(''); setBurst('');
      onCreated(t);
      onClose();
    } catch (err) {
      if (err instanceof ApiError) setFields(err.fields);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  /** @param {(v: string) => void} set */
  const onInput = (set) => (/** @type {any} */ e) => set(e.currentTarget.value);
  return html`<${Dialog} open=${open} onClose=${onClose} title="Create a tenant">
    <form onSubmit=${submit} aria-busy=${busy} noValidate>
      <${ProblemView} error=${error} />
      <${Field} id="new-name" label="Name" error=${fields.name} hint="1 to 64 characters: letters, digits, space, . _ -"
        control=${(/** @type {Record<string, unknown>} */ a) => html`<input ...${a} required value=${name} onInput=${onInput(setName)} />`} />
      <div class="inline-fields">
        <${Field} id="new-concurrency" label="Concurrency" error=${fields.concurrency} hint="Workers; empty: the default"
          control=${(/** @type {Record<string, unknown>} */ a) => html`<input ...${a} inputmode="numeric" value=${concurrency} onInput=${onInput(setConcurrency)} />`} />
        <${Field} id="new-rate" label="Rate limit (msg/s)" error=${fields.rate} hint="Empty: the default; 0: unlimited"
          control=${(/** @type {Record<string, unknown>} */ a) => html`<input ...${a} inputmode="numeric" value=${rate} onInput=${onInput(setRate)} />`} />
        <${Field} id="new-burst" label="Burst" error=${fields.burst} hint="Empty: the default"
          control=${(/** @type {Record<string, unknown>} */ a) => html`<input ...${a} inputmode="numeric" value=${burst} onInput=${onInput(setBurst)} />`} />
      </div>
      <div class="actions">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class=${`primary ${busy ? 'busy' : ''}`} disabled=${busy}>Create</button>
      </div>
    </form>
  <//>`;
}

/** @param {{tenant: import('../types.js').Tenant|null, onClose: () => void, onDeleted: (id: string) => void}} props */
export function DeleteTenantDialog({ tenant, onClose, onDeleted }) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const close = () => { setTyped(''); setError(null); onClose(); };
  /** @param {Event} e */
  const submit = async (e) => {
    e.preventDefault();
    if (!tenant || typed !== tenant.name) return;
    setBusy(true);
    setError(null);
    try {
      await deleteTenant(tenant.id);
      actions.tenantGone(tenant.id);
      actions.toast('ok', `Tenant ${tenant.name} is being deleted: its pool stops and its queues and messages go.`);
      onDeleted(tenant.id);
      close();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<${Dialog} open=${tenant !== null} onClose=${close} title="Delete a tenant">
    ${tenant && html`<form onSubmit=${submit}>
      <p>Deleting <strong>${tenant.name}</strong> stops its workers and removes its queues, its messages and its dead letters. This cannot be undone.</p>
      <${ProblemView} error=${error} />
      <${Field} id="delete-confirm" label=${`Type the tenant's name (${tenant.name}) to confirm`}
        control=${(/** @type {Record<string, unknown>} */ a) => html`<input ...${a} autocomplete="off" value=${typed} onInput=${(/** @type {any} */ e) => setTyped(e.currentTarget.value)} />`} />
      <div class="actions">
        <button type="button" onClick=${close}>Cancel</button>
        <button type="submit" class=${`danger ${busy ? 'busy' : ''}`} disabled=${busy || typed !== tenant.name}>Delete ${tenant.name}</button>
      </div>
    </form>`}
  <//>`;
}
