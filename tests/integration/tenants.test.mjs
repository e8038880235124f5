// The tenant resource over HTTP: creation (queues, partition and row appear
// together), validation of every field with the exact status and the field
// named in problem+json, listing with cursors, unknown and malformed ids
// (404, never 500), pause/resume, deletion, and creation while the broker is
// down (503 with nothing left behind).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../harness/stack.mjs';
import { assertProblem } from '../harness/http.mjs';
import { sleep } from '../harness/util.mjs';
import {
  makeApi, describe, assertFieldError, APPLY_WITHIN_MS, queueNames, partitionName,
  rowExists, partitionState, partitionCount, partitionLikeCount, storedCount, assertStoredExactlyOnce,
} from '../harness/api.mjs';

const MAX_CONCURRENCY = 64; // MTM_MAX_CONCURRENCY default

let stack;
let api;

before(async () => {
  stack = await startStack();
  await stack.waitReady();
  api = makeApi(stack, { token: await stack.adminToken() });
});

after(async () => {
  if (stack) await stack.stop();
});

const logs = () => stack.describeLogs(['consumerd', 'mtm-api']);

/** POST /api/tenants with a raw JSON text body. */
const createRaw = (body) => api.req('POST', '/api/tenants', { body, headers: { 'content-type': 'application/json' } });

/** Deletes tenants and waits until they are gone (cleanup between tests). */
async function deleteAll(ids) {
  for (const id of ids) {
    const r = await api.deleteTenant(id);
    assert.ok(r.status === 202 || r.status === 404, `cleanup DELETE: ${describe(r)}`);
  }
  for (const id of ids) await api.waitGone(id, { describeExtra: logs });
}

async function tenantRowsNamed(name) {
  return Number(await stack.psql(`SELECT count(*) FROM tenants WHERE lower(name) = lower('${name.replace(/'/g, "''")}')`));
}

// ------------------------------------------------------------------ create

test('POST /api/tenants: 201, Location, the tenant; its queues, partition and row exist; workers start', async (t_) => {
  const res = await api.req('POST', '/api/tenants', { json: { name: 'Acme Corp.', concurrency: 3 } });
  assert.equal(res.status, 201, describe(res));
  assert.match(res.headers.get('content-type') || '', /^application\/json\b/i, describe(res));
  const t = res.json;
  assert.match(t.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, `id must be a lowercase uuid: ${describe(res)}`);
  assert.equal(res.headers.get('location'), `/api/tenants/${t.id}`, describe(res));
  assert.equal(t.name, 'Acme Corp.', describe(res));
  assert.equal(t.status, 'active', describe(res));
  assert.equal(t.concurrency, 3, describe(res));
  for (const f of ['created_at', 'updated_at']) {
    assert.ok(typeof t[f] === 'string' && !Number.isNaN(Date.parse(t[f])), `${f} must be a timestamp: ${describe(res)}`);
  }
  assert.deepEqual(Object.keys(t.workers || {}).sort(), ['busy', 'running'], describe(res));
  assert.ok(t.queue_depth === null || Number.isInteger(t.queue_depth), `queue_depth null or integer: ${describe(res)}`);
  assert.equal(t.dlq_depth, 0, describe(res));
  assert.deepEqual(t.counters, { consumed: 0, stored: 0, failed: 0, dead_lettered: 0 }, describe(res));
  assert.ok('status_updated_at' in t, `status_updated_at missing: ${describe(res)}`);

  // The 201 promises the queues exist already (spec §3): no waiting here.
  const queues = await stack.listQueues();
  for (const q of queueNames(t.id)) assert.ok(queues.has(q), `queue ${q} must exist once 201 is sent; broker has ${JSON.stringify([...queues.keys()])}`);
  assert.equal(await rowExists(stack, t.id), true, 'tenants row');
  assert.deepEqual(await partitionState(stack, t.id), { exists: true, attached: true }, `partition ${partitionName(t.id)}`);

  const elapsed = await api.waitWorkers(t.id, 3, { timeoutMs: 5000, describeExtra: logs });
  const live = await api.tenant(t.id);
  assert.equal(live.queue_depth, 0, `queue_depth once consumerd reports: ${JSON.stringify(live)}`);
  assert.ok(typeof live.status_updated_at === 'string' && !Number.isNaN(Date.parse(live.status_updated_at)), `status_updated_at: ${JSON.stringify(live)}`);

  const got = await api.getTenant(t.id);
  assert.equal(got.status, 200, describe(got));
  assert.equal(got.json.name, 'Acme Corp.', describe(got));
  const again = await api.getTenant(t.id.toUpperCase());
  assert.ok(again.status === 200 || again.status === 404, `uppercase form of an existing id: 200 or 404, never ${again.status}: ${describe(again)}`);
  t_.diagnostic(`workers.running reached 3 ${elapsed} ms after the 201`);
  await deleteAll([t.id]);
});

