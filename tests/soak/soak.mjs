// make soak: a long mixed load against a throwaway stack, then the books.
//
//   MTM_SOAK_MINUTES=10 node tests/soak/soak.mjs   (default 30)
//
// Two consumerd share the tenants. For MTM_SOAK_MINUTES, at once:
//   - producers publish batches to three long-lived tenants (HTTP);
//   - a reader walks the pages of their messages with cursors;
//   - a resizer sets a random tenant's concurrency (1..4) every 10 s;
//   - a churner creates a tenant every 20 s, publishes to it, waits until
//     it is stored exactly once, and deletes it;
//   - the first consumerd is restarted (SIGTERM, start) every
//     MTM_SOAK_RESTART_SECONDS (180); the second runs throughout, so its
//     memory is measured over the whole run while tenants move to it and
//     back.
// Every minute: VmRSS and open file descriptors of mtm-api and the second
// consumerd, printed as a trend. At the end: every id answered 202 stored
// exactly once; RSS in the last third of the run at most 25 % + 16 MiB
// over the sample after the first (warm-up) minute; sockets beyond the
// process's threads (a consumerd's sockets follow its workers) and other
// descriptors at most 4 over it. Exit status 1 if any of that fails.
//
// Uses the release build (MTM_TEST_BUILD_DIR, default build/release): the
// sanitizers' own allocator would hide or fake a trend.
import fs from 'node:fs';
import path from 'node:path';
import { REPO, sleep } from '../harness/util.mjs';

process.env.MTM_TEST_BUILD_DIR ||= path.join(REPO, 'build', 'release');
const { startStack } = await import('../harness/stack.mjs');
const { makeApi } = await import('../harness/api.mjs');
const { startStream, summarize, assertStreamsStored } = await import('../harness/faults.mjs');

const MINUTES = Number(process.env.MTM_SOAK_MINUTES || 30);
const RESTART_S = Number(process.env.MTM_SOAK_RESTART_SECONDS || 180);
const SAMPLE_MS = 60000;
const log = (msg) => process.stdout.write(`soak ${new Date().toISOString().slice(11, 19)} ${msg}\n`);

