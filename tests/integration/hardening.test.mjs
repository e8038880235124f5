// Hardening: what a hostile producer or a hostile reader could do to stop
// service (docs/security.md, "Denial of service").
//
// - Deliveries published straight to a tenant's queue with hostile
//   properties (timestamps and attempt counts out of range, bytes that are
//   not UTF-8, header tables of every AMQP type, oversized producer
//   headers, bodies the database refuses) each end stored, retried or
//   dead-lettered with a stable reason code, and never hold up the valid
//   messages behind them: the three reported deliveries, then a generated
//   stream of hostile deliveries between valid ones.
// - The broker refuses a body over MTM_MAX_BODY.
// - Readers that never read a large page do not freeze the API, and pages
//   stop at their byte budget (4 MiB) with a cursor to the rest.
// - Replaying more dead letters than fit in one chunk's byte budget.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import { startStack } from '../harness/stack.mjs';
import { sleep, waitFor } from '../harness/util.mjs';
import { amqpPublish } from '../harness/amqp.mjs';
import { makeApi, describe, queueNames } from '../harness/api.mjs';

const MAX_BODY = 1048576; // the default; the broker's max_message_size follows it
const MAX_ATTEMPTS = 3;
const PAGE_BYTES = 4 * 1024 * 1024;
const REASON_CODES = ['invalid_message_id', 'body_too_large', 'body_not_json', 'body_has_nul', 'invalid_headers', 'storage_refused'];

let stack;
let api;

before(async () => {
  stack = await startStack({
    env: { MTM_MAX_ATTEMPTS: String(MAX_ATTEMPTS), MTM_RETRY_BASE_MS: '50' },
  });
  await stack.waitReady();
  api = makeApi(stack, { token: await stack.adminToken() });
});

after(async () => {
  if (stack) await stack.stop();
});

const logs = () => stack.describeLogs(['consumerd', 'mtm-api', 'lighttpd-error']);
const sqlStr = (s) => `'${String(s).replace(/'/g, "''")}'`;

async function newTenant(name, concurrency = 1) {
  const t = await api.createTenant(`${name}-${Date.now().toString(36)}`, concurrency);
  await api.waitWorkers(t.id, concurrency, { timeoutMs: 5000, describeExtra: logs });
  return t.id;
}

const foreign = (tenant, messages) => amqpPublish(stack.amqpUrl, queueNames(tenant)[0], messages, { timeoutMs: 30000 });

async function storedOf(tenant, ids) {
  if (!ids.length) return [];
  const out = await stack.psql(`SELECT id FROM messages WHERE tenant_id = '${tenant}' AND id IN (${ids.map(sqlStr).join(',')})`);
  return out ? out.split('\n') : [];
}

async function deadLetters(tenant) {
  const out = await stack.psql(`SELECT coalesce(json_agg(json_build_object('id', id, 'reason_code', reason_code,
      'reason', reason, 'attempts', attempts, 'size', length(body)) ORDER BY seq), '[]') FROM dead_letters WHERE tenant_id = '${tenant}'`);
  return JSON.parse(out);
}

/**
 * waitFor until accept() resolves true (anything else describes where it
 * stands, for the timeout's message); resolves the elapsed ms.
 */
async function waitUntil(what, accept, { timeoutMs = 30000, intervalMs = 200 } = {}) {
  const start = Date.now();
  let last;
  await waitFor(what, async () => (last = await accept()) === true, {
    timeoutMs, intervalMs, describe: () => `  last: ${JSON.stringify(last)?.slice(0, 2000)}\n${logs()}`,
  });
  return Date.now() - start;
}

const validMessage = (id) => ({ body: JSON.stringify({ valid: id }), properties: { messageId: id } });

// ------------------------------------------------------------ poison