test('POST /api/tenants: concurrency defaults to an integer within 1..MTM_MAX_CONCURRENCY; 1 and the maximum are accepted', async () => {
  const made = [];
  try {
    const d = await api.createTenant('default-concurrency');
    made.push(d.id);
    assert.ok(Number.isInteger(d.concurrency) && d.concurrency >= 1 && d.concurrency <= MAX_CONCURRENCY,
      `default concurrency ${d.concurrency} not within 1..${MAX_CONCURRENCY}`);
    const one = await api.createTenant('concurrency-one', 1);
    made.push(one.id);
    assert.equal(one.concurrency, 1);
    const max = await api.createTenant('concurrency-max', MAX_CONCURRENCY);
    made.push(max.id);
    assert.equal(max.concurrency, MAX_CONCURRENCY);
  } finally {
    await deleteAll(made);
  }
});

test('POST /api/tenants: valid names of 1..64 allowed characters are accepted as given', async () => {
  const names = ['a', '0', 'x'.repeat(64), 'Mixed Case. under_score-dash 9', 'a b', 'A.B_C-D'];
  const made = [];
  try {
    for (const name of names) {
      const t = await api.createTenant(name, 1);
      made.push(t.id);
      assert.equal(t.name, name, `name stored as given: sent ${JSON.stringify(name)}, got ${JSON.stringify(t.name)}`);
    }
  } finally {
    await deleteAll(made);
  }
});

test('POST /api/tenants: invalid names -> 422 naming "name", and no row is made', async (t) => {
  const cases = [
    ['empty', '""'],
    ['65 characters', JSON.stringify('x'.repeat(65))],
    ['leading space', '" lead"'],
    ['trailing space', '"trail "'],
    ['only a space', '" "'],
    ['slash', '"a/b"'],
    ['tab', '"a\\tb"'],
    ['newline', '"a\\nb"'],
    ['NUL', '"a\\u0000b"'],
    ['non-ASCII letter', '"na\\u00efve"'],
    ['emoji', '"x\\ud83d\\ude00"'],
    ['quote and semicolon', `"a'; DROP TABLE tenants; --"`],
    ['angle brackets', '"<script>"'],
    ['comma', '"a,b"'],
    ['number', '123'],
    ['null', 'null'],
    ['true', 'true'],
    ['array', '["a"]'],
    ['object', '{"n":"a"}'],
  ];
  for (const [what, value] of cases) {
    await t.test(`name ${what}: ${value}`, async () => {
      const before_ = Number(await stack.psql('SELECT count(*) FROM tenants'));
      const res = await createRaw(`{"name":${value},"concurrency":1}`);
      assertFieldError(res, 422, 'name');
      const after_ = Number(await stack.psql('SELECT count(*) FROM tenants'));
      assert.equal(after_, before_, `tenant rows before ${before_}, after ${after_}`);
    });
  }
  await t.test('name missing', async () => {
    assertFieldError(await createRaw('{"concurrency":1}'), 422, 'name');
  });
});

test('POST /api/tenants: a duplicate name (any case) -> 409 naming "name"; no second row', async () => {
  const first = await api.createTenant('Dup Name', 1);
  try {
    for (const name of ['Dup Name', 'dup name', 'DUP NAME', 'dUP nAME']) {
      const res = await api.req('POST', '/api/tenants', { json: { name, concurrency: 1 } });
      assertFieldError(res, 409, 'name');
    }
    assert.equal(await tenantRowsNamed('dup name'), 1, 'rows named "dup name" in any case');
    const queues = [...(await stack.listQueues()).keys()];
    const tenantQueues = queues.filter((q) => q.startsWith('tenant_'));
    const ids = (await stack.psql('SELECT id FROM tenants')).split('\n').filter(Boolean);
    const expected = ids.flatMap(queueNames).sort();
    assert.deepEqual(tenantQueues.sort(), expected, 'a refused duplicate must not leave a queue behind');
  } finally {
    await deleteAll([first.id]);
  }
});

