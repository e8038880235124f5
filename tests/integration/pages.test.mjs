// Message pages: GET /api/tenants/{id}/messages and GET /api/messages?tenant_id=
// with keyset cursors. Pages in seq (commit) order, newest first by default;
// every message exactly once across pages, also while publishers keep
// inserting (several workers storing concurrently); every parameter rule
// with the exact status and the field named.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../harness/stack.mjs';
import { assertProblem } from '../harness/http.mjs';
import { sleep, waitFor } from '../harness/util.mjs';
import { makeApi, describe, assertFieldError, assertStoredExactlyOnce, startPublisher } from '../harness/api.mjs';
import { makeCursor } from '../harness/cursor.mjs';

const SEEDED = 120;
const UNKNOWN = '00000000-0000-7000-8000-000000000000';

let stack;
let api;
let tenantA; // SEEDED messages
let tenantB; // a few messages of its own, never in A's pages
let seqOrderA; // A's ids in seq order

before(async () => {
  stack = await startStack();
  await stack.waitReady();
  // Every request of this file goes through this one client (api.mjs Api.req),
  // which adds the admin's bearer token.
  api = makeApi(stack, { token: await stack.adminToken() });
  tenantA = (await api.createTenant(`pages-a-${Date.now().toString(36)}`)).id;
  tenantB = (await api.createTenant(`pages-b-${Date.now().toString(36)}`)).id;
  const ids = [];
  for (let b = 0; b < 3; b++) ids.push(...await api.publishBatch(tenantA, SEEDED / 3, `seed${b}`));
  const idsB = await api.publishBatch(tenantB, 10, 'b');
  await assertStoredExactlyOnce(stack, tenantA, ids, { what: 'seeding A: ' });
  await assertStoredExactlyOnce(stack, tenantB, idsB, { what: 'seeding B: ' });
  seqOrderA = await idsBySeq(tenantA);
});

after(async () => {
  if (stack) await stack.stop();
});

// ------------------------------------------------------------------ helpers

const logs = () => stack.describeLogs(['consumerd', 'mtm-api']);

/** The tenant's stored ids ordered by seq (ascending), straight from the database. */
async function idsBySeq(tenant) {
  const text = await stack.psql(`SELECT id FROM messages WHERE tenant_id = '${tenant}' ORDER BY seq`, { timeoutMs: 60000 });
  return text ? text.split('\n') : [];
}

/** Map id -> seq for a tenant. */
async function seqOf(tenant) {
  const text = await stack.psql(`SELECT id || '|' || seq FROM messages WHERE tenant_id = '${tenant}'`, { timeoutMs: 60000 });
  return new Map((text ? text.split('\n') : []).map((l) => { const [id, seq] = l.split('|'); return [id, Number(seq)]; }));
}

function pageUrl(base, { limit, order, cursor } = {}) {
  const q = [];
  if (limit !== undefined) q.push(`limit=${limit}`);
  if (order !== undefined) q.push(`order=${order}`);
  if (cursor !== undefined && cursor !== null) q.push(`cursor=${encodeURIComponent(cursor)}`);
  if (!q.length) return base;
  return base + (base.includes('?') ? '&' : '?') + q.join('&');
}

const tenantPath = (t) => `/api/tenants/${t}/messages`;
const globalPath = (t) => `/api/messages?tenant_id=${t}`;

/** One page, asserting 200 and the page's shape. */
async function page(base, opts) {
  const res = await api.get(pageUrl(base, opts));
  assert.equal(res.status, 200, describe(res));
  assert.deepEqual(Object.keys(res.json).sort(), ['data', 'next_cursor'], `page keys: ${describe(res)}`);
  assert.ok(Array.isArray(res.json.data), describe(res));
  assert.ok(res.json.next_cursor === null || (typeof res.json.next_cursor === 'string' && res.json.next_cursor.length > 0),
    `next_cursor must be a non-empty string or null: ${describe(res)}`);
  return res;
}

/** Walks every page; resolves {ids, pages, items}. onPage(i) runs between pages. */
async function walk(base, { limit, order, onPage, maxPages = 10000 } = {}) {
  const ids = [];
  const items = [];
  let cursor = null;
  let pages = 0;
  for (;;) {
    const res = await page(base, { limit, order, cursor });
    pages++;
    const data = res.json.data;
    if (limit !== undefined) assert.ok(data.length <= limit, `page of ${data.length} > limit ${limit}`);
    if (res.json.next_cursor !== null) assert.ok(data.length > 0, `an empty page must not carry a cursor: ${describe(res)}`);
    items.push(...data);
    ids.push(...data.map((m) => m.id));
    cursor = res.json.next_cursor;
    if (cursor === null) return { ids, pages, items };
    if (pages >= maxPages) throw new Error(`walk: more than ${maxPages} pages`);
    if (onPage) await onPage(pages);
  }
}

