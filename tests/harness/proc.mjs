// Child processes of the harness, and the guarantee that none outlives it.
//
// Every process the harness starts:
//   - runs in its own session / process group (spawn `detached`), so that a
//     signal to the group reaches its helpers (postgres backends, erl_child_setup…);
//   - carries MTM_HARNESS_TAG=<unique tag> in its environment, so that
//     processes which leave the group (epmd daemonises itself) are still
//     found by scanning /proc/*/environ;
//   - is killed on process exit, SIGINT, SIGTERM, SIGHUP (handlers installed
//     here), and, if the test process dies without running them (SIGKILL), by
//     a small detached reaper that notices its stdin pipe closing.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, tail, indent } from './util.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** True if pid exists and is not a zombie. */
export function pidAlive(pid) {
  let stat;
  try { stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return false; }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** Pids (other than our own) whose environment carries MTM_HARNESS_TAG=tag. */
export function taggedPids(tag) {
  const needle = Buffer.from(`\0MTM_HARNESS_TAG=${tag}\0`);
  const first = Buffer.from(`MTM_HARNESS_TAG=${tag}\0`);
  const out = [];
  let entries = [];
  try { entries = fs.readdirSync('/proc'); } catch { return out; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    let env;
    try { env = fs.readFileSync(`/proc/${pid}/environ`); } catch { continue; }
    if ((env.indexOf(needle) >= 0 || env.subarray(0, first.length).equals(first)) && pidAlive(pid)) out.push(pid);
  }
  return out;
}

function procComm(pid) {
  try { return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return ''; }
}

function kill(pid, sig) {
  try { process.kill(pid, sig); return true; } catch { return false; }
}

/**
 * Synchronously ends every process carrying `tag`: a polite signal first
 * (SIGQUIT for postgres = immediate shutdown, which also frees its shared
 * memory; SIGTERM for the rest), then SIGKILL after `graceMs`.
 */
export function killTaggedSync(tag, graceMs = 3000) {
  let pids = taggedPids(tag);
  if (!pids.length) return [];
  const all = [...pids];
  for (const pid of pids) kill(pid, procComm(pid) === 'postgres' ? 'SIGQUIT' : 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    pids = pids.filter(pidAlive);
    if (!pids.length) break;
    sleepSync(50);
  }
  for (const pid of taggedPids(tag)) kill(pid, 'SIGKILL');
  return all;
}

// ---------------------------------------------------------------- registry

const live = new Set(); // objects with emergencyStopSync()
let handlersInstalled = false;

function cleanupAllSync() {
  for (const r of [...live]) {
    try { r.emergencyStopSync(); } catch (e) { process.stderr.write(`harness cleanup: ${e.message}\n`); }
    live.delete(r);
  }
}

function installHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupAllSync);
  const onSignal = (sig, code) => () => {
    if (live.size) process.stderr.write(`\nharness: caught ${sig}, stopping throwaway services…\n`);
    cleanupAllSync();
    process.exit(code);
  };
  process.on('SIGINT', onSignal('SIGINT', 130));
  process.on('SIGTERM', onSignal('SIGTERM', 143));
  process.on('SIGHUP', onSignal('SIGHUP', 129));
}

export function register(resource) {
  installHandlers();
  live.add(resource);
}

export function unregister(resource) {
  live.delete(resource);
}

/**
 * Starts the detached reaper for `tag`/`dir`. Returns {finish(keepDir)}:
 * call it after a normal shutdown; it closes the pipe, and the reaper then
 * kills stragglers and removes `dir` unless keepDir.
 */
export function startReaper(tag, dir) {
  const env = { ...process.env };
  delete env.MTM_HARNESS_TAG;
  const child = spawn(process.execPath, [path.join(HERE, 'reaper.mjs'), tag, dir], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
    env,
  });
  child.unref();
  child.stdin.on('error', () => {});
  if (child.stdin.unref) child.stdin.unref();
  else if (child.stdin._handle && child.stdin._handle.unref) child.stdin._handle.unref();
  return {
    finish(keepDir) {
      try { child.stdin.end(keepDir ? 'keep\n' : 'remove\n'); } catch { /* gone */ }
    },
    keep() {
      try { child.stdin.write('keep\n'); } catch { /* gone */ }
    },
  };
}

// ---------------------------------------------------------------- Proc

/** Looks up uid/gid of a system user (for running postgres/rabbitmq as root). */
export function userIds(name) {
  const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
  return { uid, gid };
}

export const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * One long-running child. Output (stdout+stderr) is appended to `logFile`;
 * each (re)start writes a header line. `ours` marks our own binaries, whose
 * logs are scanned for sanitizer reports and whose exit codes are checked.
 */
export class Proc {
  constructor({ name, cmd, args = [], env, cwd, user, logFile, ours = false, watch = false, stopSignal = 'SIGTERM', emergencySignal }) {
    Object.assign(this, { name, cmd, args, env, cwd, user, logFile, ours, watch, stopSignal });
    this.emergencySignal = emergencySignal || stopSignal;
    this.child = null;
    this.pid = null;
    this.runs = []; // {pid, started, exited, code, signal, expected}
  }

  get running() {
    return !!(this.current && !this.current.exited);
  }

  get current() {
    return this.runs[this.runs.length - 1];
  }