test('POST /api/tenants: invalid concurrency -> 422 naming "concurrency"', async (t) => {
  const cases = ['0', '-1', String(MAX_CONCURRENCY + 1), '1025', '"5"', '5.0', '5.5', '1e30', '-1e30', 'null', 'true', 'false', '[1]', '{}', '99999999999999999999'];
  for (const value of cases) {
    await t.test(`concurrency ${value}`, async () => {
      const res = await createRaw(`{"name":"conc-${Buffer.from(value).toString('hex').slice(0, 40)}","concurrency":${value}}`);
      assertFieldError(res, 422, 'concurrency');
      assert.equal(await tenantRowsNamed(`conc-${Buffer.from(value).toString('hex').slice(0, 40)}`), 0, 'no row made');
    });
  }
});

test('POST /api/tenants: unknown fields -> 422 naming the field; malformed JSON -> 400; a body that is not an object -> 422 "body"', async (t) => {
  await t.test('one unknown field', async () => {
    const res = await createRaw('{"name":"unknown-field","concurrency":1,"colour":"red"}');
    assertFieldError(res, 422, 'colour');
    assert.equal(await tenantRowsNamed('unknown-field'), 0, 'no row made');
  });
  await t.test('two unknown fields are both named', async () => {
    const res = await createRaw('{"name":"unknown-fields","id":"x","status":"paused"}');
    assertFieldError(res, 422, 'id');
    assertFieldError(res, 422, 'status');
  });
  for (const body of ['{"name":', '{name:"x"}', '{"name":"x",}', "{'name':'x'}", '{"name":"x"} trailing', '\u00ff\u00fe', '']) {
    await t.test(`malformed JSON ${JSON.stringify(body)} -> 400`, async () => {
      assertProblem(await createRaw(body), 400);
    });
  }
  for (const body of ['[]', '[{"name":"x"}]', '"x"', '1', 'null', 'true']) {
    await t.test(`body ${body} -> 422 "body"`, async () => {
      assertFieldError(await createRaw(body), 422, 'body');
    });
  }
});

// ------------------------------------------------------------------ list