const sameList = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

function firstDifference(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return `at index ${i}: got ${a[i]}, expected ${b[i]} (lengths ${a.length} and ${b.length})`;
  return 'none';
}

// ------------------------------------------------------------------ pages

test('default page: newest first, 50 messages, a cursor to the next; fields of a listed message', async () => {
  const desc = [...seqOrderA].reverse();
  const p1 = await page(tenantPath(tenantA));
  assert.deepEqual(p1.json.data.map((m) => m.id), desc.slice(0, 50), `first page must be the 50 newest by seq (first difference ${firstDifference(p1.json.data.map((m) => m.id), desc.slice(0, 50))})`);
  assert.equal(typeof p1.json.next_cursor, 'string', describe(p1));
  for (const m of p1.json.data) {
    assert.deepEqual(Object.keys(m).sort(), ['attempts', 'headers', 'id', 'payload', 'published_at', 'stored_at', 'tenant_id', 'trace_id'], `fields: ${JSON.stringify(m)}`);
    assert.equal(m.tenant_id, tenantA, JSON.stringify(m));
    assert.match(m.payload.tag, /^seed[0-2]$/, JSON.stringify(m));
  }
  const p2 = await page(tenantPath(tenantA), { cursor: p1.json.next_cursor });
  assert.deepEqual(p2.json.data.map((m) => m.id), desc.slice(50, 100), 'second page: the next 50');
  const p3 = await page(tenantPath(tenantA), { cursor: p2.json.next_cursor });
  assert.deepEqual(p3.json.data.map((m) => m.id), desc.slice(100), `third page: the last ${SEEDED - 100}`);
  assert.equal(p3.json.next_cursor, null, `last page: next_cursor null: ${describe(p3)}`);
});

test('walks in both orders and both endpoints list every message exactly once in seq order', async (t) => {
  for (const [name, base] of [['/api/tenants/{id}/messages', tenantPath(tenantA)], ['/api/messages?tenant_id=', globalPath(tenantA)]]) {
    for (const limit of [7, 1, 119, 120, 1000]) {
      await t.test(`${name} asc, limit ${limit}`, async () => {
        const { ids, pages } = await walk(base, { order: 'asc', limit });
        assert.ok(sameList(ids, seqOrderA), `asc walk (limit ${limit}, ${pages} pages) must be the ids in seq order; first difference ${firstDifference(ids, seqOrderA)}`);
        const want = Math.max(1, Math.ceil(SEEDED / limit));
        assert.equal(pages, want, `pages for limit ${limit}: ${pages}, expected ${want} (no empty trailing page)`);
      });
      await t.test(`${name} desc, limit ${limit}`, async () => {
        const { ids } = await walk(base, { order: 'desc', limit });
        const want = [...seqOrderA].reverse();
        assert.ok(sameList(ids, want), `desc walk (limit ${limit}) must be the ids in reverse seq order; first difference ${firstDifference(ids, want)}`);
      });
    }
  }
  await t.test('the two endpoints give the same page', async () => {
    const a = await page(tenantPath(tenantA), { limit: 10, order: 'asc' });
    const b = await page(globalPath(tenantA), { limit: 10, order: 'asc' });
    assert.deepEqual(b.json.data, a.json.data, 'same messages');
    const a2 = await page(tenantPath(tenantA), { limit: 10, order: 'asc', cursor: b.json.next_cursor });
    const b2 = await page(globalPath(tenantA), { limit: 10, order: 'asc', cursor: a.json.next_cursor });
    assert.deepEqual(b2.json.data, a2.json.data, 'a cursor of one endpoint works on the other for the same tenant');
  });
});

