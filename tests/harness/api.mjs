// A small client of mtm's REST API for the integration tests: every request
// goes through Api.req(), which sends api.token (from makeApi's {token}) as
// the bearer token unless a request passes its own {token} (null: none).
//
//   const api = makeApi(stack, { token: await stack.adminToken() });
//   const t = await api.createTenant('acme', 4);     // asserts 201, returns the tenant
//   await api.waitWorkers(t.id, 4);                  // polls workers.running
import assert from 'node:assert/strict';
import { request, describe, assertProblem } from './http.mjs';
import { sleep } from './util.mjs';

export { describe };

/**
 * How long consumerd may take to show a change as workers.running: the
 * contract is "applied within 1 s", and consumerd writes the live figures
 * every second, so a reader may see them up to one status period late.
 * Polling 1.5 s allows for that cadence without hiding a slow apply.
 */
export const APPLY_WITHIN_MS = 1500;

/** The partition name of a tenant: messages_<uuid without dashes>. */
export const partitionName = (id) => `messages_${id.replace(/-/g, '')}`;

/** The broker queues of a tenant. */
export const queueNames = (id) => [`tenant_${id}_queue`, `tenant_${id}_retry`];

export class Api {
  constructor(stack, { token } = {}) {
    this.stack = stack;
    this.token = token;
  }

  /**
   * One request (see http.mjs request); adds the token when there is one.
   * opts.base sends it to another front end (frontend.mjs's fe.baseUrl).
   */
  req(method, path, opts = {}) {
    const o = { ...opts };
    if (this.token && o.token === undefined) o.token = this.token;
    // lighttpd answers 411 to a POST/PUT without Content-Length: always send a body
    if ((method === 'POST' || method === 'PUT') && o.body === undefined && o.json === undefined) o.body = '';
    return request(o.base || this.stack.baseUrl, method, path, o);
  }

  get(path, opts) { return this.req('GET', path, opts); }

  /** POST /api/tenants; asserts 201 and a Location naming the tenant; resolves the tenant. */
  async createTenant(name, concurrency) {
    const json = concurrency === undefined ? { name } : { name, concurrency };
    const res = await this.req('POST', '/api/tenants', { json });
    assert.equal(res.status, 201, `create tenant ${JSON.stringify(name)}: ${describe(res)}`);
    assert.ok(res.json && typeof res.json.id === 'string', `create: no id: ${describe(res)}`);
    assert.equal(res.headers.get('location'), `/api/tenants/${res.json.id}`, `create: Location header: ${describe(res)}`);
    return res.json;
  }

  getTenant(id) { return this.req('GET', `/api/tenants/${id}`); }

  /** GET one tenant, asserting 200; resolves the tenant. */
  async tenant(id) {
    const res = await this.getTenant(id);
    assert.equal(res.status, 200, describe(res));
    return res.json;
  }

  deleteTenant(id) { return this.req('DELETE', `/api/tenants/${id}`); }

  setConcurrency(id, concurrency) {
    return this.req('PUT', `/api/tenants/${id}/config/concurrency`, { json: { concurrency } });
  }

  pause(id) { return this.req('POST', `/api/tenants/${id}/pause`); }

  resume(id) { return this.req('POST', `/api/tenants/${id}/resume`); }