test('GET /api/tenants: cursor pages in creation order, no repeats or gaps; default limit 50, next_cursor null at the end', async () => {
  const made = [];
  try {
    for (let i = 0; i < 51; i++) made.push((await api.createTenant(`page-${String(i).padStart(2, '0')}`, 1)).id);

    const full = await api.get('/api/tenants');
    assert.equal(full.status, 200, describe(full));
    assert.ok(Array.isArray(full.json.data), describe(full));
    assert.equal(full.json.data.length, 50, `default page size: got ${full.json.data.length}`);
    assert.equal(typeof full.json.next_cursor, 'string', `51+ tenants: next_cursor must be a string: ${describe(full)}`);

    const all = await api.listAll(1000);
    const allIds = all.map((x) => x.id);
    const ours = allIds.filter((id) => made.includes(id));
    assert.deepEqual(ours, made, 'the tenants made must be listed in creation order');
    for (let i = 1; i < all.length; i++) {
      assert.ok(all[i - 1].created_at <= all[i].created_at, `not ordered by creation at ${i}: ${all[i - 1].created_at} then ${all[i].created_at}`);
    }

    // walk with limit=7 while creating more tenants in between: no repeat, no gap
    const walked = [];
    let cursor = null;
    let pages = 0;
    const extra = [];
    do {
      const res = await api.get(`/api/tenants?limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(res.status, 200, describe(res));
      assert.ok(res.json.data.length <= 7, `page ${pages} has ${res.json.data.length} > 7 entries`);
      assert.ok('next_cursor' in res.json, describe(res));
      walked.push(...res.json.data.map((x) => x.id));
      cursor = res.json.next_cursor;
      if (pages === 2) {
        const e = await api.createTenant(`page-extra-${pages}`, 1);
        extra.push(e.id);
        made.push(e.id);
      }
      pages++;
    } while (cursor && pages < 100);
    assert.equal(cursor, null, 'the last page must have next_cursor null');
    assert.equal(new Set(walked).size, walked.length, `pages repeated a tenant: ${walked.length} listed, ${new Set(walked).size} distinct`);
    assert.deepEqual(walked, [...allIds, ...extra], 'walking pages of 7 must list every tenant once, in order, including one created meanwhile');

    const last = await api.get(`/api/tenants?limit=1000`);
    assert.equal(last.json.next_cursor, null, `everything fits in 1000: ${describe(last)}`);
    const one = await api.get('/api/tenants?limit=1');
    assert.equal(one.status, 200, describe(one));
    assert.equal(one.json.data.length, 1, describe(one));
  } finally {
    await deleteAll(made);
  }
});

test('GET /api/tenants: bad limit -> 422 naming "limit"; bad cursor -> 400 naming "cursor"', async (t) => {
  for (const limit of ['0', '1001', 'x', '-5', '2.5', '1e2', '', '%20']) {
    await t.test(`limit=${limit}`, async () => {
      assertFieldError(await api.get(`/api/tenants?limit=${limit}`), 422, 'limit');
    });
  }
  for (const cursor of ['garbage', '!!!', 'AAAAAAAAAAAAAAAAAAAA', Buffer.from('{"after":1}').toString('base64url'), 'x'.repeat(500)]) {
    await t.test(`cursor=${cursor.slice(0, 30)}`, async () => {
      assertFieldError(await api.get(`/api/tenants?cursor=${encodeURIComponent(cursor)}`), 400, 'cursor');
    });
  }
});

// ------------------------------------------------------------------ unknown and malformed ids

test('GET /api/tenants?name=&status=: the name part in any case and the status narrow the pages; bad values -> 422 naming the parameter', async (t) => {
  const tag = Date.now().toString(36);
  const a = await api.createTenant(`Filter-Alpha-${tag}`, 1);
  const b = await api.createTenant(`filter-beta-${tag}`, 1);
  const c = await api.createTenant(`other-gamma-${tag}`, 1);
  assert.equal((await api.pause(b.id)).status, 200);
  try {
    const ids = async (q) => {
      const out = [];
      let cursor = null;
      do {
        const res = await api.get(`/api/tenants?limit=1&${q}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(res.status, 200, describe(res));
        out.push(...res.json.data.map((x) => x.id));
        cursor = res.json.next_cursor;
      } while (cursor);
      return out;
    };
    await t.test('name, any case, walked a page of 1 at a time', async () => {
      assert.deepEqual(await ids(`name=FILTER-${tag.toUpperCase()}`), []);
      assert.deepEqual(await ids(`name=${encodeURIComponent(`ALPHA-${tag}`)}`), [a.id]);
      assert.deepEqual(await ids(`name=${encodeURIComponent(`-${tag}`)}`), [a.id, b.id, c.id]);
      const mine = (list) => list.filter((x) => [a.id, b.id, c.id].includes(x));
      assert.deepEqual(mine(await ids('name=filter-')), [a.id, b.id]);
    });
    await t.test('status, and both together', async () => {
      const paused = await ids('status=paused');
      assert.ok(paused.includes(b.id) && !paused.includes(a.id) && !paused.includes(c.id), JSON.stringify(paused));
      assert.deepEqual(await ids(`status=active&name=${encodeURIComponent(`-${tag}`)}`), [a.id, c.id]);
    });
    await t.test('a wildcard is text, not a pattern', async () => {
      assert.deepEqual(await ids('name=%25'), []);
      assert.deepEqual(await ids('name=_'), []);
    });
    await t.test('bad values -> 422 naming the parameter', async () => {
      assertFieldError(await api.get('/api/tenants?status=running'), 422, 'status');
      assertFieldError(await api.get(`/api/tenants?name=${'n'.repeat(65)}`), 422, 'name');
    });
  } finally {
    await deleteAll([a.id, b.id, c.id]);
  }
});