test("tenant isolation: another tenant's messages never appear in a tenant's pages", async () => {
  const { ids: a } = await walk(tenantPath(tenantA), { limit: 1000 });
  const { ids: b, items } = await walk(globalPath(tenantB), { limit: 1000 });
  assert.equal(b.length, 10, `B has 10 messages: ${JSON.stringify(b)}`);
  assert.ok(items.every((m) => m.tenant_id === tenantB), 'tenant_id of every B item');
  const both = b.filter((id) => a.includes(id));
  assert.deepEqual(both, [], 'ids listed under both tenants');
  // a cursor belongs to its listing: A's cursor is refused on B's (it would
  // otherwise be a position in B's pages that B was never given)
  const pa = await page(tenantPath(tenantA), { limit: 5, order: 'asc' });
  for (const base of [tenantPath(tenantB), globalPath(tenantB)]) {
    assertFieldError(await api.get(pageUrl(base, { order: 'asc', cursor: pa.json.next_cursor })), 400, 'cursor');
  }
});

test('an empty tenant: {"data":[],"next_cursor":null}', async () => {
  const t = await api.createTenant(`pages-empty-${Date.now().toString(36)}`);
  for (const base of [tenantPath(t.id), globalPath(t.id)]) {
    for (const order of ['asc', 'desc']) {
      const res = await page(base, { order });
      assert.deepEqual(res.json, { data: [], next_cursor: null }, describe(res));
    }
  }
});

// ------------------------------------------------------------------ parameters

test('limit: default 50, 1..1000; 0, 1001, x, -5, 1.5 and empty -> 422 naming "limit" (both endpoints)', async (t) => {
  for (const base of [tenantPath(tenantA), globalPath(tenantA)]) {
    for (const bad of ['0', '1001', 'x', '-5', '1.5', '', '99999999999999999999']) {
      await t.test(`${base.split('?')[0]} limit=${bad}`, async () => {
        assertFieldError(await api.get(pageUrl(base, { limit: bad })), 422, 'limit');
      });
    }
    await t.test(`${base.split('?')[0]} limit=1000 and limit=1 are accepted`, async () => {
      assert.equal((await page(base, { limit: 1000 })).json.data.length, SEEDED);
      assert.equal((await page(base, { limit: 1 })).json.data.length, 1);
    });
  }
});

test('order: asc or desc; anything else -> 422 naming "order"', async (t) => {
  for (const base of [tenantPath(tenantA), globalPath(tenantA)]) {
    for (const bad of ['up', 'ASC', 'descending', '', 'asc,desc']) {
      await t.test(`${base.split('?')[0]} order=${JSON.stringify(bad)}`, async () => {
        assertFieldError(await api.get(pageUrl(base, { order: bad })), 422, 'order');
      });
    }
  }
});

test('cursor: garbage, tampered, forged or from another listing -> 400 naming "cursor"; a cursor keeps its direction', async (t) => {
  const asc = (await page(tenantPath(tenantA), { order: 'asc', limit: 5 })).json.next_cursor;
  const desc = (await page(tenantPath(tenantA), { order: 'desc', limit: 5 })).json.next_cursor;
  const extra = await api.createTenant(`pages-c-${Date.now().toString(36)}`);
  assert.ok(extra.id);
  const tenantsRes = await api.get('/api/tenants?limit=1');
  assert.equal(tenantsRes.status, 200, describe(tenantsRes));
  const tenantsCursor = tenantsRes.json.next_cursor;
  assert.equal(typeof tenantsCursor, 'string', `a tenants page of 1 must carry a cursor: ${describe(tenantsRes)}`);
  const secret = stack.env.MTM_JWT_SECRET;
  const dlqCursor = makeCursor(secret, 'dd', tenantA, 1); // as A's dead-letter listing would make it
  const b64 = (s) => Buffer.from(s).toString('base64url');
  const seqA = await seqOf(tenantA);
  const fifthSeq = seqA.get(seqOrderA[4]);

  const cases = [
    ['garbage', 'not-a-cursor!!'],
    ['not base64', '%%%'],
    ['valid base64 of nonsense', b64('hello world')],
    ['an asc cursor with a character appended', asc + '*'],
    ['an asc cursor cut short', asc.slice(0, -3)],
    ['an asc cursor with padding added', asc + '=='],
    ['an unknown kind', b64('mz:12')],
    ['a negative key', b64('ma:-3')],
    ['a key that is not a number', b64('ma:abc')],
    ['an overlong key', b64('ma:99999999999999999999999')],
    ['a cursor of the tenants listing', tenantsCursor],
    ['a cursor of a DLQ listing', dlqCursor],
    // forged in the format cursors had before they were sealed: a seq of the right kind
    ['a forged asc cursor base64url("ma:<seq>")', b64(`ma:${fifthSeq}`)],
    ['a forged desc cursor base64url("md:<seq>")', b64(`md:${fifthSeq}`)],
    ['a sealed cursor of tenant B\'s listing', makeCursor(secret, 'ma', tenantB, fifthSeq)],
    ['a sealed cursor of the right listing under another secret', makeCursor(`${secret}!`, 'ma', tenantA, fifthSeq)],
  ];
  for (const base of [tenantPath(tenantA), globalPath(tenantA)]) {
    for (const [what, cursor] of cases) {
      await t.test(`${base.split('?')[0]}: ${what}`, async () => {
        for (const order of ['asc', 'desc']) {
          assertFieldError(await api.get(pageUrl(base, { order, cursor })), 400, 'cursor');
        }
      });
    }
    await t.test(`${base.split('?')[0]}: a desc cursor with order=asc -> 400; an asc cursor with desc (explicit or default) -> 400`, async () => {
      assertFieldError(await api.get(pageUrl(base, { order: 'asc', cursor: desc })), 400, 'cursor');
      assertFieldError(await api.get(pageUrl(base, { order: 'desc', cursor: asc })), 400, 'cursor');
      assertFieldError(await api.get(pageUrl(base, { cursor: asc })), 400, 'cursor');
      assert.equal((await page(base, { order: 'asc', cursor: asc })).json.data.length, 50, 'the asc cursor with asc works');
      assert.equal((await page(base, { cursor: desc })).json.data.length, 50, 'the desc cursor with the default order works');
    });
  }
});

