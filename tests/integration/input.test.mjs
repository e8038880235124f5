// Request input that looks valid but used to slip through (hardening issue,
// findings 5, 6 and 9), each sent as a client would, through lighttpd:
//   - tenant ids in upper case: canonicalised once at the router, so they
//     name the same tenant, queue and partition as the lower-case id;
//   - producer headers that the per-header limits allow but one AMQP frame
//     cannot hold: 422 naming `headers`, never a 503 that retries forever;
//   - cursors the server did not issue for this listing (forged in the old
//     base64url("<kind>:<seq>") format, taken from another tenant's listing,
//     made with another secret): 400 naming `cursor`.
// No request of this file may be answered 5xx.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../harness/stack.mjs';
import { run } from '../harness/proc.mjs';
import { makeCursor } from '../harness/cursor.mjs';
import { makeApi, describe, assertFieldError, assertStoredExactlyOnce, storedIds } from '../harness/api.mjs';
import { waitFor } from '../harness/util.mjs';

let stack;
let admin; // Api with the admin token
let A; // tenant ids (lower case, as the API hands them out)
let B;

const b64 = (s) => Buffer.from(s).toString('base64url');
const up = (id) => id.toUpperCase();

before(async () => {
  stack = await startStack();
  await stack.waitReady();
  const api = makeApi(stack, { token: await stack.adminToken() });
  // every answer of this file must be < 500
  admin = {
    async req(method, p, opts) {
      const res = await api.req(method, p, opts);
      assert.ok(res.status < 500, `no input may make the server answer 5xx: ${describe(res)}`);
      return res;
    },
    get(p, opts) { return this.req('GET', p, opts); },
    publish(id, body, opts = {}) { return this.req('POST', `/api/tenants/${id}/messages`, { json: body, ...opts }); },
    createTenant: (name) => api.createTenant(name),
  };
  const stamp = Date.now().toString(36);
  A = (await admin.createTenant(`input-a-${stamp}`)).id;
  B = (await admin.createTenant(`input-b-${stamp}`)).id;
  assert.match(A, /^[0-9a-f-]{36}$/, 'the API hands out lower-case ids');
});

after(async () => {
  if (stack) await stack.stop();
});

