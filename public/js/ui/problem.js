// problem: an API error as readable text (title, detail, the fields at
// fault), or any other error's message. Never a blank page.
import { html } from '../../vendor/htm-preact.js';
import { ApiError } from '../api.js';

/** @param {{error: unknown, onRetry?: () => void}} props */
export function ProblemView({ error, onRetry }) {
  if (!error) return null;
  const api = error instanceof ApiError ? error : null;
  const title = api ? api.problem.title : 'Something went wrong';
  const detail = api ? api.problem.detail : String(error instanceof Error ? error.message : error);
  const errors = api?.problem.errors || [];
  return html`<div class="problem" role="alert">
    <strong>${title}${api && api.status ? ` (${api.status})` : ''}</strong>
    <span>${detail}</span>
    ${errors.length > 0 && html`<ul>${errors.map((e) => html`<li><code>${e.field}</code>: ${e.message}</li>`)}</ul>`}
    ${onRetry && html`<div class="actions"><button type="button" onClick=${onRetry}>Try again</button></div>`}
  </div>`;
}
