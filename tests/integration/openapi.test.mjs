// public/openapi.json, the OpenAPI 3.1 document of the API: it is valid as
// far as these tests can tell (every $ref resolves, every schema is valid
// JSON Schema 2020-12 for ajv in strict mode, see tests/harness/schema.mjs),
// it names exactly the routes of cgi-bin/dispatch.c with their access rules and bodies (so the two cannot
// drift), the answers of a live stack conform to it (status documented,
// Content-Type, body schema, required headers), and lighttpd serves it at
// GET /api/openapi.json byte for byte.
import { test, describe as suite, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startStack } from '../harness/stack.mjs';
import { request, describe } from '../harness/http.mjs';
import { waitFor } from '../harness/util.mjs';
import { amqpPublish } from '../harness/amqp.mjs';
import { checkSchema, resolvePointer, validate } from '../harness/schema.mjs';
import { OPENAPI_FILE, loadOpenapi, routeTable, operations, conformance } from '../harness/openapi.mjs';

const doc = loadOpenapi();

/** Every {$ref} in the document with where it is. */
function refs(node, at = '#', out = []) {
  if (Array.isArray(node)) node.forEach((v, i) => refs(v, `${at}/${i}`, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref') out.push({ ref: v, at });
      else refs(v, `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, out);
    }
  }
  return out;
}

// ------------------------------------------------------------------ static

suite('the document', () => {
  test('parses and is OpenAPI 3.1 with info and servers', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(typeof doc.info.title, 'string');
    assert.equal(typeof doc.info.version, 'string');
    assert.ok(doc.info.description.length > 100, 'info.description describes the API');
    assert.deepEqual(doc.servers, [{ url: '/' }]);
    assert.ok(doc.paths && Object.keys(doc.paths).length > 0);
    const text = fs.readFileSync(OPENAPI_FILE, 'utf8');
    assert.ok(text.endsWith('\n'), 'the file ends with a newline');
  });

  test('every $ref resolves', () => {
    const all = refs(doc);
    assert.ok(all.length > 50, `expected the document to reuse components, found ${all.length} $refs`);
    const bad = [];
    for (const { ref, at } of all) {
      try { resolvePointer(doc, ref); } catch (e) { bad.push(`${at}: ${e.message}`); }
    }
    assert.deepEqual(bad, []);
  });

  test('every component is used, and every schema uses only keywords the validator checks', () => {
    const used = new Set(refs(doc).map((r) => r.ref));
    const unused = [];
    for (const kind of ['schemas', 'parameters', 'responses', 'headers']) {
      for (const name of Object.keys(doc.components[kind] || {})) {
        if (!used.has(`#/components/${kind}/${name}`)) unused.push(`${kind}/${name}`);
      }
    }
    // MethodNotAllowed is what every undocumented method of a known path answers.
    assert.deepEqual(unused.filter((u) => u !== 'responses/MethodNotAllowed'), [], 'unused components');
    const problems = [];
    for (const [name, s] of Object.entries(doc.components.schemas)) problems.push(...checkSchema(s, `schemas/${name}`, { root: doc }));
    for (const { method, path: p, op } of operations(doc)) {
      for (const prm of op.parameters || []) {
        if (prm.schema) problems.push(...checkSchema(prm.schema, `${method} ${p} parameter ${prm.name}`, { root: doc }));
      }
      for (const [ct, media] of Object.entries(op.requestBody?.content || {})) problems.push(...checkSchema(media.schema, `${method} ${p} body ${ct}`, { root: doc }));
      for (const [status, r] of Object.entries(op.responses)) {
        for (const [ct, media] of Object.entries(r.content || {})) problems.push(...checkSchema(media.schema, `${method} ${p} ${status} ${ct}`, { root: doc }));
      }
    }
    for (const [name, h] of Object.entries(doc.components.headers)) problems.push(...checkSchema(h.schema, `headers/${name}`, { root: doc }));
    for (const [name, prm] of Object.entries(doc.components.parameters)) problems.push(...checkSchema(prm.schema, `parameters/${name}`, { root: doc }));
    assert.deepEqual(problems, []);
  });

  test('every request and response body has an example, and each example matches its schema', () => {
    const problems = [];
    let checked = 0;
    const media = [];
    for (const { method, path: p, op } of operations(doc)) {
      for (const [ct, m] of Object.entries(op.requestBody?.content || {})) media.push([`${method} ${p} request ${ct}`, ct, m]);
      for (const [status, r] of Object.entries(op.responses)) {
        if (r.$ref) continue; // a component, checked below
        for (const [ct, m] of Object.entries(r.content || {})) media.push([`${method} ${p} ${status} ${ct}`, ct, m]);
      }
    }
    for (const [name, r] of Object.entries(doc.components.responses)) {
      for (const [ct, m] of Object.entries(r.content || {})) media.push([`responses/${name} ${ct}`, ct, m]);
    }
    for (const [where, ct, m] of media) {
      const examples = m.examples ? Object.entries(m.examples).map(([k, e]) => [`${where} examples/${k}`, e.value]) : [];
      if (m.example !== undefined) examples.push([`${where} example`, m.example]);
      if (examples.length === 0) problems.push(`${where}: no example`);
      for (const [at, value] of examples) {
        if (!/json$/.test(ct.split(';')[0].trim()) && typeof value !== 'string') problems.push(`${at}: a ${ct} example must be a string`);
        for (const e of validate(m.schema, value, { root: doc, path: at })) problems.push(e);
        checked++;
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(checked >= 50, `only ${checked} examples checked`);
  });

  test('info.version is the release, the Makefile\'s VERSION', () => {
    const makefile = fs.readFileSync(new URL('../../Makefile', import.meta.url), 'utf8');
    const m = /^VERSION := (\S+)$/m.exec(makefile);
    assert.ok(m, 'the Makefile sets VERSION');
    assert.equal(doc.info.version, m[1]);
  });

  test('operations: unique operationIds, described responses, declared path parameters, known security schemes', () => {
    const ids = new Set();
    const problems = [];
    const deref = (x) => (x && x.$ref ? resolvePointer(doc, x.$ref) : x);
    for (const { method, path: p, op } of operations(doc)) {
      const where = `${method} ${p}`;
      if (!op.operationId) problems.push(`${where}: no operationId`);
      else if (ids.has(op.operationId)) problems.push(`${where}: operationId ${op.operationId} is used twice`);
      ids.add(op.operationId);
      if (!op.summary) problems.push(`${where}: no summary`);
      const params = (op.parameters || []).map(deref);
      const inPath = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const name of inPath) {
        const prm = params.find((x) => x.in === 'path' && x.name === name);
        if (!prm) problems.push(`${where}: path parameter {${name}} is not declared`);
        else if (prm.required !== true) problems.push(`${where}: path parameter {${name}} must be required`);
      }
      for (const prm of params.filter((x) => x.in === 'path')) {
        if (!inPath.includes(prm.name)) problems.push(`${where}: parameter ${prm.name} is not in the path`);
      }
      for (const [status, r] of Object.entries(op.responses)) {
        if (!/^[1-5][0-9][0-9]$/.test(status)) problems.push(`${where}: response key ${status}`);
        if (typeof deref(r).description !== 'string') problems.push(`${where} ${status}: no description`);
      }
      const security = op.security ?? doc.security;
      for (const req of security) {
        for (const name of Object.keys(req)) if (!doc.components.securitySchemes[name]) problems.push(`${where}: unknown security scheme ${name}`);
      }
    }
    assert.deepEqual(problems, []);
    const bearer = doc.components.securitySchemes.bearerAuth;
    assert.deepEqual({ type: bearer.type, scheme: bearer.scheme, bearerFormat: bearer.bearerFormat }, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  });
});

