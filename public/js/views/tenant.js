// tenant: one tenant: its numbers, its settings (concurrency, rate limit,
// pause, resume, delete) and tabs for its messages, a publish form, its
// dead letters, its tokens and its audit entries. Refreshed every 5 s, and
// every second while workers.running has not reached the concurrency set.
import { html, useEffect, useRef, useState } from '../../vendor/htm-preact.js';
import { ApiError, getTenant, pauseTenant, resumeTenant, setConcurrency, setRateLimit } from '../api.js';
import { num, rateLimit, time } from '../format.js';
import { actions, useStore } from '../store.js';
import { navigate } from '../router.js';
import { Badge } from '../ui/badge.js';
import { CopyButton } from '../ui/copy.js';
import { Field } from '../ui/field.js';
import { ProblemView } from '../ui/problem.js';
import { DeleteTenantDialog, wholeNumber } from './tenantforms.js';
import { MessagesTab } from './messages.js';
import { PublishTab } from './publish.js';
import { DeadLettersTab } from './deadletters.js';
import { TokensTab } from './tokens.js';
import { TenantAuditTab } from './audit.js';
import { Charts } from './charts.js';

/** @param {{label: string, value: unknown, id?: string}} props */
function Stat({ label, value, id }) {
  return html`<div class="stat" id=${id}><div class="label">${label}</div><div class="value">${value}</div></div>`;
}

/** @param {{tenant: import('../types.js').Tenant}} props */
function ConcurrencyForm({ tenant }) {
  const [value, setValue] = useState(String(tenant.concurrency));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [fieldError, setFieldError] = useState('');
  useEffect(() => setValue(String(tenant.concurrency)), [tenant.concurrency]);
  /** @param {Event} e */
  const submit = async (e) => {
    e.preventDefault();
    const n = wholeNumber(value);
    if (n === undefined || n === null || n < 1) {
      setFieldError('must be a whole number of at least 1');
      return;
    }
    setFieldError('');
    setError(null);
    setBusy(true);
    try {
      actions.tenantSeen(await setConcurrency(tenant.id, n));
    } catch (err) {
      if (err instanceof ApiError && err.fields.concurrency) setFieldError(err.fields.concurrency);
      else setError(err);
    } finally {
      setBusy(false);
    }
  };
  const applying = tenant.status === 'active' && tenant.workers.running !== tenant.concurrency;
  return html`<form class="card" onSubmit=${submit} aria-labelledby="conc-h">
    <h2 id="conc-h">Concurrency</h2>
    <${ProblemView} error=${error} />
    <div class="inline-fields">
      <${Field} id="set-concurrency" label="Workers" error=${fieldError}
        control=${(/** @type {Record<string, unknown>} */ a) => html`<input ...${a} inputmode="numeric" value=${value} onInput=${(/** @type {any} */ e) => setValue(e.currentTarget.value)} />`} />
      <div class="field"><button type="submit" class=${busy ? 'busy' : ''} disabled=${busy}>Set concurrency</button></div>
    </div>
    <p id="workers-state" class=${applying ? 'applying' : ''} aria-live="polite">
      ${applying ? `Applying: ${tenant.workers.running} of ${tenant.concurrency} workers running` : `${tenant.workers.running} of ${tenant.concurrency} workers running`}
    </p>
  </form>`;
}

