// field: a labelled input with its hint and its error, tied together with
// aria-describedby so that a screen reader reads them with the input.
import { html } from '../../vendor/htm-preact.js';

/**
 * @param {{id: string, label: string, error?: string, hint?: string,
 *   children?: unknown, control?: (attrs: Record<string, unknown>) => unknown}} props
 * control gets the attributes to spread on the input.
 */
export function Field({ id, label, error, hint, control }) {
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  const attrs = { id, 'aria-invalid': error ? 'true' : undefined, 'aria-describedby': described };
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${control ? control(attrs) : null}
    ${hint && html`<div class="hint" id=${`${id}-hint`}>${hint}</div>`}
    ${error && html`<div class="error" id=${`${id}-error`}>${error}</div>`}
  </div>`;
}