// ------------------------------------------------------------------ route table

suite('the document and cgi-bin/dispatch.c', () => {
  const key = (m, p) => `${m} ${p}`;
  test('the route table parses', () => {
    const routes = routeTable();
    assert.ok(routes.some((r) => r.path === '/api/health'), JSON.stringify(routes));
  });

  test('name the same (method, path) pairs', () => {
    const routes = routeTable();
    const inCode = routes.map((r) => key(r.method, r.path)).sort();
    // Operations served by another process (x-mtm-server: mtm-events) are not in dispatch.c.
    const inDoc = operations(doc).filter((o) => !o.op['x-mtm-server']).map((o) => key(o.method, o.path)).sort();
    assert.equal(new Set(inCode).size, inCode.length, `duplicate routes in dispatch.c: ${inCode}`);
    const missing = inCode.filter((k) => !inDoc.includes(k));
    const extra = inDoc.filter((k) => !inCode.includes(k));
    assert.deepEqual({ missing_from_openapi: missing, not_in_dispatch: extra }, { missing_from_openapi: [], not_in_dispatch: [] });
  });

  test('agree on access rule, route label, handler and request body for each route', () => {
    const routes = routeTable();
    const problems = [];
    for (const r of routes) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()];
      if (!op) continue; // reported by the test above
      const where = key(r.method, r.path);
      const access = r.access.replace(/^API_/, '').toLowerCase();
      if (op['x-mtm-access'] !== access) problems.push(`${where}: x-mtm-access is ${op['x-mtm-access']}, dispatch.c says ${r.access}`);
      if (op['x-mtm-route'] !== r.name) problems.push(`${where}: x-mtm-route is ${op['x-mtm-route']}, dispatch.c names it ${r.name}`);
      if (op.operationId !== r.handler.replace(/^api_/, '')) problems.push(`${where}: operationId ${op.operationId}, handler ${r.handler}`);
      const isPublic = access === 'public';
      const security = op.security ?? doc.security;
      if (isPublic && security.length !== 0) problems.push(`${where}: public in dispatch.c but the document asks for a token`);
      if (!isPublic && (security.length === 0 || security.some((s) => Object.keys(s).length === 0))) problems.push(`${where}: needs a token but the document makes it optional`);
      if (!isPublic) {
        for (const s of ['401', '403']) if (!op.responses[s]) problems.push(`${where}: needs a token but documents no ${s}`);
      }
      const flags = r.flags.split('|').map((f) => f.trim());
      if (flags.includes('JSON') || flags.includes('MTM_ROUTE_JSON_BODY')) {
        if (!op.requestBody || op.requestBody.required !== true) problems.push(`${where}: reads a JSON body; requestBody must be required`);
        for (const s of ['400', '413']) if (!op.responses[s]) problems.push(`${where}: reads a body but documents no ${s}`);
      } else if (flags.includes('BODY') || flags.includes('MTM_ROUTE_OPTIONAL_BODY')) {
        if (!op.requestBody || op.requestBody.required !== false) problems.push(`${where}: takes an optional body; requestBody.required must be false`);
        for (const s of ['400', '413']) if (!op.responses[s]) problems.push(`${where}: reads a body but documents no ${s}`);
      } else if (op.requestBody) {
        problems.push(`${where}: dispatch.c reads no body but the document has a requestBody`);
      }
    }
    assert.deepEqual(problems, []);
  });
});

