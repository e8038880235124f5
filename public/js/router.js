// router: hash routes (#/tenants/<id>/dlq), so that lighttpd serves one
// static page and links, reloads and the back button all work.
import { useEffect, useState } from '../vendor/htm-preact.js';

/**
 * @typedef {{name: string, params: Record<string, string>, query: URLSearchParams}} Route
 */

/** @type {[RegExp, string, string[]][]} pattern, name, parameter names */
const ROUTES = [
  [/^\/login$/, 'login', []],
  [/^\/?$/, 'overview', []],
  [/^\/tenants$/, 'tenants', []],
  [/^\/tenants\/([0-9a-f-]{36})(?:\/(messages|publish|dlq|tokens|audit))?$/, 'tenant', ['id', 'tab']],
  [/^\/audit$/, 'audit', []],
  [/^\/alerts$/, 'alerts', []],
  [/^\/api$/, 'apiref', []],
];

/** @returns {Route} */
export function parse(hash = location.hash) {
  const raw = hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  for (const [re, name, keys] of ROUTES) {
    const m = re.exec(path);
    if (m) {
      /** @type {Record<string, string>} */
      const params = {};
      keys.forEach((k, i) => { if (m[i + 1]) params[k] = m[i + 1]; });
      return { name, params, query: new URLSearchParams(qs || '') };
    }
  }
  return { name: 'notfound', params: { path }, query: new URLSearchParams() };
}

/** @param {string} path e.g. "/tenants" */
export function navigate(path) {
  if (location.hash !== `#${path}`) location.hash = path;
}

/** The current route; re-renders on every change of the hash. @returns {Route} */
export function useRoute() {
  const [route, setRoute] = useState(() => parse());
  useEffect(() => {
    const on = () => setRoute(parse());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