function procFigures(stack, name) {
  const p = stack.proc(name);
  if (!p || !p.running) return null;
  const status = fs.readFileSync(`/proc/${p.pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  const threads = Number(/Threads:\s+(\d+)/.exec(status)[1]);
  let fds = 0, sockets = 0;
  for (const fd of fs.readdirSync(`/proc/${p.pid}/fd`)) {
    fds++;
    try { if (fs.readlinkSync(`/proc/${p.pid}/fd/${fd}`).startsWith('socket:')) sockets++; } catch { /* closed meanwhile */ }
  }
  // A consumerd's sockets follow its workers (one broker connection each),
  // which follow the tenants it holds: sockets beyond its threads, and the
  // other descriptors, are what must not grow.
  return { pid: p.pid, rssKiB: rss, fds, threads, spare: sockets - threads, files: fds - sockets };
}

const stack = await startStack();
let failed = false;
const fail = (msg) => { failed = true; log(`FAIL: ${msg}`); };
try {
  await stack.waitReady();
  const steady = await stack.addConsumerd(); // never restarted: its memory is the trend
  const api = makeApi(stack, { token: await stack.adminToken() });
  const tenants = [];
  for (let i = 0; i < 3; i++) tenants.push((await api.createTenant(`soak-${i}`, 2)).id);
  const streams = tenants.map((id, i) => startStream(api, id, { tag: `soak-${i}`, batch: 10, gapMs: 50, timeoutMs: 20000 }));
  const deadline = Date.now() + MINUTES * 60000;
  const until = () => Date.now() < deadline;
  const counts = { resizes: 0, churned: 0, restarts: 0, pages: 0 };

  // Reader: walk every tenant's pages, oldest first, 100 at a time.
  const pager = (async () => {
    while (until()) {
      for (const id of tenants) {
        let cursor = null;
        do {
          const res = await api.get(`/api/tenants/${id}/messages?order=asc&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { timeoutMs: 20000 });
          if (res.status !== 200) { fail(`page: ${res.status} ${res.text.slice(0, 200)}`); break; }
          counts.pages++;
          cursor = res.json.next_cursor;
        } while (cursor && until());
      }
      await sleep(200);
    }
  })();
  const resizer = (async () => {
    while (until()) {
      await sleep(10000);
      const id = tenants[Math.floor(Math.random() * tenants.length)];
      const res = await api.setConcurrency(id, 1 + Math.floor(Math.random() * 4));
      if (res.status !== 200) fail(`resize: ${res.status} ${res.text.slice(0, 200)}`); else counts.resizes++;
    }
  })();
  const churner = (async () => {
    while (until()) {
      await sleep(20000);
      try {
        const t = await api.createTenant(`churn-${Date.now().toString(36)}`, 1);
        const s = startStream(api, t.id, { tag: 'churn', batch: 20, gapMs: 20 });
        await sleep(2000);
        const r = await s.stop();
        await assertStreamsStored(stack, t.id, [r], { info: `churn tenant ${t.id}` });
        const del = await api.deleteTenant(t.id);
        if (del.status !== 202) fail(`delete: ${del.status}`);
        await api.waitGone(t.id, { timeoutMs: 30000 });
        counts.churned++;
      } catch (e) { fail(`churn: ${e.message.split('\n').slice(0, 3).join(' | ')}`); }
    }
  })();
  const restarter = (async () => {
    while (until()) {
      const next = Date.now() + RESTART_S * 1000;
      while (until() && Date.now() < next) await sleep(1000);
      if (!until()) break;
      const r = await stack.killConsumerd('SIGTERM');
      if (r.code !== 0) fail(`consumerd exited ${r.code}/${r.signal} on SIGTERM`);
      await stack.startConsumerd();
      counts.restarts++;
    }
  })();

  const samples = [];
  const sample = () => {
    const s = { min: samples.length, api: procFigures(stack, 'mtm-api'), cd: procFigures(stack, steady), published: streams.reduce((n, x) => n + x.ids.length, 0) };
    samples.push(s);
    log(`minute ${s.min}: mtm-api RSS ${(s.api.rssKiB / 1024).toFixed(1)} MiB, ${s.api.fds} fds; ${steady} RSS ${(s.cd.rssKiB / 1024).toFixed(1)} MiB, ${s.cd.fds} fds; ` +
      `${s.published} published; ${JSON.stringify(counts)}`);
  };
  log(`running ${MINUTES} min (consumerd restarted every ${RESTART_S} s; build ${process.env.MTM_TEST_BUILD_DIR})`);
  sample();
  while (until()) {
    await sleep(Math.min(SAMPLE_MS, Math.max(0, deadline - Date.now())));
    sample();
  }
  await Promise.all([pager, resizer, churner, restarter]);
  const results = await Promise.all(streams.map((s) => s.stop()));
  log(`load stopped: ${results.map((r) => `${r.tag} ${summarize(r.attempts)}`).join(', ')}`);
  for (const [i, id] of tenants.entries()) {
    try {
      const { ms } = await assertStreamsStored(stack, id, [results[i]], { info: `soak tenant ${i}`, timeoutMs: 180000 });
      log(`tenant ${i}: ${results[i].ids.length} ids answered 202, each stored exactly once (${ms} ms after the load stopped)`);
    } catch (e) { fail(e.message.split('\n').slice(0, 4).join(' | ')); }
    const bad = results[i].attempts.filter((a) => a.status !== 202);
    if (bad.length) fail(`tenant ${i}: ${bad.length} publishes not answered 202, e.g. ${bad[0].status} ${bad[0].err}`);
  }

  // The trend: warm sample (minute 1, or 0 for a short run) against the last third.
  const warm = samples[Math.min(1, samples.length - 1)];
  const tailS = samples.slice(Math.max(1, Math.floor((samples.length * 2) / 3)));
  for (const [who, key] of [['mtm-api', 'api'], [steady, 'cd']]) {
    const rss = samples.map((s) => (s[key].rssKiB / 1024).toFixed(1));
    const fds = samples.map((s) => s[key].fds);
    log(`${who} RSS MiB by minute: ${rss.join(' ')}`);
    log(`${who} fds by minute: ${fds.join(' ')}`);
    log(`${who} threads, sockets beyond threads, other fds by minute: ${samples.map((s) => `${s[key].threads}/${s[key].spare}/${s[key].files}`).join(' ')}`);
    const maxTail = Math.max(...tailS.map((s) => s[key].rssKiB));
    const bound = warm[key].rssKiB * 1.25 + 16 * 1024;
    if (maxTail > bound) fail(`${who}: RSS ${(maxTail / 1024).toFixed(1)} MiB in the last third, over the bound ${(bound / 1024).toFixed(1)} MiB (warm ${(warm[key].rssKiB / 1024).toFixed(1)} MiB)`);
    for (const k of ['spare', 'files']) {
      const most = Math.max(...tailS.map((s) => s[key][k]));
      if (most > warm[key][k] + 4) fail(`${who}: ${k} ${most} in the last third, ${warm[key][k]} when warm (sockets beyond threads / other descriptors)`);
    }
  }
  log(`counts: ${JSON.stringify(counts)}`);
} catch (e) {
  fail(e.stack || e.message);
} finally {
  try { await stack.stop(); } catch (e) { fail(e.message); }
}
log(failed ? 'FAILED' : 'passed');
process.exit(failed ? 1 : 0);
