// apiref: the OpenAPI document rendered by Swagger UI (vendored from npm),
// loaded only when this page is opened.
import { html, useEffect, useRef, useState } from '../../vendor/htm-preact.js';
import { ProblemView } from '../ui/problem.js';

/** @type {Promise<void>|null} */
let loading = null;

/** Loads Swagger UI's script and stylesheet once. */
function loadSwagger() {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = '/vendor/swagger-ui/swagger-ui.css';
      document.head.append(css);
      const s = document.createElement('script');
      s.src = '/vendor/swagger-ui/swagger-ui-bundle.js';
      s.onload = () => resolve();
      s.onerror = () => { loading = null; reject(new Error('Swagger UI could not be loaded (/vendor/swagger-ui/). Run make ui-deps.')); };
      document.head.append(s);
    });
  }
  return loading;
}

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
