// copy: a button that copies a text and says so (announced politely).
import { html, useState } from '../../vendor/htm-preact.js';

/** @param {{text: string, label?: string}} props */
export function CopyButton({ text, label = 'Copy' }) {
  const [state, setState] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('Copied');
    } catch {
      setState('Copy failed: select the text instead');
    }
    setTimeout(() => setState(''), 2000);
  };
  return html`<button type="button" class="small" onClick=${copy}>${label}</button>
    <span class="visually-hidden" aria-live="polite">${state}</span>${state && html` <small>${state}</small>`}`;
}