  /** Publishes one message ({payload, headers?}) or a batch ({messages: [...]}). */
  publish(id, body, { idempotencyKey, timeoutMs } = {}) {
    const headers = idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey };
    return this.req('POST', `/api/tenants/${id}/messages`, { json: body, headers, timeoutMs });
  }

  /** Publishes a batch of n messages, asserting 202; resolves the ids. */
  async publishBatch(id, n, tag = 'm') {
    const messages = Array.from({ length: n }, (_, i) => ({ payload: { tag, i } }));
    const res = await this.publish(id, { messages }, { timeoutMs: 15000 });
    assert.equal(res.status, 202, `publish ${n} to ${id}: ${describe(res)}`);
    assert.ok(res.json && Array.isArray(res.json.ids) && res.json.ids.length === n, `publish: expected ${n} ids: ${describe(res)}`);
    return res.json.ids;
  }

  /** Every tenant, walking the cursor pages. */
  async listAll(limit = 1000) {
    const out = [];
    let cursor = null;
    for (let page = 0; page < 10000; page++) {
      const q = `limit=${limit}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : '');
      const res = await this.get(`/api/tenants?${q}`);
      assert.equal(res.status, 200, describe(res));
      out.push(...res.json.data);
      cursor = res.json.next_cursor;
      if (!cursor) return out;
    }
    throw new Error('listAll: more than 10000 pages');
  }

  /**
   * Polls GET /api/tenants/{id} until accept(tenant) holds; resolves
   * {tenant, elapsed}. On timeout throws with `what` and the last answer.
   */
  async waitTenant(id, what, accept, { timeoutMs = 10000, intervalMs = 50, describeExtra } = {}) {
    const start = Date.now();
    let last;
    for (;;) {
      last = await this.getTenant(id);
      if (last.status === 200 && accept(last.json)) return { tenant: last.json, elapsed: Date.now() - start };
      if (Date.now() - start > timeoutMs) {
        let msg = `tenant ${id}: ${what} not seen within ${timeoutMs} ms; last answer: ${describe(last)}`;
        if (describeExtra) msg += '\n' + describeExtra();
        throw new Error(msg);
      }
      await sleep(intervalMs);
    }
  }

  /**
   * Polls until workers.running == n; resolves the elapsed ms. With
   * freshAfter (epoch ms), the figure must also have been written after that
   * moment (status_updated_at), so a value left by an earlier consumerd run
   * does not count.
   */
  async waitWorkers(id, n, { timeoutMs = APPLY_WITHIN_MS, describeExtra, freshAfter } = {}) {
    const what = `workers.running == ${n}` + (freshAfter ? ` written after ${new Date(freshAfter).toISOString()}` : '');
    const { elapsed } = await this.waitTenant(id, what, (t) => t.workers && t.workers.running === n &&
      (!freshAfter || (t.status_updated_at && Date.parse(t.status_updated_at) >= freshAfter)), {
      timeoutMs, describeExtra,
    });
    return elapsed;
  }

  /** Polls until GET answers 404; resolves the elapsed ms. */
  async waitGone(id, { timeoutMs = 15000, describeExtra } = {}) {
    const start = Date.now();
    let last;
    for (;;) {
      last = await this.getTenant(id);
      if (last.status === 404) return Date.now() - start;
      if (Date.now() - start > timeoutMs) {
        let msg = `tenant ${id}: GET did not answer 404 within ${timeoutMs} ms after DELETE; last answer: ${describe(last)}`;
        if (describeExtra) msg += '\n' + describeExtra();
        throw new Error(msg);
      }
      await sleep(100);
    }
  }
}

export function makeApi(stack, opts) {
  return new Api(stack, opts);
}

/**
 * Asserts a problem+json answer with `status` whose errors[] names `field`
 * (an entry {field, message}). Returns the entry.
 */
export function assertFieldError(res, status, field) {
  assertProblem(res, status);
  const errors = res.json.errors;
  assert.ok(Array.isArray(errors), `expected errors[] naming field "${field}": ${describe(res)}`);
  const e = errors.find((x) => x && x.field === field);
  assert.ok(e, `expected errors[] to name field "${field}", got fields ${JSON.stringify(errors.map((x) => x && x.field))}: ${describe(res)}`);
  assert.equal(typeof e.message, 'string', `errors entry for "${field}" needs a message: ${describe(res)}`);
  return e;
}

// ---------------------------------------------------------------- database and broker state

/** Does the tenants row exist? */
export async function rowExists(stack, id) {
  return (await stack.psql(`SELECT count(*) FROM tenants WHERE id = '${id}'`)) === '1';
}

/** Does the tenant's partition exist (pg_class), and is it attached to messages (pg_inherits)? */
export async function partitionState(stack, id) {
  const name = partitionName(id);
  const out = await stack.psql(`SELECT (SELECT count(*) FROM pg_class WHERE relname = '${name}'),
    (SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass AND inhrelid::regclass::text = '${name}')`);
  const [cls, inh] = out.split('|').map(Number);
  return { exists: cls > 0, attached: inh > 0 };
}

/** Number of partitions attached to messages. */
export async function partitionCount(stack) {
  return Number(await stack.psql(`SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass`));
}

/** Number of relations named messages_<32 hex> (attached or not). */
export async function partitionLikeCount(stack) {
  return Number(await stack.psql(`SELECT count(*) FROM pg_class WHERE relname ~ '^messages_[0-9a-f]{32}$'`));
}

/** Stored message ids of a tenant as {ids: string[], total, distinct}. */
export async function storedIds(stack, id) {
  const counts = await stack.psql(`SELECT count(*), count(DISTINCT id) FROM messages WHERE tenant_id = '${id}'`);
  const [total, distinct] = counts.split('|').map(Number);
  const text = await stack.psql(`SELECT id FROM messages WHERE tenant_id = '${id}'`, { timeoutMs: 60000 });
  return { ids: text ? text.split('\n') : [], total, distinct };
}

export async function storedCount(stack, id) {
  return Number(await stack.psql(`SELECT count(*) FROM messages WHERE tenant_id = '${id}'`));
}

/**
 * Waits until the tenant has `expected` stored messages (or timeout), then
 * asserts the stored ids are exactly `sent` (no message missing, none extra)
 * and that count(*) = count(DISTINCT id).
 */
export async function assertStoredExactlyOnce(stack, id, sent, { timeoutMs = 60000, what = '' } = {}) {
  const start = Date.now();
  let n = 0;
  for (;;) {
    n = await storedCount(stack, id);
    if (n >= sent.length || Date.now() - start > timeoutMs) break;
    await sleep(250);
  }
  const { ids, total, distinct } = await storedIds(stack, id);
  const sentSet = new Set(sent);
  const storedSet = new Set(ids);
  assert.equal(sentSet.size, sent.length, `${what}the API answered 202 with ${sent.length} ids but only ${sentSet.size} are distinct`);
  const missing = sent.filter((x) => !storedSet.has(x));
  const extra = ids.filter((x) => !sentSet.has(x));
  assert.equal(total, distinct, `${what}count(*) = ${total} but count(DISTINCT id) = ${distinct}: some message stored twice`);
  assert.deepEqual({ missing: missing.length, extra: extra.length }, { missing: 0, extra: 0 },
    `${what}${sent.length} messages answered 202, ${total} stored after ${Date.now() - start} ms; ` +
    `missing ${missing.length} (e.g. ${JSON.stringify(missing.slice(0, 5))}), ` +
    `unexpected ${extra.length} (e.g. ${JSON.stringify(extra.slice(0, 5))})`);
  return Date.now() - start;
}

/**
 * A background publisher: posts batches of `batch` messages to tenant `id`
 * in a loop (pausing `gapMs` between batches) until stop() is called.
 * stop() resolves {ids, failures, batches}: the ids of every message
 * answered 202, and the answers that were not 202.
 */
export function startPublisher(api, id, { batch = 25, gapMs = 20, tag = 'bg' } = {}) {
  let stopping = false;
  const ids = [];
  const failures = [];
  let batches = 0;
  const loop = (async () => {
    while (!stopping) {
      const messages = Array.from({ length: batch }, (_, i) => ({ payload: { tag, batch: batches, i } }));
      let res;
      try {
        res = await api.publish(id, { messages }, { timeoutMs: 15000 });
      } catch (e) {
        failures.push(e.message);
        await sleep(100);
        continue;
      }
      batches++;
      if (res.status === 202 && res.json && Array.isArray(res.json.ids)) ids.push(...res.json.ids);
      else failures.push(describe(res));
      if (gapMs) await sleep(gapMs);
    }
  })();
  return {
    ids,
    failures,
    get batches() { return batches; },
    async stop() {
      stopping = true;
      await loop;
      return { ids, failures, batches };
    },
  };
}

/** The value of a sample in consumerd's metrics textfile, or undefined. */
export function metricValue(text, name, labels) {
  const want = Object.entries(labels || {}).map(([k, v]) => `${k}="${v}"`).join(',');
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = (m[2] || '{}').slice(1, -1);
    if (got === want) return Number(m[3]);
  }
  return undefined;
}
