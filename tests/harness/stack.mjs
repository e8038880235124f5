// The throwaway mtm stack for integration tests (our stand-in for dockertest).
//
//   import { startStack } from '../harness/stack.mjs';
//   const stack = await startStack({ env: { MTM_MAX_BODY: '1024' } });
//   ... stack.baseUrl, stack.env, stack.pgUrl, stack.amqpUrl ...
//   await stack.stop();   // throws if a sanitizer fired or a binary misbehaved
//
// Everything lives in a fresh folder (<tmp>/mtm-test-XXXXXX): a PostgreSQL
// cluster and a RabbitMQ node on free ports, mtm-api on a unix socket,
// lighttpd with the repository's own lighttpd.conf, and consumerd. Processes
// are torn down by stop(), and also on exit / SIGINT / SIGTERM / SIGHUP and,
// if this process is killed outright, by a detached reaper (see proc.mjs).
//
// Environment knobs:
//   MTM_TEST_BUILD_DIR  build tree (default <repo>/build/asan)
//   MTM_TEST_BIN_DIR    binaries (default $MTM_TEST_BUILD_DIR/bin)
//   MTM_TEST_TMPDIR     where the throwaway folders go (default os.tmpdir())
//   MTM_TEST_RABBIT_ERL_ARGS  the broker's Erlang flags instead of the stack's
//                       (+swt very_high), to measure them; a single node only
//   MTM_TEST_KEEP=1     keep the folder (data + logs) after stop()
//   MTM_TEST_VERBOSE=1  print where things are while starting
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { Proc, run, register, unregister, startReaper, killTaggedSync, taggedPids, pidAlive, IS_ROOT, userIds } from './proc.mjs';
import { REPO, freePort, canConnect, canConnectUnix, waitFor, sleep, tail, indent, randomSecret } from './util.mjs';
import { amqpProbe } from './amqp.mjs';

export { REPO };
// Erlang flags of the broker, as supervisord.conf sets them: wake a second
// scheduler only under very high load (docs/operations.md).
const RABBIT_ERL_ARGS = process.env.MTM_TEST_RABBIT_ERL_ARGS ?? '+swt very_high';
// A node of a test cluster (rabbitNodes > 1): three VMs share two cores with
// everything else, so one scheduler each, and no busy waiting of idle
// schedulers (which burns CPU another node or PostgreSQL could use).
const RABBIT_CLUSTER_ERL_ARGS = '+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none';
export const BUILD_DIR = path.resolve(REPO, process.env.MTM_TEST_BUILD_DIR || path.join('build', 'asan'));
export const BIN_DIR = process.env.MTM_TEST_BIN_DIR || path.join(BUILD_DIR, 'bin');
/** Our servers behind lighttpd and the variable naming the unix socket each listens on. */
const SERVER_SOCKETS = { 'mtm-api': 'MTM_FCGI_SOCKET', 'mtm-events': 'MTM_EVENTS_SOCKET' };

export const C_TEST_DIR = path.join(BUILD_DIR, 'tests');

export const SANITIZER_PATTERNS = [/AddressSanitizer/, /LeakSanitizer/, /ThreadSanitizer/, /runtime error:/];

const RABBIT_BIN = '/usr/lib/rabbitmq/bin';

function pgBinDir() {
  if (process.env.MTM_TEST_PG_BIN) return process.env.MTM_TEST_PG_BIN;
  const base = '/usr/lib/postgresql';
  try {
    const versions = fs.readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => b - a);
    for (const v of versions) if (fs.existsSync(path.join(base, v, 'bin', 'postgres'))) return path.join(base, v, 'bin');
  } catch { /* fall through */ }
  return '/usr/lib/postgresql/15/bin';
}

function which(cmd, fallback) {
  for (const dir of (process.env.PATH || '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin'])) {
    const p = path.join(dir, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return fallback || cmd;
}

/** process.env without anything that could point a child at the wrong place. */
export function cleanBaseEnv(tag) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(MTM_|RABBITMQ_|ERL_|PG[A-Z]|NODE_TEST_CONTEXT|NODE_OPTIONS)/.test(k)) continue;
    env[k] = v;
  }
  env.MTM_HARNESS_TAG = tag;
  return env;
}

/** Sanitizer settings for our ASan/UBSan binaries (the caller's own win). */
export function sanitizerEnv() {
  const env = {
    ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1:abort_on_error=0:print_summary=1:detect_stack_use_after_return=1',
    UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || 'print_stacktrace=1',
  };
  if (process.env.LSAN_OPTIONS) env.LSAN_OPTIONS = process.env.LSAN_OPTIONS;
  else if (fs.existsSync(path.join(REPO, 'tests', 'lsan.supp'))) env.LSAN_OPTIONS = `suppressions=${path.join(REPO, 'tests', 'lsan.supp')}:print_suppressions=0`;
  return env;
}

/** Lines of `text` around the first sanitizer report, or null. */
export function sanitizerExcerpt(text, lines = 60) {
  const all = text.split('\n');
  const i = all.findIndex((l) => SANITIZER_PATTERNS.some((re) => re.test(l)));
  if (i < 0) return null;
  return all.slice(Math.max(0, i - 2), i + lines).join('\n');
}

function chownR(p, user) {
  if (!IS_ROOT) return;
  const { uid, gid } = userIds(user);
  const walk = (q) => {
    fs.chownSync(q, uid, gid);
    if (fs.statSync(q).isDirectory()) for (const e of fs.readdirSync(q)) walk(path.join(q, e));
  };
  walk(p);
}

/**
 * Makes a PostgreSQL cluster in `data` (a folder inside `pgDir`, both then
 * owned by user postgres) with initdb: superuser postgres with `password`,
 * trust on the unix socket, scram over TCP. Resolves initdb's output;
 * throws with it when initdb fails.
 */