test('tenant: /api/messages without tenant_id or with a malformed one -> 422 "tenant_id"; unknown tenant -> 404', async () => {
  assertFieldError(await api.get('/api/messages'), 422, 'tenant_id');
  assertFieldError(await api.get('/api/messages?limit=5'), 422, 'tenant_id');
  for (const bad of ['nope', '', '123', `${tenantA}x`, tenantA.replace(/-/g, ''), `'; DROP TABLE messages; --`]) {
    assertFieldError(await api.get(`/api/messages?tenant_id=${encodeURIComponent(bad)}`), 422, 'tenant_id');
  }
  assertProblem(await api.get(`/api/messages?tenant_id=${UNKNOWN}`), 404);
  assertProblem(await api.get(`/api/tenants/${UNKNOWN}/messages`), 404);
  assertProblem(await api.get('/api/tenants/not-a-uuid/messages'), 404);
  // the tenant is checked whatever the other parameters say, once they are valid
  assertProblem(await api.get(`/api/messages?tenant_id=${UNKNOWN}&order=asc&limit=5`), 404);
});

// ------------------------------------------------------------------ paging during inserts

/**
 * Checks one walk against the final state (everything stored, seq known):
 * every id once, in seq order, and nothing skipped: asc, the ids are
 * exactly the first n ids in seq order; desc, exactly every id at or below
 * the first one seen, newest first. A row that became visible after a row
 * with a larger seq had been read would show up here as a gap.
 */
function checkWalk(what, order, ids, finalAsc, seq) {
  const dup = ids.filter((id, i) => ids.indexOf(id) !== i);
  assert.deepEqual(dup.slice(0, 5), [], `${what}: ${dup.length} ids seen more than once`);
  const seqs = ids.map((id) => seq.get(id));
  const unknown = ids.filter((id) => !seq.has(id));
  assert.deepEqual(unknown.slice(0, 5), [], `${what}: ids walked but not stored`);
  if (order === 'asc') {
    const bad = seqs.findIndex((x, i) => i > 0 && x <= seqs[i - 1]);
    assert.equal(bad, -1, `${what}: out of seq order at index ${bad}: seq ${seqs[bad - 1]} then ${seqs[bad]}`);
    const prefix = finalAsc.slice(0, ids.length);
    const skipped = prefix.filter((id) => !ids.includes(id));
    assert.ok(sameList(ids, prefix), `${what}: must be the first ${ids.length} ids in seq order; skipped ${skipped.length} ` +
      `(seqs ${JSON.stringify(skipped.slice(0, 5).map((id) => seq.get(id)))}), first difference ${firstDifference(ids, prefix)}`);
  } else {
    const bad = seqs.findIndex((x, i) => i > 0 && x >= seqs[i - 1]);
    assert.equal(bad, -1, `${what}: out of seq order at index ${bad}: seq ${seqs[bad - 1]} then ${seqs[bad]}`);
    const top = seqs[0];
    const want = finalAsc.filter((id) => seq.get(id) <= top).reverse();
    const skipped = want.filter((id) => !ids.includes(id));
    assert.ok(sameList(ids, want), `${what}: must be every id at or below seq ${top}, newest first; skipped ${skipped.length} ` +
      `(seqs ${JSON.stringify(skipped.slice(0, 5).map((id) => seq.get(id)))}), first difference ${firstDifference(ids, want)}`);
  }
}