test('the three reported poison deliveries are dead-lettered with a reason code; the valid messages around them are stored', async () => {
  const tenant = await newTenant('poison3');
  const bigHeaders = JSON.stringify(Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`h${i}`, 'v'.repeat(4000)])));
  assert.ok(bigHeaders.length > 100000);
  const messages = [
    validMessage('before-1'),
    // attempts 10 and a first failure at 2^63-1 ms: the dead-letter insert refused the timestamp
    { body: 'not json', properties: { messageId: 'poison-time', headers: { 'x-mtm-attempts': 10, 'x-mtm-first-failed-at': 2n ** 63n - 1n } } },
    // attempts 10 and a traceparent of bytes that are not UTF-8: copied raw into jsonb, refused
    { body: 'not json', properties: { messageId: 'poison-trace', headers: { 'x-mtm-attempts': 10, traceparent: Buffer.from([0xff, 0xfe]) } } },
    // 1,000,000 bytes of valid JSON with 100 KB of producer headers and a publish time of 10^17 ms
    { body: JSON.stringify('p'.repeat(999998)), properties: { messageId: 'poison-big', headers: { 'x-mtm-headers': bigHeaders, 'x-mtm-published-at': 10n ** 17n } } },
    // a storable message whose publish time is out of range: stored, published_at falls back to now
    { body: '{"late":true}', properties: { messageId: 'late-clock', headers: { 'x-mtm-published-at': 10n ** 17n, 'x-mtm-first-failed-at': -5 } } },
    validMessage('after-1'),
  ];
  const t0 = Date.now();
  await foreign(tenant, messages);
  await waitUntil('before-1, late-clock and after-1 stored', async () => {
    const got = await storedOf(tenant, ['before-1', 'late-clock', 'after-1']);
    return got.length === 3 || got;
  }, { timeoutMs: 20000 });
  const published = Number(await stack.psql(`SELECT (extract(epoch FROM published_at) * 1000)::bigint FROM messages WHERE tenant_id = '${tenant}' AND id = 'late-clock'`));
  assert.ok(published >= t0 - 5000 && published <= Date.now() + 5000, `late-clock: published_at must fall back to the time of storing, got ${published}`);

  const dl = await (async () => {
    let entries;
    await waitUntil('three dead letters', async () => {
      entries = await deadLetters(tenant);
      return entries.length === 3 || entries;
    }, { timeoutMs: 30000 });
    return Object.fromEntries(entries.map((e) => [e.id, e]));
  })();
  assert.equal(dl['poison-time']?.reason_code, 'body_not_json', JSON.stringify(dl));
  assert.equal(dl['poison-time'].attempts, 11, JSON.stringify(dl));
  assert.equal(dl['poison-trace']?.reason_code, 'body_not_json', JSON.stringify(dl));
  assert.equal(dl['poison-big']?.reason_code, 'invalid_headers', JSON.stringify(dl));
  assert.equal(dl['poison-big'].attempts, MAX_ATTEMPTS, JSON.stringify(dl));
  const props = await stack.psql(`SELECT properties::text FROM dead_letters WHERE tenant_id = '${tenant}' AND id = 'poison-trace'`);
  assert.ok(!JSON.parse(props).traceparent, `an invalid traceparent is not kept: ${props}`);

  // Nothing is left waiting on either queue.
  await waitUntil('queues empty', async () => {
    const q = await stack.listQueues();
    const [main, retry] = queueNames(tenant).map((n) => q.get(n));
    return (main === 0 && retry === 0) || { main, retry };
  }, { timeoutMs: 10000 });
});

test('a message the database refuses is dead-lettered as storage_refused, without PostgreSQL\'s text; the rest of its batch is stored', async () => {
  const tenant = await newTenant('refused');
  // 1e200000 is valid JSON, but over what PostgreSQL's numeric holds.
  await foreign(tenant, [validMessage('r-before'), { body: '{"n":1e200000}', properties: { messageId: 'r-huge' } }, validMessage('r-after')]);
  await waitUntil('r-before and r-after stored', async () => (await storedOf(tenant, ['r-before', 'r-after'])).length === 2, { timeoutMs: 20000 });
  let entries;
  await waitUntil('r-huge dead-lettered', async () => {
    entries = await deadLetters(tenant);
    return entries.length === 1 || entries;
  });
  const res = await api.get(`/api/tenants/${tenant}/dlq`);
  assert.equal(res.status, 200, describe(res));
  const [e] = res.json.data;
  assert.equal(e.id, 'r-huge', describe(res));
  assert.ok(REASON_CODES.includes(e.reason_code), `reason_code must be one of the documented codes: ${describe(res)}`);
  if (e.reason_code === 'storage_refused') assert.equal(e.reason, 'the database refused the message', describe(res));
  assert.doesNotMatch(e.reason, /ERROR|SQL|CONTEXT|numeric|INSERT|postgres/i, `the reason must not carry the database's text: ${describe(res)}`);
  assert.equal(e.attempts, MAX_ATTEMPTS, describe(res));
});