export async function initPostgres({ pgDir, data, password, env }) {
  fs.mkdirSync(pgDir, { recursive: true });
  const pwFile = path.join(pgDir, 'superuser.pw');
  fs.writeFileSync(pwFile, password + '\n', { mode: 0o600 });
  chownR(pgDir, 'postgres');
  try {
    const init = await run(path.join(pgBinDir(), 'initdb'), [
      '-D', data, '-U', 'postgres', `--pwfile=${pwFile}`,
      '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-sync',
    ], { user: 'postgres', cwd: pgDir, env, timeoutMs: 60000 });
    const out = `${init.stdout}${init.stderr}`;
    if (init.code !== 0) throw new Error(`harness: initdb failed (status ${init.code}):\n${indent(out)}`);
    return out;
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
}

/**
 * Moves a copy of the warm pool's initdb'd data folder (warmpool.mjs) to
 * `data`: one the pool made ready (a rename, which only one process wins),
 * else a copy made now. Resolves what it came from, or null without a pool.
 */
function claimPooledPgData(data) {
  const pool = process.env.MTM_TEST_WARM_POOL;
  if (!pool || !fs.existsSync(path.join(pool, 'pg-template', 'ok'))) return null;
  let spares = [];
  try { spares = fs.readdirSync(path.join(pool, 'pg-ready')).filter((f) => !f.startsWith('.')); } catch { /* none */ }
  for (const f of spares) {
    try {
      fs.renameSync(path.join(pool, 'pg-ready', f), data);
      return path.join(pool, 'pg-ready', f);
    } catch { /* another test process took it */ }
  }
  const template = path.join(pool, 'pg-template', 'data');
  fs.cpSync(template, data, { recursive: true });
  fs.chmodSync(data, 0o700); // postgres refuses a data folder others can read
  return template;
}

/** MTM_MAX_BODY's default, and so the broker's max_message_size unless a test changes it. */
const DEFAULT_MAX_BODY = 1048576;

/**
 * Writes the files of RabbitMQ node `index` of `nodes` into `dir` (owned by
 * user rabbitmq), on free ports; resolves {dir, node, env, amqpPort,
 * distPort, url}: rabbitmq-server run with `env` boots it. `extraConf`:
 * more lines of rabbitmq.conf (a benchmark's broker settings). Nodes of one
 * cluster share `suffix`, `cookie` and `epmdPort`. The stack and the broker
 * pool (warmpool.mjs) both make their nodes here.
 */
export async function prepareRabbitNode({ dir, index = 0, nodes = 1, suffix, cookie = null, epmdPort, baseEnv, maxMessageSize = DEFAULT_MAX_BODY, extraConf = [] }) {
  for (const d of ['mnesia', 'log', 'home']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const amqpPort = await freePort();
  const distPort = await freePort({ extra: [10000, 10001, 10002, 10010] });
  const node = `mtm-test-${suffix}${nodes > 1 ? '-' + (index + 1) : ''}@localhost`;
  const first = `mtm-test-${suffix}-1@localhost`;
  fs.writeFileSync(path.join(dir, 'rabbitmq.conf'), [
    `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
    'loopback_users = none',
    'default_vhost = /',
    'default_user = mtm',
    'default_pass = mtm',
    'default_permissions.configure = .*',
    'default_permissions.read = .*',
    'default_permissions.write = .*',
    'default_user_tags.administrator = true',
    'log.console = true',
    'log.console.level = info',
    'log.file = false',
    'disk_free_limit.absolute = 10MB',
    `max_message_size = ${maxMessageSize}`,
    // Node 0 boots alone; the others list it and join it as they boot.
    ...(index > 0 ? [
      'cluster_formation.peer_discovery_backend = classic_config',
      `cluster_formation.classic_config.nodes.1 = ${first}`,
    ] : []),
    // a small Raft write-ahead log: quorum queues' entries wait in
    // memory until it rolls over (the default is 512 MB)
    ...(nodes > 1 ? ['raft.wal_max_size_bytes = 32000000'] : []),
    ...extraConf,
    '',
  ].join('\n'));
  fs.writeFileSync(path.join(dir, 'enabled_plugins'), '[].\n');
  fs.writeFileSync(path.join(dir, 'rabbitmq-env.conf'), '# empty: ignore /etc/rabbitmq/rabbitmq-env.conf\n');
  if (cookie) fs.writeFileSync(path.join(dir, 'home', '.erlang.cookie'), cookie, { mode: 0o400 });
  chownR(dir, 'rabbitmq');
  const env = {
    ...baseEnv,
    HOME: path.join(dir, 'home'),
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dir, 'log'),
    RABBITMQ_PID_FILE: path.join(dir, 'rabbit.pid'),
    RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq'),
    RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
    RABBITMQ_CONF_ENV_FILE: path.join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_LOGS: '-',
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: nodes > 1 ? RABBIT_CLUSTER_ERL_ARGS : RABBIT_ERL_ARGS,
  };
  return { dir, node, env, amqpPort, distPort, url: `amqp://mtm:mtm@127.0.0.1:${amqpPort}/` };
}

/** The Proc that runs, and restarts, a node made by prepareRabbitNode. */
export function rabbitNodeProc({ name = 'rabbitmq', env, dir, logFile }) {
  return new Proc({
    name, cmd: path.join(RABBIT_BIN, 'rabbitmq-server'), env, cwd: dir, user: 'rabbitmq', logFile, stopSignal: 'SIGTERM',
  });
}

/**
 * Claims a node the broker pool has booted (MTM_TEST_WARM_POOL): renames
 * its ready/<id>.json into claimed/, which only one process can do. While
 * the pool is still booting one, waits for it up to `waitMs`. Resolves the
 * node ({dir, node, env, amqpPort, distPort, url, epmdPort, pid, logFile})
 * or null.
 */
async function claimPooledBroker({ waitMs = 30000 } = {}) {
  const pool = process.env.MTM_TEST_WARM_POOL;
  if (!pool || !fs.existsSync(path.join(pool, 'ready'))) return null;
  const deadline = Date.now() + waitMs;
  for (;;) {
    for (const f of fs.readdirSync(path.join(pool, 'ready')).filter((x) => x.endsWith('.json'))) {
      const to = path.join(pool, 'claimed', f);
      try {
        fs.renameSync(path.join(pool, 'ready', f), to);
      } catch {
        continue; // another test process took it
      }
      const node = JSON.parse(fs.readFileSync(to, 'utf8'));
      if (pidAlive(node.pid)) return node;
    }
    let booting = [];
    try { booting = fs.readdirSync(path.join(pool, 'booting')); } catch { /* pool gone */ }
    if (!booting.length || Date.now() > deadline) return null;
    await sleep(100);
  }
}

class Stack {
  constructor(opts) {
    this.opts = opts;
    this.tag = `${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    const base = process.env.MTM_TEST_TMPDIR || os.tmpdir();
    this.dir = fs.mkdtempSync(path.join(base, 'mtm-test-'));
    fs.chmodSync(this.dir, 0o755);
    this.logDir = path.join(this.dir, 'logs');
    this.varDir = path.join(this.dir, 'var');
    for (const d of [this.logDir, this.varDir, path.join(this.varDir, 'log'), path.join(this.varDir, 'run'), path.join(this.varDir, 'metrics')]) {
      fs.mkdirSync(d, { recursive: true, mode: 0o755 });
    }
    this.baseEnv = cleanBaseEnv(this.tag);
    this.logPaths = {}; // logs kept elsewhere: a pooled broker's
    this.procs = {};
    this.stopped = false;
    this.problems = [];
    register(this);
    this.reaper = startReaper(this.tag, this.dir);
    if (process.env.MTM_TEST_VERBOSE) process.stderr.write(`harness: stack folder ${this.dir}\n`);
  }

  logFile(name) {
    return this.logPaths[name] || path.join(this.logDir, `${name}.log`);
  }

  /** Full text of a log: postgres, rabbitmq, consumerd, mtm-api, lighttpd, lighttpd-error, lighttpd-access. */
  logs(name) {
    const special = {
      'lighttpd-error': path.join(this.varDir, 'log', 'lighttpd-error.log'),
      'lighttpd-access': path.join(this.varDir, 'log', 'lighttpd-access.log'),
    };
    const file = special[name] || this.logFile(name);
    try { return fs.readFileSync(file, 'utf8'); } catch { return ''; }
  }

  /** Last lines of a log, for error messages. */
  logTail(name, n = 40) {
    const text = this.logs(name);
    const lines = text.split('\n');
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-n).join('\n');
  }

  describeLogs(names, n = 30) {
    return names.filter((x) => this.logs(x) !== '')
      .map((x) => `--- last lines of ${x} log:\n${indent(this.logTail(x, n))}`).join('\n');
  }

  proc(name) {
    return this.procs[name];
  }

  /** Env for our own binaries: clean base + MTM_* + sanitizer options. */
  binEnv(extra = {}) {
    return { ...this.baseEnv, ...sanitizerEnv(), ...this.env, ...extra };
  }

  // ------------------------------------------------------------ start-up

  async start() {
    const o = this.opts;
    this.binDir = o.binDir || BIN_DIR;
    const need = [];
    if (o.consumerd) need.push('consumerd');
    if (o.api) need.push('mtm-api');
    for (const b of need) {
      const p = path.join(this.binDir, b);
      if (!fs.existsSync(p)) throw new Error(`harness: ${p} does not exist; build first (make MODE=asan) or set MTM_TEST_BIN_DIR`);
    }
    if (o.lighttpd && !fs.existsSync(path.join(REPO, 'lighttpd.conf'))) {
      throw new Error(`harness: ${path.join(REPO, 'lighttpd.conf')} does not exist`);
    }

    this.httpPort = await freePort();
    this.env = {
      MTM_HOME: REPO,
      MTM_VAR_DIR: this.varDir,
      MTM_HTTP_PORT: String(this.httpPort),
      MTM_HTTP_BIND: '127.0.0.1',
      MTM_FCGI_SOCKET: path.join(this.varDir, 'run', 'mtm-api.sock'),
      MTM_EVENTS_SOCKET: path.join(this.varDir, 'run', 'mtm-events.sock'),
      MTM_JWT_SECRET: randomSecret(48),
      MTM_ADMIN_USER: 'admin',
      MTM_ADMIN_PASSWORD: randomSecret(18),
      MTM_METRICS_DIR: path.join(this.varDir, 'metrics'),
      MTM_SQL_DIR: path.join(REPO, 'sql'),
      MTM_LOG_LEVEL: 'info',
    };
    this.baseUrl = `http://127.0.0.1:${this.httpPort}`;

    const deps = [];
    if (o.postgres) deps.push(this.#setupPostgres());
    if (o.rabbitmq) deps.push(this.#setupRabbit());
    // both in parallel: RabbitMQ takes ~6 s, PostgreSQL ~1 s
    const results = await Promise.allSettled(deps);
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length) throw failed[0].reason;

    if (o.monitoring) {
      this.promPort = await freePort();
      this.amPort = await freePort();
      this.env.MTM_METRICS_TOKEN = randomSecret(40);
      this.env.MTM_ALERTS_TOKEN = randomSecret(40);
      this.env.MTM_PROMETHEUS_URL = `http://127.0.0.1:${this.promPort}`;
    }
    Object.assign(this.env, o.env || {});
    for (const [k, v] of Object.entries(this.env)) if (v === undefined || v === null) delete this.env[k];

    if (o.consumerd) {
      this.procs.consumerd = this.#binProc('consumerd', { env: { MTM_CONSUMER_NAME: 'consumerd' } });
      await this.startConsumerd();
    }
    if (o.api) {
      for (const name of Object.keys(SERVER_SOCKETS)) {
        this.procs[name] = this.#binProc(name);
        await this.startServer(name);
      }
    }
    if (o.lighttpd) {
      this.procs.lighttpd = new Proc({
        name: 'lighttpd',
        cmd: which('lighttpd', '/usr/sbin/lighttpd'),
        args: ['-D', '-f', path.join(REPO, 'lighttpd.conf')],
        env: this.binEnv(),
        cwd: this.dir,
        logFile: this.logFile('lighttpd'),
        watch: true,
      });
      await this.startLighttpd();
    }
    if (o.monitoring) await this.#startMonitoring();
  }

  /**
   * Prometheus and Alertmanager, as the stack runs them but fast: Prometheus
   * scrapes GET /api/metrics through lighttpd every second and evaluates
   * the shipped rules (deploy/prometheus/alerts.yml) every second with
   * their `for:` durations set to 0; Alertmanager groups for a second and
   * posts to mtm's webhook with MTM_ALERTS_TOKEN.
   */
  async #startMonitoring() {
    const pdir = path.join(this.dir, 'prometheus');
    const adir = path.join(this.dir, 'alertmanager');
    for (const d of [path.join(pdir, 'data'), path.join(adir, 'data')]) fs.mkdirSync(d, { recursive: true });
    const rules = fs.readFileSync(path.join(REPO, 'deploy', 'prometheus', 'alerts.yml'), 'utf8')
      .replace(/^(\s*)for: \S+$/gm, '$1for: 0s');
    fs.writeFileSync(path.join(pdir, 'alerts.yml'), rules);
    fs.writeFileSync(path.join(pdir, 'token'), this.env.MTM_METRICS_TOKEN, { mode: 0o600 });
    fs.writeFileSync(path.join(pdir, 'prometheus.yml'), [
      'global: {scrape_interval: 1s, evaluation_interval: 1s}',
      `rule_files: [${JSON.stringify(path.join(pdir, 'alerts.yml'))}]`,
      `alerting: {alertmanagers: [{static_configs: [{targets: ["127.0.0.1:${this.amPort}"]}]}]}`,
      'scrape_configs:',
      '  - job_name: mtm-api',
      '    metrics_path: /api/metrics',
      `    authorization: {credentials_file: ${JSON.stringify(path.join(pdir, 'token'))}}`,
      `    static_configs: [{targets: ["127.0.0.1:${this.httpPort}"]}]`,
      '',
    ].join('\n'));
    fs.writeFileSync(path.join(adir, 'token'), this.env.MTM_ALERTS_TOKEN, { mode: 0o600 });
    fs.writeFileSync(path.join(adir, 'alertmanager.yml'), [
      'route: {receiver: mtm, group_by: [alertname, tenant], group_wait: 1s, group_interval: 1s, repeat_interval: 1h}',
      'receivers:',
      '  - name: mtm',
      '    webhook_configs:',
      `      - url: http://127.0.0.1:${this.httpPort}/api/alerts/webhook`,
      '        send_resolved: true',
      `        http_config: {authorization: {credentials_file: ${JSON.stringify(path.join(adir, 'token'))}}}`,
      '',
    ].join('\n'));
    this.procs.alertmanager = new Proc({
      name: 'alertmanager',
      cmd: which('prometheus-alertmanager', '/usr/bin/prometheus-alertmanager'),
      args: [`--config.file=${path.join(adir, 'alertmanager.yml')}`, `--storage.path=${path.join(adir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.amPort}`, '--cluster.listen-address='],
      env: this.baseEnv, cwd: adir, logFile: this.logFile('alertmanager'),
    });
    this.procs.prometheus = new Proc({
      name: 'prometheus',
      cmd: which('prometheus', '/usr/bin/prometheus'),
      args: [`--config.file=${path.join(pdir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(pdir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.promPort}`],
      env: this.baseEnv, cwd: pdir, logFile: this.logFile('prometheus'),
    });
    this.procs.alertmanager.start();
    this.procs.prometheus.start();
    for (const [name, port] of [['alertmanager', this.amPort], ['prometheus', this.promPort]]) {
      await waitFor(`${name} to listen on ${port}`, () => canConnect(port), {
        timeoutMs: 30000,
        check: () => this.procs[name].assertRunning('to start'),
        describe: () => this.describeLogs([name]),
      });
    }
  }

  #binProc(name, { bin = name, env = {} } = {}) {
    return new Proc({
      name,
      cmd: path.join(this.binDir, bin),
      env: { ...this.binEnv(), ...env },
      cwd: this.dir,
      logFile: this.logFile(name),
      ours: true,
    });
  }

  // ------------------------------------------------------------ PostgreSQL

  async #setupPostgres() {
    const bin = pgBinDir();
    this.pgBin = bin;
    const pgDir = path.join(this.dir, 'pg');
    this.pgData = path.join(pgDir, 'data');
    this.pgSock = path.join(pgDir, 'sock');
    fs.mkdirSync(this.pgSock, { recursive: true });
    this.pgSuperPassword = randomSecret(18);
    this.pgPort = await freePort();
    // a copy of the warm pool's initdb: its superuser password is set below
    const template = claimPooledPgData(this.pgData);
    if (template) {
      chownR(pgDir, 'postgres');
      fs.writeFileSync(this.logFile('postgres'), `=== a copy of ${template}\n`);
    } else {
      const out = await initPostgres({ pgDir, data: this.pgData, password: this.pgSuperPassword, env: this.baseEnv });
      fs.writeFileSync(this.logFile('postgres'), `=== initdb\n${out}`);
    }

    this.procs.postgres = new Proc({
      name: 'postgres',
      cmd: path.join(bin, 'postgres'),
      args: ['-D', this.pgData, '-p', String(this.pgPort), '-k', this.pgSock,
        '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off',
        '-c', 'max_connections=300', '-c', 'log_line_prefix=%m [%p] %q%u@%d ',
        '-c', 'unix_socket_permissions=0777'],
      env: this.baseEnv,
      cwd: pgDir,
      user: 'postgres',
      logFile: this.logFile('postgres'),
      stopSignal: 'SIGINT', // fast shutdown
      emergencySignal: 'SIGQUIT', // immediate shutdown
    });
    await this.startPostgres();

    const attrs = this.opts.pgRoleAttrs || 'LOGIN';
    await this.psql(`${template ? `ALTER ROLE postgres PASSWORD '${this.pgSuperPassword}'; ` : ''}CREATE ROLE mtm ${attrs} PASSWORD 'mtm'; CREATE DATABASE mtm OWNER mtm;`, { db: 'postgres' });
    this.pgUrl = `postgresql://mtm:mtm@127.0.0.1:${this.pgPort}/mtm`;
    this.env.MTM_PG_URL = this.pgUrl;
  }

  /** (Re)starts the PostgreSQL server on the same data folder and port; resolves when it answers. */
  async startPostgres({ timeoutMs = 30000 } = {}) {
    const p = this.procs.postgres;
    p.start();
    await waitFor('PostgreSQL to accept connections', async () => {
      const r = await run(path.join(this.pgBin, 'pg_isready'), ['-q', '-h', this.pgSock, '-p', String(this.pgPort), '-U', 'postgres', '-d', 'postgres'], { env: this.baseEnv, timeoutMs: 5000 });
      return r.code === 0;
    }, {
      timeoutMs,
      intervalMs: 100,
      check: () => p.assertRunning('to start'),
      describe: () => this.describeLogs(['postgres']),
    });
  }

  /** Fast shutdown (SIGINT to the postmaster); resolves when it has exited. */
  async stopPostgres({ mode = 'fast', timeoutMs = 20000 } = {}) {
    const sig = { smart: 'SIGTERM', fast: 'SIGINT', immediate: 'SIGQUIT' }[mode] || 'SIGINT';
    const run_ = await this.procs.postgres.stop({ signal: sig, timeoutMs, group: false });
    return run_;
  }

  /**
   * Sends `signal` to the postmaster and every process it forked (backends
   * call setsid(), so they are not in its process group): SIGSTOP then
   * SIGCONT stands in for a cut of the network to the database. Resolves
   * the pids signalled.
   */
  signalPostgres(signal) {
    const p = this.procs.postgres;
    if (!p || !p.running) throw new Error('harness: postgres is not running');
    const pids = [p.pid];
    for (const e of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      let stat;
      try { stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8'); } catch { continue; }
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === p.pid) pids.push(Number(e));
    }
    for (const pid of pids) { try { process.kill(pid, signal); } catch { /* gone */ } }
    return pids;
  }

  /**
   * Runs SQL through the psql client against the throwaway cluster (as the
   * superuser over the unix socket unless {user}), database mtm unless {db}.
   * Resolves with the output (unaligned, tuples only, fields separated by |),
   * rejects with psql's error text.
   */
  async psql(sql, { db = 'mtm', user = 'postgres', timeoutMs = 30000 } = {}) {
    const r = await run(path.join(this.pgBin, 'psql'), [
      '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', this.pgSock, '-p', String(this.pgPort), '-U', user, '-d', db, '-f', '-',
    ], { env: this.baseEnv, input: sql, timeoutMs });
    if (r.code !== 0) {
      const err = new Error(`psql failed (status ${r.code}${r.timedOut ? ', timed out' : ''}): ${r.stderr.trim()}\n  SQL: ${sql.slice(0, 500)}`);
      err.stderr = r.stderr;
      throw err;
    }
    return r.stdout.replace(/\n+$/, '');
  }

  // ------------------------------------------------------------ RabbitMQ

  /**
   * One RabbitMQ node, or with opts.rabbitNodes = n > 1 a cluster of n nodes
   * on this machine (each its own Erlang node name, ports and data folder,
   * one epmd and one Erlang cookie for all). MTM_AMQP_URL names every node,
   * the first one first; stack.amqpUrl is the first node's URL alone (for
   * amqplib), stack.rabbits lists the nodes ({index, proc, node, amqpPort,
   * url, dir, env}). Node 0's process is 'rabbitmq' (its log too), the
   * others 'rabbitmq-2', 'rabbitmq-3', ...
   */
  async #setupRabbit() {
    if (await this.#adoptPooledRabbit()) {
      this.#exposeRabbit();
      return;
    }
    const n = this.opts.rabbitNodes || 1;
    this.epmdPort = await freePort();
    const cookie = n > 1 ? crypto.randomBytes(20).toString('hex').toUpperCase() : null;
    const suffix = crypto.randomBytes(3).toString('hex');
    this.rabbits = [];
    for (let i = 0; i < n; i++) this.rabbits.push(await this.#rabbitNodeSetup(i, n, suffix, cookie));
    this.#exposeRabbit();
    // The first node alone, then the others, which find it running and
    // join it as they boot (peer discovery, classic_config): no
    // stop_app/join_cluster/start_app round of CLI calls.
    await this.startRabbit({ node: 0 });
    await Promise.all(this.rabbits.slice(1).map((r) => this.startRabbit({ node: r.index })));
    if (n > 1) await this.waitRabbitCluster(n);
  }

  /** What tests read of the broker: the first node's, and every node's URL. */
  #exposeRabbit() {
    const first = this.rabbits[0];
    Object.assign(this, {
      rabbitDir: first.dir, rabbitNode: first.node, rabbitEnv: first.env,
      amqpPort: first.amqpPort, rabbitDistPort: first.distPort, amqpUrl: first.url,
    });
    this.amqpUrls = this.rabbits.map((r) => r.url);
    this.env.MTM_AMQP_URL = this.amqpUrls.join(',');
  }

  async #rabbitNodeSetup(i, n, suffix, cookie) {
    const name = i === 0 ? 'rabbitmq' : `rabbitmq-${i + 1}`;
    const node = await prepareRabbitNode({
      dir: path.join(this.dir, i === 0 ? 'rabbit' : `rabbit-${i + 1}`),
      index: i, nodes: n, suffix, cookie, epmdPort: this.epmdPort, baseEnv: this.baseEnv,
      maxMessageSize: this.#brokerMaxMessageSize(), extraConf: this.opts.rabbitConf || [],
    });
    this.procs[name] = rabbitNodeProc({ name, env: node.env, dir: node.dir, logFile: this.logFile(name) });
    return { ...node, index: i, name, proc: this.procs[name] };
  }

  /** As deploy/stack.sh does: the broker refuses bodies mtm would refuse. A test of consumerd's own limit raises it (opts.brokerMaxMessageSize). */
  #brokerMaxMessageSize() {
    return this.opts.brokerMaxMessageSize || Number(this.opts.env?.MTM_MAX_BODY || DEFAULT_MAX_BODY);
  }

  /**
   * Takes a node the broker pool (tests/harness/warmpool.mjs, started by
   * tests/run.sh) has already booted, when this stack wants what the pool's
   * nodes are: one node with the default settings. Resolves false when
   * there is no pool or it has nothing ready soon.
   */
  async #adoptPooledRabbit() {
    if ((this.opts.rabbitNodes || 1) !== 1 || this.#brokerMaxMessageSize() !== DEFAULT_MAX_BODY || this.opts.rabbitConf?.length) return false;
    const claimed = await claimPooledBroker();
    if (!claimed) return false;
    const env = { ...claimed.env, MTM_HARNESS_TAG: this.tag }; // a restart is this stack's
    const proc = rabbitNodeProc({ env, dir: claimed.dir, logFile: claimed.logFile }).adopt(claimed.pid);
    this.procs.rabbitmq = proc;
    this.logPaths.rabbitmq = claimed.logFile;
    this.pooledRabbitDir = claimed.dir;
    this.epmdPort = claimed.epmdPort;
    this.rabbits = [{ ...claimed, env, index: 0, name: 'rabbitmq', proc }];
    return true;
  }

  #rabbit(node = 0) {
    const r = this.rabbits && this.rabbits[node];
    if (!r) throw new Error(`harness: no RabbitMQ node ${node} (this stack has ${this.rabbits ? this.rabbits.length : 0})`);
    return r;
  }

  /** (Re)starts a RabbitMQ node (same name, data and ports; node 0 unless {node}); resolves when user mtm can log in. */
  async startRabbit({ timeoutMs = 60000, node = 0 } = {}) {
    const r = this.#rabbit(node);
    r.proc.start();
    await waitFor(`RabbitMQ node ${r.node} to accept AMQP logins`, () => amqpProbe(r.url, { timeoutMs: 2000 }), {
      timeoutMs,
      intervalMs: 250,
      check: () => r.proc.assertRunning('to start'),
      describe: () => this.describeLogs([r.name]),
    });
  }

  /** Graceful stop of a node (node 0 unless {node}); resolves when the Erlang VM has exited. */
  async stopRabbit({ timeoutMs = 30000, node = 0 } = {}) {
    return this.#rabbit(node).proc.stop({ signal: 'SIGTERM', timeoutMs });
  }

  /** Sends `signal` (SIGKILL: a crash) to a node and waits for it to exit; resolves the run record. */
  async killRabbit(signal = 'SIGKILL', { node = 0, timeoutMs = 30000 } = {}) {
    return this.#rabbit(node).proc.stop({ signal, timeoutMs });
  }

  /**
   * Runs rabbitmqctl; resolves {code, stdout, stderr}. Against node 0, or
   * {node: i} when the first argument is such an object; in a cluster
   * whose node 0 is down, against the first node that runs.
   */
  rabbitmqctl(...args) {
    let node;
    if (args.length && typeof args[0] === 'object') node = args.shift().node;
    if (node === undefined) node = Math.max(0, this.rabbits.findIndex((x) => x.proc.running));
    const r = this.#rabbit(node);
    return run(path.join(RABBIT_BIN, 'rabbitmqctl'), ['-n', r.node, ...args], {
      env: r.env, user: 'rabbitmq', cwd: r.dir, timeoutMs: 60000,
    });
  }

  /** The Erlang node names a node sees running in its cluster (rabbitmqctl cluster_status). */
  async rabbitRunningNodes({ node } = {}) {
    const r = await this.rabbitmqctl(...(node === undefined ? [] : [{ node }]), 'cluster_status', '--formatter', 'json');
    if (r.code !== 0) throw new Error(`rabbitmqctl cluster_status failed (status ${r.code}): ${r.stderr.trim()}`);
    return JSON.parse(r.stdout).running_nodes || [];
  }

  /** Waits until the running nodes of the cluster are exactly the `n` nodes started by this stack. */
  async waitRabbitCluster(n = this.rabbits.length, { timeoutMs = 60000 } = {}) {
    const want = this.rabbits.slice(0, n).map((r) => r.node).sort();
    let last = [];
    await waitFor(`a RabbitMQ cluster of ${n} nodes`, async () => {
      last = (await this.rabbitRunningNodes()).sort();
      return JSON.stringify(last) === JSON.stringify(want);
    }, {
      timeoutMs, intervalMs: 500,
      describe: () => `  running nodes: ${JSON.stringify(last)}, wanted ${JSON.stringify(want)}\n${this.describeLogs(this.rabbits.map((r) => r.name), 15)}`,
    });
  }

  /** The broker's queues as a Map name -> messages (rabbitmqctl list_queues name messages). */
  async listQueues() {
    const r = await this.rabbitmqctl('list_queues', '-q', '--no-table-headers', 'name', 'messages');
    if (r.code !== 0) throw new Error(`rabbitmqctl list_queues failed (status ${r.code}): ${r.stderr.trim()}`);
    const out = new Map();
    for (const line of r.stdout.split('\n')) {
      if (!line.trim() || /^(name\s|Timeout:|Listing queues)/.test(line)) continue;
      const [name, messages] = line.split('\t');
      out.set(name, Number(messages));
    }
    return out;
  }

  /** Number of threads of one of our processes (consumerd by default), from /proc/<pid>/task. */
  threadCount(name = 'consumerd') {
    const p = this.procs[name];
    if (!p || !p.running) throw new Error(`harness: ${name} is not running`);
    const n = fs.readdirSync(`/proc/${p.pid}/task`).length;
    // Under ThreadSanitizer (make tsan-check) the runtime starts one thread
    // of its own beside the first thread the program creates: not ours.
    return process.env.MTM_TEST_TSAN && n > 1 ? n - 1 : n;
  }

  /**
   * The TCP sockets one of our processes has open, as [{localPort,
   * remotePort}], found by matching its /proc/<pid>/fd socket inodes with
   * /proc/net/tcp{,6}. localPort is the client_port of its backends in
   * pg_stat_activity; remotePort tells PostgreSQL (pgPort) from RabbitMQ (amqpPort).
   */
  tcpSockets(name = 'consumerd') {
    const p = this.procs[name];
    if (!p || !p.running) throw new Error(`harness: ${name} is not running`);
    const inodes = new Set();
    for (const fd of fs.readdirSync(`/proc/${p.pid}/fd`)) {
      let link;
      try { link = fs.readlinkSync(`/proc/${p.pid}/fd/${fd}`); } catch { continue; }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m) inodes.add(m[1]);
    }
    const out = [];
    for (const table of ['tcp', 'tcp6']) {
      let text;
      try { text = fs.readFileSync(`/proc/${p.pid}/net/${table}`, 'utf8'); } catch { continue; }
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 10 || f[9] === '0' || !inodes.has(f[9])) continue;
        out.push({ localPort: parseInt(f[1].split(':')[1], 16), remotePort: parseInt(f[2].split(':')[1], 16) });
      }
    }
    return out;
  }

  // ------------------------------------------------------------ our binaries

  /** Starts (again) consumerd (or another one, `name`); resolves once it has survived its first second. */
  async startConsumerd({ name = 'consumerd' } = {}) {
    const p = this.procs[name];
    if (!p) throw new Error(`harness: this stack was started without ${name}`);
    p.start();
    await sleep(300);
    p.assertRunning('to keep running after start');
  }

  /**
   * consumerd `name`'s metrics textfile: every consumerd of the stack
   * writes into the one metrics folder, each under its own name
   * (MTM_CONSUMER_NAME = its process name; consumerd/metrics.h).
   */
  consumerdMetricsFile(name = 'consumerd') {
    return path.join(this.env.MTM_METRICS_DIR, `mtm-consumerd-${name}.prom`);
  }

  /** Sends `signal` to consumerd (or another one, `name`) and waits for it to exit; resolves the run record {code, signal}. */
  async killConsumerd(signal = 'SIGKILL', { timeoutMs = 15000, name = 'consumerd' } = {}) {
    return this.procs[name].stop({ signal, timeoutMs });
  }

  /**
   * Starts one more consumerd beside the first (several share the tenants
   * by lease: sql/0019_consumer_leases.sql), writing its metrics beside
   * the others' under its own name (consumerdMetricsFile); resolves its process name ('consumerd-2', 'consumerd-3', ...). It is
   * stopped with the stack like the first. env: settings of its own (a
   * different MTM_PG_URL, say).
   */
  async addConsumerd({ env = {} } = {}) {
    let n = 2;
    while (this.procs[`consumerd-${n}`]) n++;
    const name = `consumerd-${n}`;
    this.procs[name] = this.#binProc(name, { bin: 'consumerd', env: { MTM_CONSUMER_NAME: name, ...env } });
    this.procs[name].start();
    await sleep(300);
    this.procs[name].assertRunning('to keep running after start');
    return name;
  }

  /**
   * Starts (again) one of our FastCGI/socket servers, 'mtm-api' or
   * 'mtm-events' (the event stream behind GET /api/events); resolves once it
   * accepts connections on its unix socket.
   */
  async startServer(name, { timeoutMs = 15000 } = {}) {
    const sock = SERVER_SOCKETS[name];
    if (!sock) throw new Error(`harness: startServer: unknown server ${name} (one of ${Object.keys(SERVER_SOCKETS).join(', ')})`);
    const p = this.procs[name];
    if (!p) throw new Error(`harness: this stack was started without ${name}`);
    p.start();
    await waitFor(`${name} to listen on ${this.env[sock]}`, () => canConnectUnix(this.env[sock]), {
      timeoutMs,
      check: () => p.assertRunning('to start'),
      describe: () => this.describeLogs([name]),
    });
  }

  /** Sends `signal` to 'mtm-api' or 'mtm-events' and waits for it to exit; resolves the run record. */
  async stopServer(name, signal = 'SIGTERM', { timeoutMs = 10000 } = {}) {
    if (!SERVER_SOCKETS[name]) throw new Error(`harness: stopServer: unknown server ${name}`);
    return this.procs[name].stop({ signal, timeoutMs });
  }

  async startLighttpd({ timeoutMs = 15000 } = {}) {
    const p = this.procs.lighttpd;
    p.start();
    await waitFor(`lighttpd to listen on port ${this.httpPort}`, () => canConnect(this.httpPort), {
      timeoutMs,
      check: () => p.assertRunning('to start'),
      describe: () => this.describeLogs(['lighttpd', 'lighttpd-error']),
    });
    if (this.procs['mtm-api']) {
      let last = '';
      await waitFor('GET /api/health to answer 200', async () => {
        const res = await fetch(this.baseUrl + '/api/health', { signal: AbortSignal.timeout(3000) });
        last = `${res.status} ${await res.text()}`;
        return res.status === 200;
      }, {
        timeoutMs,
        check: () => { p.assertRunning('to keep running'); this.procs['mtm-api'].assertRunning('to keep running'); },
        describe: () => `  last answer: ${last}\n${this.describeLogs(['mtm-api', 'lighttpd', 'lighttpd-error'])}`,
      });
    }
  }

  /** Polls GET /api/ready until 200. */
  async waitReady({ timeoutMs = 20000 } = {}) {
    let last = '';
    await waitFor('GET /api/ready to answer 200', async () => {
      const res = await fetch(this.baseUrl + '/api/ready', { signal: AbortSignal.timeout(3000) });
      last = `${res.status} ${await res.text()}`;
      return res.status === 200;
    }, {
      timeoutMs,
      intervalMs: 250,
      describe: () => `  last answer: ${last}\n${this.describeLogs(['consumerd', 'mtm-api'])}`,
    });
  }

  /** Logs in as the admin; resolves the access token. */
  async adminToken() {
    const res = await fetch(this.baseUrl + '/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: this.env.MTM_ADMIN_USER, password: this.env.MTM_ADMIN_PASSWORD }),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${text}`);
    return JSON.parse(text).access_token;
  }

  // ------------------------------------------------------------ teardown

  /** Sanitizer reports found so far in our binaries' logs: [{name, excerpt}]. */
  sanitizerReports() {
    const out = [];
    for (const p of Object.values(this.procs)) {
      if (!p.ours) continue;
      const ex = sanitizerExcerpt(this.logs(p.name));
      if (ex) out.push({ name: p.name, excerpt: ex });
    }
    return out;
  }

  /**
   * Stops everything and removes the folder. Throws (so the test file fails)
   * if one of our binaries printed a sanitizer report, died unexpectedly, did
   * not exit 0 on SIGTERM, or needed SIGKILL. {check:false} skips that.
   */
  async stop({ check = true } = {}) {
    if (this.stopped) return;
    this.stopped = true;
    const problems = [];
    const extra = Object.keys(this.procs).filter((n) => /^consumerd-\d+$/.test(n));
    for (const name of ['alertmanager', 'prometheus', 'lighttpd', 'mtm-api', 'mtm-events', 'consumerd', ...extra]) {
      const p = this.procs[name];
      if (!p) continue;
      const wasRunning = p.running;
      const r = await p.stop({ signal: 'SIGTERM', timeoutMs: 10000 });
      if (!p.ours && !p.watch) continue;
      for (const run_ of p.runs) {
        if (!run_.expected && run_.exited) {
          problems.push(`${name} (pid ${run_.pid}) exited by itself with ${run_.signal ? 'signal ' + run_.signal : 'status ' + run_.code} while the test ran`);
        }
      }
      if (wasRunning && r && p.ours) {
        if (r.timedOut) problems.push(`${name} (pid ${r.pid}) did not exit within 10 s of SIGTERM (killed)`);
        else if (r.code !== 0) problems.push(`${name} (pid ${r.pid}) exited with ${r.signal ? 'signal ' + r.signal : 'status ' + r.code} on SIGTERM (contract: 0)`);
      }
    }
    // The broker's data goes with the folder: no graceful stop to wait for.
    await Promise.all((this.rabbits || []).map((r) => r.proc.stop({ signal: 'SIGKILL', timeoutMs: 30000 })));
    if (this.procs.postgres) await this.procs.postgres.stop({ signal: 'SIGINT', timeoutMs: 20000, group: false });
    // epmd (daemonised by erl) and anything else carrying our tag
    killTaggedSync(this.tag, 3000);
    this.#releasePooledRabbit();

    for (const { name, excerpt } of this.sanitizerReports()) {
      problems.push(`${name} printed a sanitizer report:\n${indent(excerpt)}`);
    }
    for (const p of Object.values(this.procs)) {
      if (p.ours && p.runs.some((r) => !r.expected && r.exited)) {
        problems.push(`--- last lines of ${p.name} log:\n${indent(this.logTail(p.name, 30))}`);
      }
    }
    this.problems = problems;
    unregister(this);
    const keep = !!process.env.MTM_TEST_KEEP || problems.length > 0;
    if (!keep) {
      try { fs.rmSync(this.dir, { recursive: true, force: true }); } catch { /* reaper retries */ }
    }
    this.reaper.finish(keep);
    if (keep) process.stderr.write(`harness: kept ${this.dir}\n`);
    if (check && problems.length) {
      throw new Error(`stack teardown found problems:\n${problems.join('\n')}`);
    }
  }

  /** A pooled broker's log joins this stack's logs; its folder goes. */
  #releasePooledRabbit() {
    if (!this.pooledRabbitDir) return;
    try { fs.copyFileSync(this.logPaths.rabbitmq, path.join(this.logDir, 'rabbitmq.log')); } catch { /* no log */ }
    delete this.logPaths.rabbitmq;
    try { fs.rmSync(this.pooledRabbitDir, { recursive: true, force: true }); } catch { /* the pool removes it at its end */ }
    this.pooledRabbitDir = null;
  }

  /** Synchronous last-resort cleanup (exit / signal handlers). */
  emergencyStopSync() {
    if (this.stopped) return;
    this.stopped = true;
    for (const p of Object.values(this.procs)) p.emergencyStopSync();
    killTaggedSync(this.tag, 3000);
    this.#releasePooledRabbit();
    const keep = !!process.env.MTM_TEST_KEEP;
    if (!keep) {
      try { fs.rmSync(this.dir, { recursive: true, force: true }); } catch { /* reaper retries */ }
    }
    this.reaper.finish(keep);
  }

  /** Pids still alive that carry this stack's tag (for the harness self-test). */
  leftoverPids() {
    return taggedPids(this.tag);
  }
}