  start() {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    const fd = fs.openSync(this.logFile, 'a');
    fs.writeSync(fd, `\n=== harness: start ${this.name} at ${new Date().toISOString()}: ${this.cmd} ${this.args.join(' ')}\n`);
    const opts = { cwd: this.cwd, env: this.env, detached: true, stdio: ['ignore', fd, fd] };
    if (this.user && IS_ROOT) Object.assign(opts, userIds(this.user));
    let child;
    try {
      child = spawn(this.cmd, this.args, opts);
    } finally {
      fs.closeSync(fd);
    }
    const run = { pid: child.pid, started: Date.now(), exited: false, code: null, signal: null, expected: false };
    let resolveExit;
    run.exitPromise = new Promise((r) => { resolveExit = r; });
    child.on('error', (err) => {
      run.error = err;
      if (!run.exited) { run.exited = true; run.code = -1; resolveExit(run); }
    });
    child.on('exit', (code, signal) => {
      run.exited = true;
      run.code = code;
      run.signal = signal;
      run.ended = Date.now();
      try { fs.appendFileSync(this.logFile, `=== harness: ${this.name} (pid ${run.pid}) exited with ${signal ? 'signal ' + signal : 'status ' + code}${run.expected ? '' : ' (unexpected)'}\n`); } catch { /* dir gone */ }
      resolveExit(run);
    });
    child.unref();
    this.child = child;
    this.pid = child.pid;
    this.runs.push(run);
    return this;
  }

  /**
   * Takes over a process another process started (a broker from
   * warmpool.mjs) as this Proc's current run: signals, stop() and
   * waitExit() work on it; it is seen to end by polling, and its exit
   * status is not known (the signal stop() sent is recorded as the cause).
   * start() after it ends starts this Proc's own command as usual.
   */
  adopt(pid) {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    const run = { pid, started: Date.now(), exited: false, code: null, signal: null, expected: false, adopted: true };
    let resolveExit;
    run.exitPromise = new Promise((r) => { resolveExit = r; });
    const timer = setInterval(() => {
      if (pidAlive(pid)) return;
      clearInterval(timer);
      run.exited = true;
      run.signal = run.stopSignal || null;
      run.ended = Date.now();
      try { fs.appendFileSync(this.logFile, `=== harness: ${this.name} (pid ${pid}, adopted) ended${run.expected ? '' : ' (unexpected)'}\n`); } catch { /* dir gone */ }
      resolveExit(run);
    }, 50);
    timer.unref();
    this.child = null;
    this.pid = pid;
    this.runs.push(run);
    return this;
  }

  /** Throws (with the log tail) if the process is not running. */
  assertRunning(what = 'is running') {
    const run = this.current;
    if (run && !run.exited) return;
    const how = !run ? 'was never started'
      : run.error ? `could not be started: ${run.error.message}`
        : `exited with ${run.signal ? 'signal ' + run.signal : 'status ' + run.code}`;
    throw new Error(`${this.name} ${how} (expected it ${what})\n--- last lines of ${this.logFile}:\n${indent(tail(this.logFile, 40))}`);
  }

  signalGroup(sig) {
    if (!this.running) return false;
    return kill(-this.pid, sig) || kill(this.pid, sig);
  }

  signalPid(sig) {
    if (!this.running) return false;
    return kill(this.pid, sig);
  }

  /** Waits for the current run to exit; true if it did within timeoutMs. */
  async waitExit(timeoutMs) {
    const run = this.current;
    if (!run || run.exited) return true;
    let timer;
    const t = new Promise((r) => { timer = setTimeout(() => r(false), timeoutMs); });
    const res = await Promise.race([run.exitPromise.then(() => true), t]);
    clearTimeout(timer);
    return res;
  }

  /**
   * Sends `signal` (to the group unless group=false), waits up to timeoutMs,
   * then SIGKILLs the group. Returns the run record ({code, signal, timedOut}).
   */
  async stop({ signal = this.stopSignal, timeoutMs = 10000, group = true } = {}) {
    const run = this.current;
    if (!run || run.exited) return run || null;
    run.expected = true;
    run.stopSignal = signal;
    if (group) this.signalGroup(signal); else this.signalPid(signal);
    if (!(await this.waitExit(timeoutMs))) {
      run.timedOut = true;
      kill(-this.pid, 'SIGKILL');
      kill(this.pid, 'SIGKILL');
      await this.waitExit(5000);
    }
    // helpers that stayed in the group (postgres backends, erl_child_setup)
    kill(-run.pid, 'SIGKILL');
    return run;
  }

  emergencyStopSync() {
    if (!this.running) return;
    this.current.expected = true;
    this.signalGroup(this.emergencySignal);
  }
}

/** Runs a command to completion, capturing output. Resolves {code, signal, stdout, stderr, timedOut}. */
export function run(cmd, args, { env, cwd, user, input, timeoutMs = 60000 } = {}) {
  return new Promise((resolve) => {
    const opts = { env, cwd, detached: true, stdio: ['pipe', 'pipe', 'pipe'] };
    if (user && IS_ROOT) Object.assign(opts, userIds(user));
    let child;
    try {
      child = spawn(cmd, args, opts);
    } catch (e) {
      resolve({ code: -1, signal: null, stdout: '', stderr: String(e.message), timedOut: false });
      return;
    }
    let stdout = '', stderr = '', timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdin.on('error', () => {});
    if (input !== undefined) child.stdin.end(input); else child.stdin.end();
    const timer = setTimeout(() => {
      timedOut = true;
      kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => { stderr += String(e.message); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/**
 * Runs one of our measuring tools (mtm-load, mtm-probe: bench/), which
 * prints one JSON document; resolves it. Rejects with the tool's stderr when
 * it exits non-zero, and with its output when that is not JSON. `env` adds to
 * this process's environment.
 */
export async function runJsonTool(cmd, args, { env = {}, timeoutMs = 2 * 3600 * 1000 } = {}) {
  const r = await run(cmd, args, { env: { ...process.env, ...env }, timeoutMs });
  const what = `${path.basename(cmd)} ${args.join(' ')}`;
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${r.stderr.trim()}`);
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`${what}: not JSON: ${r.stdout.slice(0, 300)} ${r.stderr}`);
  }
}

export { sleep };