test('GET /api/overview: tenants by status and the sums of depths, dead letters and workers; admin only', async () => {
  const before_ = await api.get('/api/overview');
  assert.equal(before_.status, 200, describe(before_));
  const t = await api.createTenant(`overview-${Date.now().toString(36)}`, 2);
  try {
    await api.waitWorkers(t.id, 2, { timeoutMs: 5000, describeExtra: logs });
    const res = await api.get('/api/overview');
    assert.equal(res.status, 200, describe(res));
    const o = res.json;
    assert.deepEqual(Object.keys(o).sort(), ['dlq_depth', 'queue_depth', 'tenants', 'workers']);
    assert.equal(o.tenants.total, before_.json.tenants.total + 1, describe(res));
    assert.equal(o.tenants.active, before_.json.tenants.active + 1, describe(res));
    assert.equal(o.tenants.total, o.tenants.active + o.tenants.paused + o.tenants.deleting);
    assert.equal(o.workers.configured, before_.json.workers.configured + 2, describe(res));
    const total = Number(await stack.psql('SELECT count(*) FROM tenants'));
    assert.equal(o.tenants.total, total);
    const tok = await api.req('POST', `/api/tenants/${t.id}/tokens`);
    assert.equal(tok.status, 201, describe(tok));
    assertProblem(await api.get('/api/overview', { token: tok.json.token }), 403);
    assertProblem(await api.get('/api/overview', { token: null }), 401);
  } finally {
    await deleteAll([t.id]);
  }
});

test('unknown or malformed tenant ids -> 404 on every tenant route, never 500', async (t) => {
  const ids = [
    'nope',
    '../x', // normalised by the client to /api/x: still 404
    '..%2Fx',
    '%22quoted%22',
    '"quoted"',
    "'%3B%20DROP%20TABLE%20tenants%3B--",
    'ABCDEF01-0000-4000-8000-000000000000', // uppercase, well-formed, nonexistent
    '00000000-0000-0000-0000-000000000000',
    crypto.randomUUID(),
    crypto.randomUUID().replace(/-/g, ''),
    crypto.randomUUID() + 'x',
    '{' + crypto.randomUUID() + '}',
    'z'.repeat(300),
    '%E2%82%AC',
    '1',
    // (%00 is refused by lighttpd itself with 400 before mtm sees the request)
  ];
  const routes = [
    ['GET', ''],
    ['DELETE', ''],
    ['PUT', '/config/concurrency', { json: { concurrency: 2 } }],
    ['POST', '/pause'],
    ['POST', '/resume'],
    ['POST', '/messages', { json: { payload: { x: 1 } } }],
  ];
  const tenantsBefore = Number(await stack.psql('SELECT count(*) FROM tenants'));
  for (const id of ids) {
    await t.test(`id ${id.slice(0, 50)}`, async () => {
      for (const [method, suffix, opts] of routes) {
        const res = await api.req(method, `/api/tenants/${id}${suffix}`, opts || {});
        assertProblem(res, 404);
      }
    });
  }
  const n = Number(await stack.psql('SELECT count(*) FROM tenants'));
  assert.equal(n, tenantsBefore, 'none of these requests may create or remove a tenant');
});

// ------------------------------------------------------------------ concurrency

test('PUT /api/tenants/{id}/config/concurrency: invalid values -> 422 naming the field; the tenant keeps its concurrency', async (t) => {
  const tn = await api.createTenant('put-validation', 2);
  try {
    const put = (body) => api.req('PUT', `/api/tenants/${tn.id}/config/concurrency`, { body, headers: { 'content-type': 'application/json' } });
    const bad = [
      ['string', '{"concurrency":"5"}', 'concurrency'],
      ['float 5.0', '{"concurrency":5.0}', 'concurrency'],
      ['float 2.5', '{"concurrency":2.5}', 'concurrency'],
      ['null', '{"concurrency":null}', 'concurrency'],
      ['true', '{"concurrency":true}', 'concurrency'],
      ['0', '{"concurrency":0}', 'concurrency'],
      ['-1', '{"concurrency":-1}', 'concurrency'],
      [String(MAX_CONCURRENCY + 1), `{"concurrency":${MAX_CONCURRENCY + 1}}`, 'concurrency'],
      ['1e30', '{"concurrency":1e30}', 'concurrency'],
      ['2^64', '{"concurrency":18446744073709551616}', 'concurrency'],
      ['array', '{"concurrency":[3]}', 'concurrency'],
      ['missing field', '{}', 'concurrency'],
      ['extra field', '{"concurrency":3,"extra":1}', 'extra'],
      ['not an object', '[3]', 'body'],
      ['a bare number', '3', 'body'],
    ];
    for (const [what, body, field] of bad) {
      await t.test(`${what}: ${body}`, async () => {
        assertFieldError(await put(body), 422, field);
      });
    }
    await t.test('malformed JSON -> 400', async () => {
      assertProblem(await put('{"concurrency":'), 400);
    });
    const now = await api.tenant(tn.id);
    assert.equal(now.concurrency, 2, `concurrency after refused PUTs: ${JSON.stringify(now)}`);
  } finally {
    await deleteAll([tn.id]);
  }
});

