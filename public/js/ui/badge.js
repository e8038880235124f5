// badge: a status word with its colour (the word itself carries the meaning).
import { html } from '../../vendor/htm-preact.js';

/** @param {{value: string}} props */
export function Badge({ value }) {
  return html`<span class=${`badge ${value}`}>${value}</span>`;
}