// ------------------------------------------------------------------ live

suite('a live stack answers as documented', () => {
  let stack;
  let admin;
  const seen = new Map(); // "METHOD template status" -> count, for the report at the end

  before(async () => {
    // One delivery, then the dead-letter store: a foreign message reaches it at once.
    stack = await startStack({ env: { MTM_MAX_ATTEMPTS: '1', MTM_RETRY_BASE_MS: '10', MTM_METRICS_TOKEN: 'scrape-' + 'x'.repeat(40) } });
    await stack.waitReady();
  });

  after(async () => {
    if (stack) await stack.stop();
  });

  /** One request; asserts that the answer conforms to the document and (if given) has `status`. */
  async function call(method, path, { status, token = admin, ...opts } = {}) {
    const o = { ...opts };
    if (token) o.token = token;
    if ((method === 'POST' || method === 'PUT') && o.body === undefined && o.json === undefined) o.body = '';
    const res = await request(stack.baseUrl, method, path, o);
    if (status !== undefined) assert.equal(res.status, status, describe(res));
    assert.deepEqual(conformance(doc, res), [], describe(res));
    const k = `${method} ${path.split('?')[0]} ${res.status}`;
    seen.set(k, (seen.get(k) || 0) + 1);
    return res;
  }

  const until = (what, fn, { timeoutMs = 15000 } = {}) =>
    waitFor(what, fn, { timeoutMs, describe: () => stack.describeLogs(['consumerd', 'mtm-api']) });

  test('health, readiness and login', async () => {
    await call('GET', '/api/health', { status: 200, token: null });
    await call('GET', '/api/ready', { status: 200, token: null });
    await call('POST', '/api/auth/login', { status: 401, token: null, json: { username: 'admin', password: 'wrong password' } });
    await call('POST', '/api/auth/login', { status: 422, token: null, json: { username: '', password: 'x', extra: 1 } });
    await call('POST', '/api/auth/login', { status: 400, token: null, body: '{"username":', headers: { 'content-type': 'application/json' } });
    const res = await call('POST', '/api/auth/login', { status: 200, token: null, json: { username: stack.env.MTM_ADMIN_USER, password: stack.env.MTM_ADMIN_PASSWORD } });
    admin = res.json.access_token;
  });

  test('errors outside any operation: unknown path 404, wrong method 405 with Allow, no token 401', async () => {
    await call('GET', '/api/nothing-here', { status: 404 });
    const r = await call('DELETE', '/api/health', { status: 405 });
    assert.equal(r.headers.get('allow'), 'GET', describe(r));
    await call('GET', '/api/tenants', { status: 401, token: null });
    await call('GET', '/api/tenants', { status: 401, token: 'not.a.token' });
  });

  test('tenants, messages, dead letters, tokens, audit and metrics', async () => {
    // create: invalid, valid, taken
    await call('POST', '/api/tenants', { status: 422, json: { name: ' padded', concurrency: 0 } });
    await call('POST', '/api/tenants', { status: 422, json: { name: 'x'.repeat(65) } });
    await call('POST', '/api/tenants', { status: 400, body: '{', headers: { 'content-type': 'application/json' } });
    const created = await call('POST', '/api/tenants', { status: 201, json: { name: 'OpenAPI conformance', concurrency: 2 } });
    const id = created.json.id;
    await call('POST', '/api/tenants', { status: 409, json: { name: 'openapi CONFORMANCE' } });
    const other = (await call('POST', '/api/tenants', { status: 201, json: { name: 'other tenant' } })).json.id;

    // list, with a cursor
    const page1 = await call('GET', '/api/tenants?limit=1', { status: 200 });
    assert.equal(typeof page1.json.next_cursor, 'string', describe(page1));
    const page2 = await call('GET', `/api/tenants?limit=1&cursor=${encodeURIComponent(page1.json.next_cursor)}`, { status: 200 });
    assert.equal(page2.json.next_cursor, null, describe(page2));
    await call('GET', '/api/tenants?limit=0', { status: 422 });
    await call('GET', '/api/tenants?cursor=bm90LWEtY3Vyc29y', { status: 400 });
    await call('GET', '/api/tenants?status=paused&name=openapi', { status: 200 });
    await call('GET', '/api/tenants?status=sleeping', { status: 422 });
    await call('GET', '/api/overview', { status: 200 });
    await call('GET', '/api/overview', { status: 401, token: null });
    await call('GET', '/api/events', { status: 401, token: null }); // served by mtm-events
    await call('GET', '/api/alerts', { status: 200 });
    await call('GET', '/api/alerts?status=later', { status: 422 });
    await call('POST', '/api/alerts/webhook', { status: 401, token: null, json: { alerts: [] } });
    await call('POST', '/api/alerts/webhook', { status: 200, json: { alerts: [] } });
    await call('POST', '/api/alerts/webhook', { status: 422, json: { alerts: [{ status: 'x' }] } });
    await call('GET', '/api/prometheus/query_range?query=up', { status: 503 }); // no Prometheus here
    await call('GET', '/api/prometheus/query_range?query=up&limit=1', { status: 422 });

    // read (also once consumerd has reported its live figures)
    await call('GET', `/api/tenants/${id}`, { status: 200 });
    await call('GET', '/api/tenants/not-a-uuid', { status: 404 });
    await call('GET', '/api/tenants/00000000-0000-4000-8000-000000000000', { status: 404 });
    await until('live figures of the new tenant', async () => {
      const r = await call('GET', `/api/tenants/${id}`, { status: 200 });
      return r.json.status_updated_at !== null && r.json.workers.running === 2;
    });

    // configuration
    await call('PUT', `/api/tenants/${id}/config/concurrency`, { status: 200, json: { concurrency: 1 } });
    await call('PUT', `/api/tenants/${id}/config/concurrency`, { status: 422, json: { concurrency: 65 } });
    await call('PUT', `/api/tenants/${id}/config/rate_limit`, { status: 200, json: { rate: 1000, burst: 2000 } });
    await call('PUT', `/api/tenants/${id}/config/rate_limit`, { status: 422, json: { burst: 0 } });
    await call('POST', `/api/tenants/${id}/pause`, { status: 200 });
    await call('POST', `/api/tenants/${id}/resume`, { status: 200 });

    // publish: one, a batch with an Idempotency-Key and a traceparent, invalid ones
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const one = await call('POST', `/api/tenants/${id}/messages`, { status: 202, json: { payload: { hello: 'world' }, headers: { source: 'openapi' } } });
    assert.equal(typeof one.json.id, 'string', describe(one));
    const batch = await call('POST', `/api/tenants/${id}/messages`, {
      status: 202, json: { messages: [{ payload: 1 }, { payload: null }, { payload: ['x'] }] }, headers: { 'idempotency-key': 'openapi-batch', traceparent: tp },
    });
    assert.deepEqual(batch.json.ids, ['openapi-batch-0', 'openapi-batch-1', 'openapi-batch-2'], describe(batch));
    await call('POST', `/api/tenants/${id}/messages`, { status: 422, json: { messages: [] } });
    await call('POST', `/api/tenants/${id}/messages`, { status: 422, json: { payload: 1, headers: { h: 1 } } });
    await call('POST', `/api/tenants/${id}/messages`, { status: 422, json: { payload: 1 }, headers: { 'idempotency-key': 'k'.repeat(201) } });
    await call('POST', `/api/tenants/${id}/messages`, { status: 400, body: 'not json', headers: { 'content-type': 'application/json' } });
    await call('POST', '/api/tenants/00000000-0000-4000-8000-000000000000/messages', { status: 404, json: { payload: 1 } });

    // read them back, both listings, both orders, with cursors
    await until('4 stored messages', async () => {
      const r = await call('GET', `/api/tenants/${id}/messages?limit=10`, { status: 200 });
      return r.json.data.length === 4;
    });
    const asc = await call('GET', `/api/messages?tenant_id=${id}&order=asc&limit=3`, { status: 200 });
    assert.equal(asc.json.data.length, 3, describe(asc));
    assert.ok(asc.json.data.some((m) => m.trace_id === '0af7651916cd43dd8448eb211c80319c'), describe(asc));
    const rest = await call('GET', `/api/messages?tenant_id=${id}&order=asc&limit=3&cursor=${asc.json.next_cursor}`, { status: 200 });
    assert.equal(rest.json.data.length, 1, describe(rest));
    await call('GET', `/api/messages?tenant_id=${id}&order=desc&cursor=${asc.json.next_cursor}`, { status: 400 });
    await call('GET', `/api/messages?tenant_id=${id}&order=sideways`, { status: 422 });
    await call('GET', '/api/messages', { status: 422 });

    // a dead letter: a foreign producer's message that is not JSON
    await amqpPublish(stack.amqpUrl, `tenant_${id}_queue`, [{ body: Buffer.from('not json \u00e9') }]);
    await until('a dead letter', async () => {
      const r = await call('GET', `/api/tenants/${id}/dlq`, { status: 200 });
      return r.json.data.length === 1;
    });
    await call('GET', `/api/tenants/${id}/dlq?limit=1001`, { status: 422 });
    await call('POST', `/api/tenants/${id}/dlq/replay`, { status: 200, json: { ids: ['no-such-message'] } });
    await call('POST', `/api/tenants/${id}/dlq/replay`, { status: 422, json: { ids: [] } });
    await call('DELETE', `/api/tenants/${id}/dlq`, { status: 200 });
    await call('POST', `/api/tenants/${id}/dlq/replay`, { status: 200 });

    // tenant tokens
    const issued = await call('POST', `/api/tenants/${id}/tokens`, { status: 201, json: { ttl: 600 } });
    await call('POST', `/api/tenants/${id}/tokens`, { status: 201 });
    await call('POST', `/api/tenants/${id}/tokens`, { status: 422, json: { ttl: 59 } });
    await call('GET', `/api/tenants/${id}/tokens`, { status: 200 });
    const tenantToken = issued.json.token;
    await call('GET', `/api/tenants/${id}`, { status: 200, token: tenantToken });
    await call('GET', '/api/messages?limit=1', { status: 200, token: tenantToken });
    await call('GET', `/api/tenants/${other}`, { status: 403, token: tenantToken });
    await call('GET', `/api/messages?tenant_id=${other}`, { status: 403, token: tenantToken });
    await call('GET', '/api/tenants', { status: 403, token: tenantToken });
    await call('DELETE', `/api/tenants/${id}/tokens/${issued.json.jti}`, { status: 204 });
    await call('DELETE', `/api/tenants/${id}/tokens/00000000-0000-4000-8000-000000000000`, { status: 404 });
    await call('GET', `/api/tenants/${id}`, { status: 401, token: tenantToken });

    // audit and metrics
    await call('GET', '/api/audit?limit=5', { status: 200 });
    await call('GET', '/api/metrics', { status: 200 });
    await call('GET', '/api/metrics', { status: 200, token: stack.env.MTM_METRICS_TOKEN });

    // delete: 202, then a publish is refused, then 404
    const del = await call('DELETE', `/api/tenants/${id}`, { status: 202 });
    assert.equal(del.json.status, 'deleting', describe(del));
    const refused = await call('POST', `/api/tenants/${id}/messages`, { json: { payload: 1 } });
    assert.ok(refused.status === 409 || refused.status === 404, describe(refused));
    await until('the deleted tenant to be gone', async () => (await call('GET', `/api/tenants/${id}`)).status === 404);
    await call('DELETE', `/api/tenants/${other}`, { status: 202 });
  });

  test('the answers checked above covered every documented operation', () => {
    const covered = new Set();
    for (const k of seen.keys()) {
      const [method, p] = k.split(' ');
      const tmpl = operations(doc).find((o) => o.method === method && new RegExp(`^${o.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(p));
      if (tmpl) covered.add(`${tmpl.method} ${tmpl.path}`);
    }
    const all = operations(doc).map((o) => `${o.method} ${o.path}`);
    assert.deepEqual(all.filter((k) => !covered.has(k)), [], 'operations no live answer was checked against');
  });

  test('GET /api/openapi.json through lighttpd is public/openapi.json, byte for byte', async () => {
    const res = await fetch(stack.baseUrl + '/api/openapi.json', { signal: AbortSignal.timeout(5000) });
    const body = Buffer.from(await res.arrayBuffer());
    // A 404 or 401 here is a failure (lighttpd.conf lost the rewrite of
    // /api/openapi.json to /openapi.json, or the route needs a token).
    assert.equal(res.status, 200, `GET /api/openapi.json -> ${res.status}: ${body.toString('utf8').slice(0, 300)}`);
    assert.match(res.headers.get('content-type') || '', /^application\/json\b/);
    assert.ok(body.equals(fs.readFileSync(OPENAPI_FILE)), 'the served bytes differ from public/openapi.json');
    // HEAD and a query string reach the same file
    const head = await fetch(stack.baseUrl + '/api/openapi.json?x=1', { method: 'HEAD', signal: AbortSignal.timeout(5000) });
    assert.equal(head.status, 200);
  });
});