test('PUT /api/tenants/{id}/config/concurrency: 200 with the tenant; consumerd applies it (workers.running) within 1 s', async () => {
  const tn = await api.createTenant('put-apply', 2);
  try {
    await api.waitWorkers(tn.id, 2, { timeoutMs: 5000, describeExtra: logs });
    for (const n of [5, 1, MAX_CONCURRENCY, 3]) {
      const res = await api.setConcurrency(tn.id, n);
      assert.equal(res.status, 200, describe(res));
      assert.equal(res.json.concurrency, n, describe(res));
      assert.equal(res.json.id, tn.id, describe(res));
      // 1 s to apply + up to 1 s until consumerd's next status write: see APPLY_WITHIN_MS
      const timeoutMs = n === MAX_CONCURRENCY ? 3000 : APPLY_WITHIN_MS;
      await api.waitWorkers(tn.id, n, { timeoutMs, describeExtra: logs });
    }
  } finally {
    await deleteAll([tn.id]);
  }
});

// ------------------------------------------------------------------ pause / resume

test('pause: 200, no workers, the queue keeps filling (queue_depth grows); resume: 200, workers back, the queue drains, every message stored once', async (t) => {
  const tn = await api.createTenant('pausable', 2);
  try {
    await api.waitWorkers(tn.id, 2, { timeoutMs: 5000, describeExtra: logs });
    const sent = await api.publishBatch(tn.id, 10, 'before-pause');
    await assertStoredExactlyOnce(stack, tn.id, sent, { timeoutMs: 15000, what: 'before pause: ' });

    const p = await api.pause(tn.id);
    assert.equal(p.status, 200, describe(p));
    assert.equal(p.json.status, 'paused', describe(p));
    await api.waitWorkers(tn.id, 0, { describeExtra: logs });

    const storedAtPause = await storedCount(stack, tn.id);
    let queued = 0;
    for (let round = 0; round < 3; round++) {
      sent.push(...await api.publishBatch(tn.id, 20, `paused-${round}`));
      queued += 20;
      const { tenant } = await api.waitTenant(tn.id, `queue_depth == ${queued}`, (x) => x.queue_depth === queued, {
        timeoutMs: 3000, describeExtra: logs,
      });
      assert.equal(tenant.workers.running, 0, `still paused: ${JSON.stringify(tenant)}`);
      assert.equal(tenant.status, 'paused', JSON.stringify(tenant));
    }
    const broker = (await stack.listQueues()).get(queueNames(tn.id)[0]);
    assert.equal(broker, queued, `rabbitmqctl: messages in ${queueNames(tn.id)[0]}`);
    // A deliberate window in which nothing may happen, not a wait for a condition.
    await sleep(500);
    assert.equal(await storedCount(stack, tn.id), storedAtPause, 'nothing may be stored while paused');

    await t.test('pausing again is harmless (200, still paused)', async () => {
      const again = await api.pause(tn.id);
      assert.equal(again.status, 200, describe(again));
      assert.equal(again.json.status, 'paused', describe(again));
    });

    const r = await api.resume(tn.id);
    assert.equal(r.status, 200, describe(r));
    assert.equal(r.json.status, 'active', describe(r));
    await api.waitWorkers(tn.id, 2, { describeExtra: logs });
    await assertStoredExactlyOnce(stack, tn.id, sent, { timeoutMs: 15000, what: 'after resume: ' });
    await api.waitTenant(tn.id, 'queue_depth == 0', (x) => x.queue_depth === 0, { timeoutMs: 3000, describeExtra: logs });
  } finally {
    await deleteAll([tn.id]);
  }
});