/**
 * Starts a throwaway stack. Options (all default true except noted):
 *   postgres, rabbitmq, consumerd, api, lighttpd: which parts to run
 *   env: extra/overriding MTM_* variables for our binaries (e.g. {MTM_MAX_BODY: '1024'})
 *   pgRoleAttrs: attributes of role mtm (default 'LOGIN')
 *   binDir: where consumerd/mtm-api are (default MTM_TEST_BIN_DIR or build/asan/bin)
 *   rabbitConf: more lines for the broker's rabbitmq.conf
 *   rabbitNodes (default 1): with n > 1, a RabbitMQ cluster of n nodes
 *     (#setupRabbit); MTM_AMQP_URL lists them all
 *   monitoring (default false): Prometheus and Alertmanager too (#startMonitoring),
 *     with MTM_METRICS_TOKEN, MTM_ALERTS_TOKEN and MTM_PROMETHEUS_URL set
 * If start-up fails, everything started so far is stopped and the error
 * (with the tail of the failing process's log) is thrown.
 */
export async function startStack(options = {}) {
  const o = { postgres: true, rabbitmq: true, consumerd: true, api: true, lighttpd: true, env: {}, ...options };
  if (o.consumerd || o.api) {
    if (!o.postgres || !o.rabbitmq) {
      // our binaries need both; allow explicit opt-out only when the caller knows better
      if (!o.allowMissingDeps) throw new Error('harness: consumerd/mtm-api need postgres and rabbitmq (pass allowMissingDeps: true to override)');
    }
  }
  const stack = new Stack(o);
  try {
    await stack.start();
  } catch (e) {
    try { await stack.stop({ check: false }); } catch { /* already failing */ }
    throw e;
  }
  return stack;
}
