// toasts: results of actions, announced in a polite live region.
import { html } from '../../vendor/htm-preact.js';
import { actions, useStore } from '../store.js';

export function Toasts() {
  const toasts = useStore((s) => s.toasts);
  return html`<div class="toasts" role="status" aria-live="polite">
    ${toasts.map((t) => html`<div class=${`toast ${t.kind}`} key=${t.id}>
      <div>${t.text}</div>
      <div class="actions"><button type="button" class="small" onClick=${() => actions.dismissToast(t.id)}>Dismiss</button></div>
    </div>`)}
  </div>`;
}
