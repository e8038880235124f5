// apiref: the OpenAPI document rendered by Swagger UI (vendored from npm),
// loaded only when this page is opened.
import { html, useEffect, useRef, useState } from '../../vendor/htm-preact.js';
import { ProblemView } from '../ui/problem.js';
import { loadAssets } from '../ui/assets.js';

const loadSwagger = () => loadAssets('/vendor/swagger-ui/swagger-ui-bundle.js', '/vendor/swagger-ui/swagger-ui.css', 'Swagger UI');

export function ApiReference() {
  /** @type {{current: HTMLDivElement|null}} */
  const ref = useRef(null);
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let stopped = false;
    loadSwagger().then(() => {
      if (stopped || !ref.current) return;
      /** @type {any} */ (window).SwaggerUIBundle({
        url: '/api/openapi.json',
        domNode: ref.current,
        deepLinking: false,
        tryItOutEnabled: false,
        supportedSubmitMethods: [],
      });
      setReady(true);
    }, (e) => { if (!stopped) setError(e); });
    return () => { stopped = true; };
  }, []);
  return html`<div class="page-head"><h1>API reference</h1>
      <a href="/api/openapi.json">openapi.json</a></div>
    <${ProblemView} error=${error} />
    ${!ready && !error && html`<p class="busy">Loading the reference</p>`}
    <div class="apiref" ref=${ref}></div>`;
}
