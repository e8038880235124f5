// publish: a test message (or a batch) from the browser. The JSON is
// checked here before it is sent; the API's own refusals show beside the
// field they name.
import { html, useState } from '../../vendor/htm-preact.js';
import { ApiError, publish } from '../api.js';
import { actions } from '../store.js';
import { Field } from '../ui/field.js';
import { ProblemView } from '../ui/problem.js';

/** @param {string} text @returns {{ok: true, value: unknown}|{ok: false, why: string}} */
function parseJson(text) {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, why: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** @param {{tenant: import('../types.js').Tenant}} props */
export function PublishTab({ tenant }) {
  const [mode, setMode] = useState(/** @type {'single'|'batch'} */ ('single'));
  const [payload, setPayload] = useState('{\n  "hello": "world"\n}');
  const [headers, setHeaders] = useState('');
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(/** @type {unknown} */ (null));
  /** @type {[Record<string, string>, (f: Record<string, string>) => void]} */
  const [fields, setFields] = useState({});
  const [result, setResult] = useState(/** @type {string[]} */ ([]));

  /** @param {Event} e */
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setResult([]);
    /** @type {Record<string, string>} */
    const bad = {};
    const p = parseJson(payload);
    let body;
    if (!p.ok) {
      bad.payload = p.why;
    } else if (mode === 'batch') {
      if (!Array.isArray(p.value) || p.value.length < 1 || p.value.length > 1000) bad.payload = 'a batch is a JSON array of 1 to 1000 payloads';
      else body = { messages: p.value.map((v) => ({ payload: v })) };
    } else {
      /** @type {{payload: unknown, headers?: unknown}} */
      const single = { payload: p.value };
      body = single;
      if (headers.trim()) {
        const h = parseJson(headers);
        if (!h.ok) bad.headers = h.why;
        else if (!h.value || typeof h.value !== 'object' || Array.isArray(h.value) || Object.values(h.value).some((v) => typeof v !== 'string')) {
          bad.headers = 'must be a JSON object of strings';
        } else single.headers = h.value;
      }
    }
    setFields(bad);
    if (Object.keys(bad).length || !body) return;
    setBusy(true);
    try {
      const r = await publish(tenant.id, body, mode === 'single' && key.trim() ? key.trim() : undefined);
      const ids = r.ids || (r.id ? [r.id] : []);
      setResult(ids);
      actions.toast('ok', ids.length === 1 ? `Published ${ids[0]}.` : `Published ${ids.length} messages.`);
    } catch (err) {
      if (err instanceof ApiError) {
        // The API names payload, headers, messages[i].payload, Idempotency-Key.
        /** @type {Record<string, string>} */
        const f = {};
        for (const [k, v] of Object.entries(err.fields)) {
          const field = k.startsWith('messages') || k === 'payload' ? 'payload' : k === 'headers' ? 'headers' : k === 'Idempotency-Key' ? 'key' : '';
          if (field) f[field] = f[field] ? `${f[field]}; ${k}: ${v}` : `${k}: ${v}`;
        }
        setFields(f);
      }
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (tenant.status === 'deleting') return html`<p class="notice">This tenant is being deleted: it takes no more messages.</p>`;
  return html`<section aria-labelledby="pub-h">
    <h2 id="pub-h">Publish a test message</h2>
    <form onSubmit=${submit} aria-busy=${busy}>
      <fieldset class="field">
        <legend>Send</legend>
        <label class="check"><input type="radio" name="mode" value="single" checked=${mode === 'single'} onChange=${() => setMode('single')} /> one message</label>
        <label class="check"><input type="radio" name="mode" value="batch" checked=${mode === 'batch'} onChange=${() => setMode('batch')} /> a batch (a JSON array of payloads)</label>
      </fieldset>
      <${Field} id="pub-payload" label=${mode === 'batch' ? 'Payloads (JSON array)' : 'Payload (any JSON)'} error=${fields.payload}
        control=${(/** @type {Record<string, unknown>} */ a) => html`<textarea ...${a} rows="8" spellcheck="false" value=${payload} onInput=${(/** @type {any} */ e) => setPayload(e.currentTarget.value)}></textarea>`} />
      ${mode === 'single' && html`<${Field} id="pub-headers" label="Headers (optional JSON object of strings)" error=${fields.headers}
        control=${(/** @type {Record<string, unknown>} */ a) => html`<textarea ...${a} rows="3" spellcheck="false" placeholder='{"x-source": "console"}' value=${headers} onInput=${(/** @type {any} */ e) => setHeaders(e.currentTarget.value)}></textarea>`} />
      <${Field} id="pub-key" label="Idempotency-Key (optional)" error=${fields.key} hint="Publishing again with the same key stores the message once."
        control=${(/** @type {Record<string, unknown>} */ a) => html`<input ...${a} value=${key} onInput=${(/** @type {any} */ e) => setKey(e.currentTarget.value)} />`} />`}
      <${ProblemView} error=${error} />
      <button type="submit" class=${`primary ${busy ? 'busy' : ''}`} disabled=${busy}>Publish</button>
    </form>
    ${result.length > 0 && html`<div class="notice" role="status" id="publish-result">
      Accepted (202): ${result.length === 1 ? html`<code>${result[0]}</code>` : `${result.length} messages`}.
      The broker has it; a worker stores it in a moment. <a href=${`#/tenants/${tenant.id}/messages`}>See the messages</a>.
    </div>`}
  </section>`;
}