/** A dead letter straight into the table (as the superuser), as consumerd would park it. */
async function insertDeadLetter(tenant, id, payload) {
  const body = JSON.stringify(payload).replace(/'/g, "''");
  await stack.psql(`INSERT INTO dead_letters (tenant_id, id, reason, attempts, first_failed_at, last_failed_at, body, properties)
    VALUES ('${tenant}', '${id}', 'test: parked by input.test.mjs', 3, now(), now(), convert_to('${body}', 'UTF8'), '{}')`);
}

/** Waits until message `id` of `tenant` is stored (20 s at most). */
async function waitStored(tenant, id, what = '') {
  await waitFor(`${what}message ${id} to be stored`, async () => (await storedIds(stack, tenant)).ids.includes(id), {
    timeoutMs: 20000, intervalMs: 200, describe: () => stack.describeLogs(['consumerd', 'mtm-api']),
  });
}

async function tenantToken(tenant) {
  const res = await admin.req('POST', `/api/tenants/${tenant}/tokens`);
  assert.equal(res.status, 201, describe(res));
  return res.json.token;
}

// ------------------------------------------------------------------ finding 5: upper-case ids

test('an upper-case tenant id publishes (single and batch) to the tenant: 202, and the messages are stored', async () => {
  const one = await admin.publish(up(A), { payload: { n: 1 } });
  assert.equal(one.status, 202, `single publish to the upper-case id: ${describe(one)}`);
  const batch = await admin.publish(up(A), { messages: [{ payload: { n: 2 } }, { payload: { n: 3 } }] });
  assert.equal(batch.status, 202, `batch publish to the upper-case id: ${describe(batch)}`);
  await assertStoredExactlyOnce(stack, A, [one.json.id, ...batch.json.ids], { timeoutMs: 20000, what: 'published via the upper-case id: ' });
});

test('an upper-case tenant id reads the same tenant: GET, both message listings (path and ?tenant_id=, also %-encoded), cursors shared', async () => {
  const g = await admin.get(`/api/tenants/${up(A)}`);
  assert.equal(g.status, 200, describe(g));
  assert.equal(g.json.id, A, `GET by the upper-case id names the tenant in lower case: ${describe(g)}`);

  const seeded = await admin.publish(A, { messages: [{ payload: 'r1' }, { payload: 'r2' }] });
  assert.equal(seeded.status, 202, describe(seeded));
  for (const id of seeded.json.ids) await waitStored(A, id, 'seeding A: ');
  const want = await admin.get(`/api/tenants/${A}/messages?order=asc&limit=1`);
  assert.equal(want.status, 200, describe(want));
  assert.ok(want.json.data.length === 1 && want.json.next_cursor, `A has more than one message: ${describe(want)}`);
  const encoded = [...up(A)].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join('');
  for (const p of [`/api/tenants/${up(A)}/messages`, `/api/messages?tenant_id=${up(A)}`, `/api/messages?tenant_id=${encoded}`]) {
    const res = await admin.get(`${p}${p.includes('?') ? '&' : '?'}order=asc&limit=1`);
    assert.equal(res.status, 200, `${p}: ${describe(res)}`);
    assert.deepEqual(res.json, want.json, `${p} must give the same page, cursor included, as the lower-case id`);
    const next = await admin.get(`${p}${p.includes('?') ? '&' : '?'}order=asc&limit=1&cursor=${want.json.next_cursor}`);
    assert.equal(next.status, 200, `${p} with the lower-case listing's cursor: ${describe(next)}`);
  }
});

test("a tenant token may name its tenant in upper case (publish stored, list); another tenant's upper-case id is still 403", async () => {
  const token = await tenantToken(A);
  const res = await admin.publish(up(A), { payload: { by: 'tenant token' } }, { token });
  assert.equal(res.status, 202, `tenant token, upper-case own id: ${describe(res)}`);
  await waitStored(A, res.json.id, 'published with the tenant token: ');
  const list = await admin.get(`/api/messages?tenant_id=${up(A)}&limit=1`, { token });
  assert.equal(list.status, 200, describe(list));
  assert.equal(list.json.data[0].tenant_id, A, describe(list));
  for (const [method, p] of [['POST', `/api/tenants/${up(B)}/messages`], ['GET', `/api/tenants/${up(B)}/messages`], ['GET', `/api/messages?tenant_id=${up(B)}`]]) {
    const r = await admin.req(method, p, { token, json: method === 'POST' ? { payload: 1 } : undefined });
    assert.equal(r.status, 403, `${method} ${p} with A's token: ${describe(r)}`);
  }
});

test('replay through an upper-case tenant id republishes to the tenant\'s queue: 200, the dead letter is stored', async () => {
  const id = `input-dl-${Date.now().toString(36)}`;
  await insertDeadLetter(A, id, { replayed: 'upper' });
  const res = await admin.req('POST', `/api/tenants/${up(A)}/dlq/replay`, { json: { ids: [id] } });
  assert.equal(res.status, 200, `replay via the upper-case id: ${describe(res)}`);
  assert.deepEqual(res.json, { replayed: 1, not_found: [] }, describe(res));
  await waitStored(A, id, 'replayed dead letter: ');
});

test('a queue declared under the upper-case name does not swallow publishes: they go to the tenant\'s queue and are stored', async () => {
  const queue = `tenant_${up(A)}_queue`;
  const url = stack.env.MTM_AMQP_URL.replace(/\/$/, ''); // amqp-tools: a trailing / is the vhost ""
  const declared = await run('amqp-declare-queue', [`--url=${url}`, '-d', '-q', queue], { timeoutMs: 10000 });
  assert.equal(declared.code, 0, `amqp-declare-queue: ${JSON.stringify(declared)}`);
  try {
    const res = await admin.publish(up(A), { payload: { into: 'the right queue' } });
    assert.equal(res.status, 202, describe(res));
    await waitStored(A, res.json.id, `answered 202 but perhaps left in ${queue}: `);
  } finally {
    await run('amqp-delete-queue', [`--url=${url}`, '-q', queue], { timeoutMs: 10000 });
  }
});

// ------------------------------------------------------------------ finding 6: header totals

const HEADERS_MAX = 65536; // lib/message.h MTM_HEADERS_BYTES_MAX
const headersOf = (n, value) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, value]));

test('32 headers of 4 KB -> 422 naming "headers" (single) and "messages[3].headers" (batch), not 503', async () => {
  const big = headersOf(32, 'x'.repeat(4096));
  assertFieldError(await admin.publish(A, { payload: 1, headers: big }), 422, 'headers');
  const messages = [{ payload: 0 }, { payload: 1 }, { payload: 2, headers: { a: 'b' } }, { payload: 3, headers: big }];
  const res = await admin.publish(A, { messages });
  const e = assertFieldError(res, 422, 'messages[3].headers');
  assert.match(e.message, /65536/, `the message states the limit: ${describe(res)}`);
  assert.ok(!res.json.errors.some((x) => x.field.startsWith('messages[2]')), `message 2 is fine: ${describe(res)}`);
  // the full 64 × 4 KB the per-header limits allow
  assertFieldError(await admin.publish(A, { payload: 1, headers: headersOf(64, 'y'.repeat(4096)) }), 422, 'headers');
});