// ------------------------------------------------------------ a generated stream

/** A small seeded PRNG (mulberry32), so that a failure can be replayed. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  const pick = (list) => list[int(list.length)];
  const bytes = (n) => Buffer.from(Array.from({ length: n }, () => int(256)));
  return { next, int, pick, bytes };
}

function hostileValue(r) {
  const kinds = [
    () => ({ amqpType: 'b', value: r.int(256) - 128 }),
    () => ({ amqpType: 'B', value: r.int(256) }),
    () => ({ amqpType: 's', value: r.int(65536) - 32768 }),
    () => ({ amqpType: 'u', value: r.int(65536) }),
    () => ({ amqpType: 'I', value: r.int(2 ** 32) - 2 ** 31 }),
    () => ({ amqpType: 'i', value: r.int(2 ** 32) }),
    () => ({ amqpType: 'l', value: r.pick([-(2n ** 63n), -1n, 0n, 10n ** 17n, 2n ** 63n - 1n, BigInt(Date.now())]) }),
    () => ({ amqpType: 'L', value: r.pick([0n, 2n ** 64n - 1n, 2n ** 63n, 10n ** 17n]) }),
    () => ({ amqpType: 'T', value: r.pick([0n, 2n ** 64n - 1n, 2n ** 40n, BigInt(Math.floor(Date.now() / 1000))]) }),
    // (No NaN or infinities: RabbitMQ's Erlang cannot decode them and closes the connection.)
    () => ({ amqpType: 'f', value: r.pick([-1.5, 1e30, 0]) }),
    () => ({ amqpType: 'd', value: r.pick([-1e300, 1e300, 0.5]) }),
    () => ({ amqpType: 'D', value: { scale: r.int(256), value: r.int(2 ** 32) } }),
    () => ({ amqpType: 'V' }),
    () => ({ amqpType: 't', value: r.int(2) === 1 }),
    () => ({ amqpType: 'S', value: r.bytes(r.int(64)) }),
    () => ({ amqpType: 'x', value: r.bytes(r.int(5000)) }),
    () => ({ amqpType: 'S', value: r.pick(['{"a":"b"}', '{"a":1}', '[]', '{"k":"\\u0000"}', `{"big":"${'z'.repeat(5000)}"}`, '{', '']) }),
    () => ({ amqpType: 'F', value: { nested: { amqpType: 'x', value: r.bytes(8) } } }),
    () => ({ amqpType: 'A', value: [1, 'two', { amqpType: 'V' }] }),
  ];
  return r.pick(kinds)();
}

function hostileDelivery(r, i) {
  const keys = ['x-mtm-attempts', 'x-mtm-first-failed-at', 'x-mtm-published-at', 'x-mtm-headers', 'x-mtm-last-error', 'traceparent', 'x-other'];
  const headers = {};
  const n = r.int(6);
  for (let k = 0; k < n; k++) headers[r.pick(keys)] = hostileValue(r);
  // Up to ~90 KB of producer headers: over the API's 64 KiB, within one AMQP frame.
  if (r.int(4) === 0) headers['x-mtm-headers'] = JSON.stringify(Object.fromEntries(Array.from({ length: r.int(30) }, (_, j) => [`n${j}`, 'w'.repeat(r.int(3000))])));
  const bodies = [
    () => JSON.stringify({ hostile: i }),
    () => 'not json',
    () => Buffer.from([0x22, 0xff, 0xfe, 0x22]),
    () => '"\\u0000"',
    () => '',
    () => '{"n":1e200000}',
    () => JSON.stringify('q'.repeat(r.int(200000))),
    () => r.bytes(r.int(300)),
    () => '[' .repeat(100) + ']'.repeat(100),
  ];
  const properties = { headers };
  const id = r.int(8);
  if (id === 0) properties.messageId = Buffer.from([0x68, 0x01, 0xff]); // not printable
  else if (id !== 1) properties.messageId = `hostile-${i}`; // 1: no id at all
  if (r.int(3) === 0) properties.timestamp = r.pick([0n, 2n ** 64n - 1n, BigInt(Math.floor(Date.now() / 1000))]);
  return { body: r.pick(bodies)(), properties, named: properties.messageId === `hostile-${i}` };
}

test('a generated stream of hostile deliveries between valid ones: every valid message is stored, every hostile one is stored or dead-lettered', async () => {
  const seed = Number(process.env.MTM_HOSTILE_SEED || crypto.randomInt(2 ** 31));
  const r = prng(seed);
  const tenant = await newTenant('hostile', 2);
  const valid = [];
  const hostile = [];
  const messages = [];
  for (let i = 0; i < 80; i++) {
    const v = `valid-${i}`;
    valid.push(v);
    messages.push(validMessage(v));
    const h = hostileDelivery(r, i);
    hostile.push(h);
    messages.push({ body: h.body, properties: h.properties });
  }
  const what = `(seed ${seed}; rerun with MTM_HOSTILE_SEED=${seed})`;
  for (let i = 0; i < messages.length; i += 20) await foreign(tenant, messages.slice(i, i + 20));

  await waitUntil(`all ${valid.length} valid messages stored ${what}`, async () => {
    const got = await storedOf(tenant, valid);
    return got.length === valid.length || { stored: got.length };
  }, { timeoutMs: 30000 });

  // Each hostile delivery ends stored (under its id) or as exactly one dead letter.
  const named = hostile.map((h, i) => (h.named ? `hostile-${i}` : null)).filter(Boolean);
  await waitUntil(`every hostile delivery stored or dead-lettered ${what}`, async () => {
    const stored = await storedOf(tenant, named);
    const dead = await deadLetters(tenant);
    const settled = stored.length + dead.length;
    return settled === hostile.length || { stored: stored.length, dead: dead.length, of: hostile.length };
  }, { timeoutMs: 45000, intervalMs: 500 });
  const dead = await deadLetters(tenant);
  for (const e of dead) {
    assert.ok(REASON_CODES.includes(e.reason_code), `dead letter ${e.id}: unknown reason code ${e.reason_code} ${what}`);
    assert.ok(e.size <= MAX_BODY, `dead letter ${e.id} keeps ${e.size} bytes, over MTM_MAX_BODY ${what}`);
  }
  const stored = new Set(await storedOf(tenant, named));
  for (const e of dead) assert.ok(!stored.has(e.id), `${e.id} is both stored and dead-lettered ${what}`);
  const q = await stack.listQueues();
  for (const name of queueNames(tenant)) {
    assert.equal(q.get(name), 0, `${name} must be empty once every delivery settled ${what}`);
  }
  assert.match(stack.logs('consumerd'), /dead-lettered/, 'consumerd logs each dead letter');
});

// ------------------------------------------------------------ size limits

test('the broker refuses a body over MTM_MAX_BODY before consumerd sees it (max_message_size)', async () => {
  const tenant = await newTenant('maxsize');
  await assert.rejects(
    foreign(tenant, [{ body: JSON.stringify('o'.repeat(MAX_BODY)), properties: { messageId: 'too-big' } }]),
    /closed the (channel|connection).*(406|larger|size)/i,
  );
  await foreign(tenant, [validMessage('small-after')]);
  await waitUntil('small-after stored', async () => (await storedOf(tenant, ['small-after'])).length === 1, { timeoutMs: 15000 });
});

// ------------------------------------------------------------ slow readers and page budgets

/** Sends one GET on a raw socket and never reads the answer. */
function stalledReader(path, token) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: stack.httpPort }, () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nConnection: keep-alive\r\n\r\n`);
      sock.pause();
      resolve(sock);
    });
    sock.on('error', reject);
  });
}

async function publishLarge(tenant, n, bytes) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const res = await api.publish(tenant, { payload: { i, fill: 'f'.repeat(bytes) } }, { timeoutMs: 30000 });
    assert.equal(res.status, 202, describe(res));
    ids.push(res.json.id);
  }
  await waitUntil(`${n} large messages stored`, async () => (await storedOf(tenant, ids)).length === n, { timeoutMs: 30000 });
  return ids;
}

test('pages stop at their byte budget with a cursor to the rest; walking them returns every message once', async () => {
  const tenant = await newTenant('budget');
  const ids = await publishLarge(tenant, 9, 900000);
  for (const order of ['desc', 'asc']) {
    const seen = [];
    let cursor = null;
    let pages = 0;
    do {
      const res = await api.get(`/api/tenants/${tenant}/messages?limit=1000&order=${order}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { timeoutMs: 30000 });
      assert.equal(res.status, 200, describe(res));
      const size = Buffer.byteLength(res.text);
      assert.ok(res.json.data.length >= 1, `a page holds at least one message: ${describe(res)}`);
      assert.ok(size <= PAGE_BYTES || res.json.data.length === 1, `page ${pages} (${order}) is ${size} bytes with ${res.json.data.length} rows: over the ${PAGE_BYTES}-byte budget`);
      seen.push(...res.json.data.map((m) => m.id));
      cursor = res.json.next_cursor;
      pages++;
    } while (cursor && pages < 20);
    assert.ok(pages >= 3, `9 messages of 900 KB need at least 3 pages of 4 MiB (${order}), got ${pages}`);
    assert.equal(seen.length, ids.length, `${order}: every message once: ${JSON.stringify(seen)}`);
    assert.deepEqual([...seen].sort(), [...ids].sort(), order);
  }
});

