// store: the console's state in one place, changed only by the named
// actions below. Whatever brings news (a click, an API answer, later the
// event stream) goes through the same action, so a page is right however
// an update arrived. Views read with useStore() and re-render on change.
import { useEffect, useState } from '../vendor/htm-preact.js';

/** @typedef {import('./types.js').Tenant} Tenant */
/** @typedef {import('./types.js').Session} Session */

/**
 * @typedef {{id: number, kind: 'ok'|'error', text: string}} Toast
 * @typedef {import('./api.js').StreamState} StreamState
 * @typedef {import('./types.js').Overview & {rates?: {stored_per_s: number, published_per_s: number}}} LiveOverview
 * @typedef {import('./types.js').Alert} Alert
 * @typedef {{
 *   session: Session|null,
 *   loginNotice: string,
 *   tenants: Record<string, Tenant>,
 *   toasts: Toast[],
 *   stream: StreamState,
 *   overview: LiveOverview|null,
 *   resync: number,
 *   deadLetters: Record<string, number>,
 *   alerts: Record<string, Alert>,
 * }} State
 */

/** @type {State} */
let state = {
  session: null, loginNotice: '', tenants: {}, toasts: [],
  stream: 'off', overview: null, resync: 0, deadLetters: {}, alerts: {},
};
/** @type {Set<() => void>} */
const listeners = new Set();
let nextToast = 1;
/** Toasts shown at once (results of actions: the newest matter). */
const TOASTS_MAX = 3;

function emit() {
  for (const fn of [...listeners]) fn();
}

/** @param {Partial<State>} patch */
function set(patch) {
  state = { ...state, ...patch };
  emit();
}

export function getState() {
  return state;
}

/**
 * Subscribes the calling component to a slice of the state.
 * @template T
 * @param {(s: State) => T} select
 * @returns {T}
 */
export function useStore(select) {
  const [value, setValue] = useState(() => select(state));
  useEffect(() => {
    const update = () => setValue(() => select(state));
    listeners.add(update);
    update();
    return () => {
      listeners.delete(update);
    };
  }, []);
  return value;
}

// ---- actions ------------------------------------------------------------

export const actions = {
  /** @param {Session} session */
  sessionStarted(session) {
    set({ session, loginNotice: '' });
  },
  /** @param {string} notice why, shown on the login form ('' for a plain logout) */
  sessionEnded(notice) {
    set({ session: null, loginNotice: notice, tenants: {}, overview: null, deadLetters: {}, alerts: {} });
  },
  /**
   * The event stream connected, dropped or reconnected. After a reconnect
   * views read their lists again (resync): what happened meanwhile may not
   * all have been sent.
   * @param {StreamState} s
   */
  streamState(s) {
    const again = s === 'live' && state.stream === 'reconnecting';
    set({ stream: s, resync: again ? state.resync + 1 : state.resync });
  },
  /** One event from GET /api/events, fed to the same actions as user clicks. @param {import('./api.js').StreamEvent} e */
  eventArrived(e) {
    switch (e.event) {
      case 'tenant': actions.tenantSeen(e.data); break;
      case 'tenant.deleted': actions.tenantGone(e.data.id); break;
      case 'overview': set({ overview: e.data }); break;
      case 'dead_letter': {
        const id = e.data.tenant_id;
        set({ deadLetters: { ...state.deadLetters, [id]: (state.deadLetters[id] || 0) + 1 } });
        break;
      }
      case 'alert': actions.alertSeen(e.data); break;
      case 'reset': set({ resync: state.resync + 1 }); break;
      default: break;
    }
  },
  /** @param {Alert} a */
  alertSeen(a) {
    const alerts = { ...state.alerts };
    if (a.status === 'resolved') delete alerts[a.fingerprint];
    else alerts[a.fingerprint] = a;
    set({ alerts });
  },
  /** @param {Alert[]} list the firing alerts, as GET /api/alerts lists them */
  alertsSeen(list) {
    /** @type {Record<string, Alert>} */
    const alerts = {};
    for (const a of list) alerts[a.fingerprint] = a;
    set({ alerts });
  },
  /** A tenant as the API just described it. @param {Tenant} t */
  tenantSeen(t) {
    set({ tenants: { ...state.tenants, [t.id]: t } });
  },
  /** @param {Tenant[]} list */
  tenantsSeen(list) {
    const tenants = { ...state.tenants };
    for (const t of list) tenants[t.id] = t;
    set({ tenants });
  },
  /** @param {string} id */
  tenantGone(id) {
    const tenants = { ...state.tenants };
    delete tenants[id];
    set({ tenants });
  },
  /** @param {'ok'|'error'} kind @param {string} text */
  toast(kind, text) {
    const t = { id: nextToast++, kind, text };
    // At most TOASTS_MAX at once: the oldest goes, errors included.
    set({ toasts: [...state.toasts, t].slice(-TOASTS_MAX) });
    if (kind === 'ok') setTimeout(() => actions.dismissToast(t.id), 5000);
  },
  /** @param {number} id */
  dismissToast(id) {
    set({ toasts: state.toasts.filter((t) => t.id !== id) });
  },
};