/**
 * Publishers keep inserting into a tenant whose messages several workers
 * store at once, while a reader walks its pages again and again, each walk
 * from the start to the end (asc: the end is the newest rows, committed a
 * moment ago, which is where a commit out of seq order would be skipped).
 * Every walk is checked once everything is stored; all ids stored before
 * the walks began must be in every walk.
 */
async function walksDuringInserts(order, { workers = 4, publishers = 2, insertMs = 4000 } = {}) {
  const tenant = (await api.createTenant(`pages-live-${order}-${Date.now().toString(36)}`, workers)).id;
  await api.waitWorkers(tenant, workers, { timeoutMs: 5000, describeExtra: logs });
  const seeded = [];
  for (let b = 0; b < 4; b++) seeded.push(...await api.publishBatch(tenant, 50, `pre${b}`));
  await assertStoredExactlyOnce(stack, tenant, seeded, { what: 'seeding: ' });
  const before_ = await idsBySeq(tenant);

  const pubs = Array.from({ length: publishers }, (_, i) => startPublisher(api, tenant, { batch: 5, gapMs: 15, tag: `live${i}` }));
  const walks = [];
  let results;
  try {
    // The walks start once every publisher is inserting.
    await waitFor('every publisher to have a batch accepted', () => pubs.every((p) => p.ids.length > 0), { timeoutMs: 10000, describe: logs });
    const start = Date.now();
    const limits = [20, 100, 1000, 7];
    // at least insertMs and at least 4 walks (a loaded machine walks slowly), at most 60 s
    while ((Date.now() - start < insertMs || walks.length < 4) && Date.now() - start < 60000) {
      const limit = limits[walks.length % limits.length];
      const t0 = Date.now();
      const w = await walk(tenantPath(tenant), {
        order, limit, maxPages: 20000,
        onPage: order === 'desc' ? () => sleep(10) : () => {
          if (Date.now() - t0 > 30000) throw new Error(`an ${order} walk with limit ${limit} did not reach the end within 30 s of inserts`);
        },
      });
      walks.push({ limit, ids: w.ids, pages: w.pages, ms: Date.now() - t0 });
    }
  } finally {
    results = await Promise.all(pubs.map((p) => p.stop()));
  }
  const published = results.flatMap((r) => r.ids);
  const failures = results.flatMap((r) => r.failures);
  assert.deepEqual(failures.slice(0, 3), [], `publishers must not fail (${failures.length} failures)`);
  await assertStoredExactlyOnce(stack, tenant, [...seeded, ...published], { what: 'after the walks: ' });

  const finalAsc = await idsBySeq(tenant);
  const seq = await seqOf(tenant);
  walks.forEach((w, k) => {
    const what = `${order} walk #${k + 1} (limit ${w.limit}, ${w.pages} pages, ${w.ids.length} ids)`;
    const missing = before_.filter((id) => !w.ids.includes(id));
    assert.deepEqual(missing.slice(0, 5), [], `${what}: ${missing.length} of the ${before_.length} ids stored before the walks are missing`);
    checkWalk(what, order, w.ids, finalAsc, seq);
  });
  return { walks, published: published.length, before: before_.length };
}

const summary = (r) => `${r.walks.length} walks (${r.walks.map((w) => `${w.ids.length} ids/${w.pages} pages`).join(', ')}); ` +
  `${r.before} stored before, ${r.published} published during them`;

test('paging asc while publishers keep inserting (4 workers storing): each walk has every id once, in seq order, none skipped', async (t) => {
  const r = await walksDuringInserts('asc');
  t.diagnostic(summary(r));
  assert.ok(r.walks.length >= 4, `expected several walks during the inserts: ${summary(r)}`);
  const grew = r.walks[r.walks.length - 1].ids.length > r.walks[0].ids.length;
  assert.ok(grew, `the walks must have met rows inserted meanwhile: ${summary(r)}`);
});

test('paging desc while publishers keep inserting (4 workers storing): each walk has every id once, in seq order, none skipped', async (t) => {
  const r = await walksDuringInserts('desc', { insertMs: 2500 });
  t.diagnostic(summary(r));
  assert.ok(r.walks.length >= 2, `expected several walks during the inserts: ${summary(r)}`);
});