/** @param {{tenant: import('../types.js').Tenant}} props */
function RateLimitForm({ tenant }) {
  const [rate, setRate] = useState(tenant.publish_limit.rate === null ? '' : String(tenant.publish_limit.rate));
  const [burst, setBurst] = useState(tenant.publish_limit.burst === null ? '' : String(tenant.publish_limit.burst));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(/** @type {unknown} */ (null));
  /** @type {[Record<string, string>, (f: Record<string, string>) => void]} */
  const [fields, setFields] = useState({});
  /** @param {{rate: number|null, burst?: number}} body */
  const save = async (body) => {
    setBusy(true);
    setError(null);
    try {
      const t = await setRateLimit(tenant.id, body);
      actions.tenantSeen(t);
      setRate(t.publish_limit.rate === null ? '' : String(t.publish_limit.rate));
      setBurst(t.publish_limit.burst === null ? '' : String(t.publish_limit.burst));
      actions.toast('ok', `Rate limit of ${tenant.name}: ${rateLimit(t.publish_limit)}.`);
    } catch (err) {
      if (err instanceof ApiError) setFields(err.fields);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  /** @param {Event} e */
  const submit = (e) => {
    e.preventDefault();
    const r = wholeNumber(rate), b = wholeNumber(burst);
    /** @type {Record<string, string>} */
    const bad = {};
    if (r === undefined || r === null) bad.rate = 'must be a whole number (0: unlimited)';
    if (b === null) bad.burst = 'must be a whole number';
    setFields(bad);
    if (Object.keys(bad).length) return;
    save(b === undefined ? { rate: /** @type {number} */ (r) } : { rate: /** @type {number} */ (r), burst: /** @type {number} */ (b) });
  };
  return html`<form class="card" onSubmit=${submit} aria-labelledby="rate-h">
    <h2 id="rate-h">Publish rate limit</h2>
    <p>Now: <strong>${rateLimit(tenant.publish_limit)}</strong></p>
    <${ProblemView} error=${error} />
    <div class="inline-fields">
      <${Field} id="set-rate" label="Messages per second" error=${fields.rate} hint="0: unlimited"
        control=${(/** @type {Record<string, unknown>} */ a) => html`<input ...${a} inputmode="numeric" value=${rate} onInput=${(/** @type {any} */ e) => setRate(e.currentTarget.value)} />`} />
      <${Field} id="set-burst" label="Burst" error=${fields.burst} hint="Empty: the default"
        control=${(/** @type {Record<string, unknown>} */ a) => html`<input ...${a} inputmode="numeric" value=${burst} onInput=${(/** @type {any} */ e) => setBurst(e.currentTarget.value)} />`} />
    </div>
    <div class="actions">
      <button type="submit" class=${busy ? 'busy' : ''} disabled=${busy}>Set rate limit</button>
      <button type="button" disabled=${busy || tenant.publish_limit.rate === null} onClick=${() => save({ rate: null })}>Use the default</button>
    </div>
  </form>`;
}

/** @param {{id: string, tab: string, admin: boolean}} props */
export function TenantPage({ id, tab, admin }) {
  const tenant = useStore((s) => s.tenants[id]);
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [deleting, setDeleting] = useState(false);
  const [busy, setBusy] = useState(false);
  const applying = tenant && tenant.status === 'active' && tenant.workers.running !== tenant.concurrency;
  const live = useStore((s) => s.stream === 'live');
  const resync = useStore((s) => s.resync);
  const read = useRef('');

  // Read once (and again after a reconnect); while the event stream is
  // live it brings every change, otherwise poll.
  useEffect(() => {
    let stopped = false;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    let timer;
    const tick = async () => {
      try {
        const t = await getTenant(id);
        // The store keys tenants by id, so what was read is right even if
        // this effect has been replaced meanwhile (the stream going live
        // re-runs it, and the new run does not read again).
        actions.tenantSeen(t);
        if (stopped) return;
        setError(null);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) actions.tenantGone(id);
        if (stopped) return;
        setError(e);
      }
      if (!stopped && !live) timer = setTimeout(tick, applying ? 1000 : 5000);
    };
    if (!live || !read.current || read.current !== `${id}/${resync}`) {
      read.current = `${id}/${resync}`;
      tick();
    } else if (!live) {
      timer = setTimeout(tick, applying ? 1000 : 5000);
    }
    return () => { stopped = true; clearTimeout(timer); };
  }, [id, applying, live, resync]);

  if (!tenant) {
    return html`<${ProblemView} error=${error} onRetry=${() => location.reload()} />
      ${!error && html`<p class="busy">Loading the tenant</p>`}
      ${admin && html`<p><a href="#/tenants">Back to the tenants</a></p>`}`;
  }

  const toggle = async () => {
    setBusy(true);
    try {
      actions.tenantSeen(tenant.status === 'paused' ? await resumeTenant(id) : await pauseTenant(id));
    } catch (e) {
      actions.toast('error', e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const tabs = [['messages', 'Messages'], ['publish', 'Publish'], ['dlq', `Dead letters (${num(tenant.dlq_depth)})`]];
  if (admin) tabs.push(['tokens', 'Tokens'], ['audit', 'Audit']);
  const current = tabs.some(([k]) => k === tab) ? tab : 'messages';
  let body;
  switch (current) {
    case 'publish': body = html`<${PublishTab} tenant=${tenant} />`; break;
    case 'dlq': body = html`<${DeadLettersTab} tenant=${tenant} />`; break;
    case 'tokens': body = html`<${TokensTab} tenant=${tenant} />`; break;
    case 'audit': body = html`<${TenantAuditTab} tenant=${tenant} />`; break;
    default: body = html`<${MessagesTab} tenant=${tenant} />`;
  }

  return html`<div class="page-head">
      <div>
        <h1>${tenant.name} <${Badge} value=${tenant.status} /></h1>
        <div class="sub"><code>${tenant.id}</code> <${CopyButton} text=${tenant.id} label="Copy id" /> · created ${time(tenant.created_at)}</div>
      </div>
      ${admin && tenant.status !== 'deleting' && html`<div class="actions">
        <button type="button" class=${busy ? 'busy' : ''} disabled=${busy} onClick=${toggle}>${tenant.status === 'paused' ? 'Resume' : 'Pause'}</button>
        <button type="button" class="danger" onClick=${() => setDeleting(true)}>Delete</button>
      </div>`}
    </div>
    <${ProblemView} error=${error} />
    <div class="cards" aria-label="Counters">
      <${Stat} id="t-depth" label="Queue depth" value=${num(tenant.queue_depth)} />
      <${Stat} id="t-dlq" label="Dead letters" value=${num(tenant.dlq_depth)} />
      <${Stat} id="t-workers" label="Workers running / busy / set" value=${`${num(tenant.workers.running)} / ${num(tenant.workers.busy)} / ${num(tenant.concurrency)}`} />
      <${Stat} label="Consumed" value=${num(tenant.counters.consumed)} />
      <${Stat} id="t-stored" label="Stored" value=${num(tenant.counters.stored)} />
      <${Stat} label="Failed deliveries" value=${num(tenant.counters.failed)} />
      <${Stat} label="Dead-lettered" value=${num(tenant.counters.dead_lettered)} />
      <${Stat} label="Rate limit" value=${rateLimit(tenant.publish_limit)} />
    </div>
    <p class="sub">Figures last changed ${time(tenant.status_updated_at)}; counters restart with consumerd.</p>
    ${admin && tenant.status !== 'deleting' && html`<div class="settings">
      <${ConcurrencyForm} tenant=${tenant} />
      <${RateLimitForm} tenant=${tenant} />
    </div>`}
    ${admin && html`<${Charts} tenant=${id} />`}
    <nav class="tabs" aria-label="Tenant">
      ${tabs.map(([k, label]) => html`<a key=${k} href=${`#/tenants/${id}/${k}`} aria-current=${k === current ? 'page' : undefined}>${label}</a>`)}
    </nav>
    ${body}
    <${DeleteTenantDialog} tenant=${deleting ? tenant : null} onClose=${() => setDeleting(false)} onDeleted=${() => navigate('/tenants')} />`;
}