test('readers that never read a large page do not hold the responder: health, ready and other pages answer meanwhile', async () => {
  const tenant = await newTenant('slowread');
  await publishLarge(tenant, 8, 900000);
  const token = api.token;
  const readers = [];
  try {
    // More stalled readers than mtm-api has request threads (8).
    for (let i = 0; i < 12; i++) readers.push(await stalledReader(`/api/tenants/${tenant}/messages?limit=1000`, token));
    // Let every page be rendered and its socket fill up. A sleep, as no
    // metric or log says when a responder thread is blocked on a full socket.
    await sleep(1500);
    for (let round = 0; round < 3; round++) {
      for (const path of ['/api/health', '/api/ready', `/api/tenants/${tenant}/messages?limit=1`]) {
        const res = await api.get(path, { timeoutMs: 5000 });
        assert.equal(res.status, 200, `${path} while 12 readers stall: ${describe(res)}\n${logs()}`);
      }
    }
  } finally {
    for (const s of readers) s.destroy();
  }
});

// ------------------------------------------------------------ replay in chunks

test('replaying more dead letters than one chunk\'s byte budget replays them all, in bounded chunks', async () => {
  const tenant = await newTenant('bigreplay');
  // 12 dead letters of ~1 MB (about 12 MB, over the 8 MiB a chunk holds):
  // bodies that are valid JSON but with producer headers that are not.
  const messages = Array.from({ length: 12 }, (_, i) => ({
    body: JSON.stringify(`${i}`.padEnd(1000000, 'r')),
    properties: { messageId: `big-${i}`, headers: { 'x-mtm-attempts': 10, 'x-mtm-headers': '{"a":1}' } },
  }));
  for (const m of messages) await foreign(tenant, [m]);
  await waitUntil('12 dead letters', async () => (await deadLetters(tenant)).length === 12 || (await deadLetters(tenant)).length, { timeoutMs: 30000 });
  const res = await api.req('POST', `/api/tenants/${tenant}/dlq/replay`, { timeoutMs: 60000 });
  assert.equal(res.status, 200, describe(res));
  assert.equal(res.json.replayed, 12, describe(res));
  // Replayed as they arrived, invalid headers included: they come back as
  // dead letters, with a fresh attempt count.
  await waitUntil('12 dead letters again after the replay', async () => {
    const d = await deadLetters(tenant);
    return (d.length === 12 && d.every((e) => e.attempts === MAX_ATTEMPTS && e.reason_code === 'invalid_headers')) || d.map((e) => [e.id, e.attempts]);
  }, { timeoutMs: 30000 });
  assert.equal(Number(await stack.psql(`SELECT count(*) FROM messages WHERE tenant_id = '${tenant}'`)), 0, 'none stored');
});
