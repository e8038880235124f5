// Services booted ahead of the tests that will want them: the warm pool.
//
//   node tests/harness/warmpool.mjs DIR [SPARES]
//
// Every test file starts a stack, and two steps of that are slow and the
// same every time: initdb, and booting a RabbitMQ node (Erlang, then
// RabbitMQ's boot steps), together most of a stack's start-up. tests/run.sh
// runs this pool beside `node --test` with MTM_TEST_WARM_POOL=DIR:
//
//   - it runs initdb once into DIR/pg-template/data (then DIR/pg-template/ok)
//     and keeps a copy of it ready in DIR/pg-ready/<id>; a stack moves that
//     copy into its folder instead of running initdb, and sets its own
//     superuser password (stack.mjs, #setupPostgres);
//   - it keeps SPARES (1) RabbitMQ nodes booted, each made as a stack makes
//     its own (prepareRabbitNode: one node, default settings); a stack that
//     wants such a node takes one (claimPooledBroker) instead of booting it,
//     while the pool boots the next beside the running test. The node is then
//     the stack's: the stack stops it and removes its folder.
//
// DIR holds booting/<id> (a node on its way), ready/<id>.json (a node to
// take), claimed/<id>.json (taken) and each node's folder <id>/ with its log.
// The pool ends on SIGTERM or SIGINT, or when its parent is gone: it then
// kills every process it started (taken or not, by its MTM_HARNESS_TAG) and
// removes DIR. Without the pool (one test file run by hand), stacks do both
// steps themselves.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { prepareRabbitNode, rabbitNodeProc, initPostgres, cleanBaseEnv } from './stack.mjs';
import { run, killTaggedSync } from './proc.mjs';
import { amqpProbe } from './amqp.mjs';
import { freePort, waitFor, sleep } from './util.mjs';

const [dir, sparesArg] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: node warmpool.mjs DIR [SPARES]\n');
  process.exit(2);
}
const SPARES = Number(sparesArg || 1);
const BOOT_TIMEOUT_MS = 60000;
const tag = `pool-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
const baseEnv = cleanBaseEnv(tag);
/** The parent pid now (process.ppid is read once, at start). */
const ppidNow = () => {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};
const parent = ppidNow();
const log = (msg) => process.stdout.write(`warmpool ${new Date().toISOString().slice(11, 23)} ${msg}\n`);
const entries = (sub) => { try { return fs.readdirSync(path.join(dir, sub)).filter((f) => !f.startsWith('.')); } catch { return []; } };

for (const sub of ['ready', 'booting', 'claimed', 'pg-ready']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
fs.chmodSync(dir, 0o755); // the brokers run as user rabbitmq, PostgreSQL as postgres

let stopping = false;
function finish(why) {
  if (stopping) return;
  stopping = true;
  const taken = entries('claimed').length;
  const killed = killTaggedSync(tag, 3000);
  try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
  log(`stopped (${why}): RabbitMQ nodes taken: ${taken}; processes ended: ${killed.length}`);
  process.exit(0);
}
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => finish(s));
// Orphaned (its parent died, it was adopted by another process): end.
setInterval(() => {
  if (ppidNow() !== parent) finish('parent gone');
}, 1000).unref();

/** Boots one node and offers it in ready/; throws if it does not come up. */
async function boot() {
  const id = crypto.randomBytes(4).toString('hex');
  const marker = path.join(dir, 'booting', id);
  const nodeDir = path.join(dir, id);
  const logFile = path.join(nodeDir, 'rabbitmq.log');
  fs.writeFileSync(marker, '');
  let proc = null;
  const started = Date.now();
  try {
    const epmdPort = await freePort();
    const node = await prepareRabbitNode({ dir: nodeDir, suffix: id, epmdPort, baseEnv });
    proc = rabbitNodeProc({ env: node.env, dir: nodeDir, logFile }).start();
    await waitFor(`RabbitMQ node ${node.node} to accept AMQP logins`, () => amqpProbe(node.url, { timeoutMs: 2000 }), {
      timeoutMs: BOOT_TIMEOUT_MS,
      intervalMs: 250,
      check: () => proc.assertRunning('to boot'),
    });
    // written aside, then renamed: a stack never reads half a file
    const offer = { ...node, epmdPort, pid: proc.pid, logFile };
    const aside = path.join(dir, 'ready', `.${id}.json`);
    fs.writeFileSync(aside, JSON.stringify(offer));
    fs.renameSync(aside, path.join(dir, 'ready', `${id}.json`));
    log(`node ${id} ready in ${Date.now() - started} ms (AMQP port ${node.amqpPort})`);
  } catch (e) {
    if (proc) await proc.stop({ signal: 'SIGKILL', timeoutMs: 5000 });
    fs.rmSync(nodeDir, { recursive: true, force: true });
    throw e;
  } finally {
    fs.rmSync(marker, { force: true });
  }
}

/** initdb once, for every stack to copy. */
async function pgTemplate() {
  const started = Date.now();
  const pgDir = path.join(dir, 'pg-template');
  try {
    await initPostgres({ pgDir, data: path.join(pgDir, 'data'), password: crypto.randomBytes(18).toString('base64url'), env: baseEnv });
    fs.writeFileSync(path.join(pgDir, 'ok'), '');
    log(`PostgreSQL template ready in ${Date.now() - started} ms`);
  } catch (e) {
    log(`no PostgreSQL template (stacks run initdb themselves): ${e.message}`);
  }
}

/** Keeps one copy of the template in pg-ready/, made aside and renamed in. */
let copying = false;
async function pgSpare() {
  if (copying || !fs.existsSync(path.join(dir, 'pg-template', 'ok')) || entries('pg-ready').length) return;
  copying = true;
  try {
    const id = crypto.randomBytes(4).toString('hex');
    const aside = path.join(dir, 'pg-ready', `.${id}`);
    const r = await run('cp', ['-a', path.join(dir, 'pg-template', 'data'), aside], { timeoutMs: 60000 });
    if (r.code !== 0) throw new Error(`cp -a of the PostgreSQL template failed: ${r.stderr}`);
    fs.renameSync(aside, path.join(dir, 'pg-ready', id));
  } finally {
    copying = false;
  }
}

log(`keeping ${SPARES} RabbitMQ node(s) and a PostgreSQL data folder ready in ${dir}`);
// beside the first node's boot
pgTemplate().then(pgSpare).catch((e) => log(e.message));
let failures = 0;
while (!stopping) {
  try {
    await pgSpare();
  } catch (e) {
    log(e.message);
  }
  if (entries('ready').length + entries('booting').length >= SPARES) {
    await sleep(100);
    continue;
  }
  try {
    await boot();
    failures = 0;
  } catch (e) {
    failures += 1;
    log(`a node failed to boot (${failures} in a row): ${e.message}`);
    // stacks boot their own meanwhile (no booting/ marker to wait for)
    if (failures >= 3) finish('three boots failed');
    await sleep(2000);
  }
}