test('the total counts headers as JSON text: 16 headers of 4096 escaped characters -> 422; 15 plain ones of 4 KB -> 202, stored', async () => {
  // 16 × 4096 bytes of \u0001: 64 KiB of values, 6 times that as JSON
  assertFieldError(await admin.publish(A, { payload: 1, headers: headersOf(16, '\u0001'.repeat(4096)) }), 422, 'headers');
  const fits = headersOf(15, 'z'.repeat(4096));
  assert.ok(JSON.stringify(fits).length < HEADERS_MAX, 'the control case is under the limit');
  const res = await admin.publish(A, { payload: { fits: true }, headers: fits });
  assert.equal(res.status, 202, describe(res));
  await waitStored(A, res.json.id, '60 KiB of headers: ');
  const row = await stack.psql(`SELECT length(headers::text) FROM messages WHERE tenant_id = '${A}' AND id = '${res.json.id}'`);
  assert.ok(Number(row) > 15 * 4096, `stored headers: ${row} bytes`);
});

// ------------------------------------------------------------------ finding 9: cursors

test('forged cursors base64url("<kind>:<n>") -> 400 naming "cursor" on every listing', async (t) => {
  const cases = [
    [`/api/tenants/${A}/messages`, b64('md:9223372036854775807')],
    [`/api/tenants/${A}/messages?order=asc`, b64('ma:0')],
    [`/api/messages?tenant_id=${A}`, b64('md:1000000')],
    [`/api/tenants/${A}/dlq`, b64('dd:1000000')],
    [`/api/tenants/${A}/dlq?order=asc`, b64('da:0')],
    [`/api/tenants/${A}/tokens`, b64('k:0')],
    ['/api/tenants', b64('t:0')],
    ['/api/audit', b64('a:0')],
  ];
  for (const [p, cursor] of cases) {
    await t.test(`${p} cursor=${Buffer.from(cursor, 'base64url')}`, async () => {
      assertFieldError(await admin.get(`${p}${p.includes('?') ? '&' : '?'}cursor=${cursor}`), 400, 'cursor');
    });
  }
});

test("a cursor of tenant A's listing -> 400 naming \"cursor\" on tenant B's (messages, dead letters, tokens)", async (t) => {
  for (const [tenant, n] of [[A, 2], [B, 1]]) {
    const res = await admin.publish(tenant, { messages: Array.from({ length: n }, (_, i) => ({ payload: i })) });
    assert.equal(res.status, 202, describe(res));
    for (const id of res.json.ids) await waitStored(tenant, id, 'seeding: ');
  }
  for (const n of [1, 2]) await insertDeadLetter(A, `input-cross-${n}-${Date.now().toString(36)}`, { n });
  await tenantToken(A);
  await tenantToken(A);
  for (const [what, path] of [['messages', 'messages'], ['messages asc', 'messages?order=asc'], ['dead letters', 'dlq'], ['dead letters asc', 'dlq?order=asc'], ['tokens', 'tokens']]) {
    await t.test(what, async () => {
      const sep = path.includes('?') ? '&' : '?';
      const pa = await admin.get(`/api/tenants/${A}/${path}${sep}limit=1`);
      assert.equal(pa.status, 200, describe(pa));
      assert.equal(typeof pa.json.next_cursor, 'string', `A's ${what} need a second page: ${describe(pa)}`);
      const own = await admin.get(`/api/tenants/${A}/${path}${sep}limit=1&cursor=${pa.json.next_cursor}`);
      assert.equal(own.status, 200, `the cursor works on its own listing: ${describe(own)}`);
      assertFieldError(await admin.get(`/api/tenants/${B}/${path}${sep}cursor=${pa.json.next_cursor}`), 400, 'cursor');
      if (path.startsWith('messages')) {
        assertFieldError(await admin.get(`/api/messages?tenant_id=${B}&${path.slice(9)}&cursor=${pa.json.next_cursor}`), 400, 'cursor');
      }
    });
  }
});

test('a cursor made with the server\'s secret works; with another secret, or with any character changed, -> 400', async () => {
  const secret = stack.env.MTM_JWT_SECRET;
  const first = await admin.get(`/api/tenants/${A}/messages?order=asc&limit=2`);
  assert.equal(first.status, 200, describe(first));
  const seq = Number(await stack.psql(`SELECT seq FROM messages WHERE tenant_id = '${A}' AND id = '${first.json.data[0].id}'`));
  const made = makeCursor(secret, 'ma', A, seq);
  const viaMade = await admin.get(`/api/tenants/${A}/messages?order=asc&limit=1&cursor=${made}`);
  assert.equal(viaMade.status, 200, describe(viaMade));
  assert.equal(viaMade.json.data[0].id, first.json.data[1].id, 'a cursor after the first message starts at the second');
  assertFieldError(await admin.get(`/api/tenants/${A}/messages?order=asc&cursor=${makeCursor(`${secret}x`, 'ma', A, seq)}`), 400, 'cursor');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (const i of [0, 5, 10, 11, 20, made.length - 1]) {
    const c = made[i] === 'A' ? 'B' : 'A';
    const bad = made.slice(0, i) + c + made.slice(i + 1);
    assert.ok([...bad].every((x) => alphabet.includes(x)));
    assertFieldError(await admin.get(`/api/tenants/${A}/messages?order=asc&cursor=${bad}`), 400, 'cursor');
  }
});