// ------------------------------------------------------------------ delete

test('DELETE: 202 (deleting); publishing and changes are refused with 409; then 404, queues, partition and row gone; the name is free again', async () => {
  const tn = await api.createTenant('Doomed', 2);
  await api.waitWorkers(tn.id, 2, { timeoutMs: 5000, describeExtra: logs });
  const sent = await api.publishBatch(tn.id, 10);
  await assertStoredExactlyOnce(stack, tn.id, sent, { timeoutMs: 15000 });

  const d = await api.deleteTenant(tn.id);
  assert.equal(d.status, 202, describe(d));
  assert.equal(d.json.status, 'deleting', describe(d));
  assert.equal(d.json.id, tn.id, describe(d));
  // consumerd first waits for the workers' batch to finish: these land while the row says "deleting"
  const pub = await api.publish(tn.id, { payload: { late: true } });
  assertProblem(pub, 409);
  const put = await api.setConcurrency(tn.id, 3);
  assertProblem(put, 409);

  const gone = await api.waitGone(tn.id, { describeExtra: logs });
  assert.ok(gone < 10000, `GET 404 after ${gone} ms`);
  const queues = await stack.listQueues();
  for (const q of queueNames(tn.id)) assert.equal(queues.has(q), false, `queue ${q} must be deleted; broker has ${JSON.stringify([...queues.keys()])}`);
  assert.deepEqual(await partitionState(stack, tn.id), { exists: false, attached: false }, `partition ${partitionName(tn.id)}`);
  assert.equal(await rowExists(stack, tn.id), false, 'tenants row');
  assert.equal(Number(await stack.psql(`SELECT count(*) FROM tenant_status WHERE tenant_id = '${tn.id}'`)), 0, 'tenant_status row');
  assertProblem(await api.publish(tn.id, { payload: 1 }), 404);
  assertProblem(await api.deleteTenant(tn.id), 404);

  const again = await api.createTenant('doomed', 1);
  assert.notEqual(again.id, tn.id, 're-created tenant must get a new id');
  await deleteAll([again.id]);
});

// ------------------------------------------------------------------ broker down

test('broker down during create: 503 with Retry-After, fast; no row, no partition, no queue left; the same name works once it is back', async () => {
  const tenantsBefore = Number(await stack.psql('SELECT count(*) FROM tenants'));
  const partsBefore = await partitionCount(stack);
  const relsBefore = await partitionLikeCount(stack);
  const queuesBefore = [...(await stack.listQueues()).keys()].sort();
  await stack.stopRabbit();
  let res;
  try {
    res = await api.req('POST', '/api/tenants', { json: { name: 'during-outage', concurrency: 2 }, timeoutMs: 10000 });
  } finally {
    await stack.startRabbit();
  }
  assertProblem(res, 503);
  assert.ok(res.headers.get('retry-after'), `Retry-After missing: ${describe(res)}`);
  assert.ok(res.ms < 5000, `503 must be answered fast, took ${res.ms} ms`);
  assert.equal(await tenantRowsNamed('during-outage'), 0, 'no tenants row may remain');
  assert.equal(Number(await stack.psql('SELECT count(*) FROM tenants')), tenantsBefore, 'tenant count');
  assert.equal(await partitionCount(stack), partsBefore, 'attached partitions of messages');
  assert.equal(await partitionLikeCount(stack), relsBefore, 'relations named messages_<hex>');
  const queuesAfter = [...(await stack.listQueues()).keys()].sort();
  assert.deepEqual(queuesAfter, queuesBefore, 'no queue may remain (the broker restarted with its durable queues)');

  await stack.waitReady({ timeoutMs: 30000 });
  const ok = await api.createTenant('during-outage', 1);
  const queues = await stack.listQueues();
  for (const q of queueNames(ok.id)) assert.ok(queues.has(q), `after recovery, queue ${q}`);
  await deleteAll([ok.id]);
});
