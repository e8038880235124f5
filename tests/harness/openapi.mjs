// The OpenAPI document (public/openapi.json) and the responder's route table
// (cgi-bin/dispatch.c), for tests that keep the two in step and check live
// answers against the document.
//
//   const doc = loadOpenapi();
//   const routes = routeTable();                  // [{method, path, name, flags, access, handler}]
//   const problems = conformance(doc, res);       // res from http.mjs request(); [] when it conforms
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './util.mjs';
import { validate, resolvePointer } from './schema.mjs';

export const OPENAPI_FILE = path.join(REPO, 'public', 'openapi.json');
export const DISPATCH_FILE = path.join(REPO, 'cgi-bin', 'dispatch.c');
export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export function loadOpenapi(file = OPENAPI_FILE) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/**
 * The entries of `static const struct api_route routes[] = {...};` in
 * dispatch.c, each `{{method, path, name, flags}, access, handler}`, as
 * {method, path, name, flags, access, handler} in table order.
 * Throws when the table cannot be found or an entry does not parse, so a
 * change of its shape fails loudly instead of matching nothing.
 */
export function routeTable(file = DISPATCH_FILE) {
  const text = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
  const m = /struct\s+api_route\s+routes\s*\[\s*\]\s*=\s*\{([\s\S]*?)\n\s*\}\s*;/.exec(text);
  if (!m) throw new Error(`${file}: no "struct api_route routes[] = {...};" table found`);
  const body = m[1];
  const out = [];
  const entry = /\{\s*\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*"([^"]+)"\s*,\s*([^,{}]+?)\s*\}\s*,\s*([A-Z_][A-Z0-9_]*)\s*,\s*([A-Za-z_]\w*)\s*\}/g;
  let e;
  while ((e = entry.exec(body)) !== null) {
    out.push({ method: e[1], path: e[2], name: e[3], flags: e[4], access: e[5], handler: e[6] });
  }
  const braces = (body.replace(/"[^"]*"/g, '""').match(/\{\s*\{/g) || []).length;
  if (braces !== out.length) {
    throw new Error(`${file}: the route table has ${braces} entries but only ${out.length} parsed; update routeTable() in tests/harness/openapi.mjs`);
  }
  if (out.length === 0) throw new Error(`${file}: the route table is empty`);
  return out;
}

/** Every (method, path, operation) of the document. */
export function operations(doc) {
  const out = [];
  for (const [p, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) if (item[method]) out.push({ method: method.toUpperCase(), path: p, op: item[method], item });
  }
  return out;
}

function templateRegex(template) {
  const src = template.split(/(\{[^}]+\})/).map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${src}$`);
}

/**
 * The document's operation for a concrete request: {template, op} or
 * {template, op: null} (path known, method not) or null (path unknown).
 * A template with fewer parameters wins over one with more, as in the router.
 */
export function findOperation(doc, method, urlPath) {
  const p = urlPath.split('?')[0];
  const matches = Object.keys(doc.paths).filter((t) => templateRegex(t).test(p))
    .sort((a, b) => (a.match(/\{/g) || []).length - (b.match(/\{/g) || []).length);
  if (!matches.length) return null;
  const m = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
  for (const t of matches) if (doc.paths[t][m]) return { template: t, op: doc.paths[t][m] };
  return { template: matches[0], op: null };
}

const deref = (doc, x) => (x && x.$ref ? deref(doc, resolvePointer(doc, x.$ref)) : x);

function mediaType(ct) {
  return (ct || '').split(';')[0].trim().toLowerCase();
}

/** Checks one header value against a header object of the document. */
function checkHeader(doc, name, h, value, problems) {
  if (value === null) {
    if (h.required) problems.push(`header ${name} is required but missing`);
    return;
  }
  const schema = deref(doc, h.schema) || {};
  let v = value;
  if (schema.type === 'integer') {
    if (!/^[0-9]+$/.test(value)) {
      problems.push(`header ${name}: ${JSON.stringify(value)} is not an integer`);
      return;
    }
    v = Number(value);
  }
  for (const e of validate(h.schema, v, { root: doc, path: `header ${name}` })) problems.push(e);
}

/**
 * Checks a response (http.mjs request() result) against the document:
 * the status is documented for the operation, the Content-Type is one the
 * document gives for it (and a response without content in the document has
 * an empty body), the JSON body validates against the schema, and every
 * documented header that is required is present and valid. Requests to
 * unknown paths must be the documented 404 (components/responses/NotFound),
 * known paths with another method the 405 (MethodNotAllowed). Returns a
 * list of problems, [] when the response conforms.
 */
export function conformance(doc, res) {
  const problems = [];
  const found = findOperation(doc, res.method, res.path);
  let response;
  let where;
  if (!found) {
    where = `${res.method} ${res.path} (no such path)`;
    if (res.status !== 404) problems.push(`${where}: expected 404, got ${res.status}`);
    response = doc.components.responses.NotFound;
  } else if (!found.op) {
    where = `${res.method} ${found.template} (method not documented)`;
    if (res.status !== 405) problems.push(`${where}: expected 405, got ${res.status}`);
    response = doc.components.responses.MethodNotAllowed;
  } else {
    where = `${res.method} ${found.template}`;
    response = found.op.responses[String(res.status)] || found.op.responses.default;
    if (!response) {
      problems.push(`${where}: status ${res.status} is not documented (documented: ${Object.keys(found.op.responses).join(', ')})`);
      return problems;
    }
  }
  response = deref(doc, response);

  for (const [name, h] of Object.entries(response.headers || {})) {
    checkHeader(doc, name, deref(doc, h), res.headers.get(name), problems);
  }

  const ct = res.headers.get('content-type');
  if (!response.content) {
    if (res.text !== '') problems.push(`${where} ${res.status}: the document gives no content, but the body is ${JSON.stringify(res.text.slice(0, 100))}`);
    return problems.map((p) => (p.startsWith(where) ? p : `${where} ${res.status}: ${p}`));
  }
  const keys = Object.keys(response.content);
  const key = keys.find((k) => k.replace(/\s+/g, '').toLowerCase() === (ct || '').replace(/\s+/g, '').toLowerCase())
    || keys.find((k) => mediaType(k) === mediaType(ct));
  if (!key) {
    problems.push(`${where} ${res.status}: Content-Type ${ct} is not one of ${keys.join(', ')}`);
    return problems;
  }
  const schema = response.content[key].schema;
  if (/json$/.test(mediaType(key))) {
    let body;
    try {
      body = JSON.parse(res.text);
    } catch (e) {
      problems.push(`${where} ${res.status}: the body is not JSON (${e.message})`);
      return problems;
    }
    for (const e of validate(schema, body, { root: doc })) problems.push(`${where} ${res.status}: ${e}`);
  } else {
    for (const e of validate(schema, res.text, { root: doc })) problems.push(`${where} ${res.status}: ${e}`);
  }
  return problems.map((p) => (p.startsWith(where) ? p : `${where} ${res.status}: ${p}`));
}
