// Small helpers shared by the harness: ports, waiting, log tails, secrets.
import net from 'node:net';
import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until a responder counts no tenant as asking any more: its fair
 * share (cgi-bin/tenantshare.h) treats a tenant as asking for
 * TENANT_SHARE_QUIET_MS (1 s) after its last request, and while another
 * tenant asks, one tenant holding all but one request thread is answered
 * 429. A load that must run on a quiet responder starts after this.
 */
export const shareQuiet = () => sleep(1000 + 500);

const handedOut = new Set();

function tryListen(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** The first port the kernel hands out for outgoing connections. */
function ephemeralMin() {
  try { return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768; } catch { return 32768; }
}
const EPHEMERAL_MIN = ephemeralMin();

/**
 * A TCP port on 127.0.0.1 that is free right now and has not been handed out
 * by this process before. `extra` lists offsets that must be free as well
 * (RabbitMQ's CLI tools use dist port + 10000..10010). Every port, extras
 * included, lies below the kernel's ephemeral range: a server restarted in
 * a test (a RabbitMQ node killed and started again) must find its port
 * free, not taken meanwhile by some client's outgoing connection.
 */
export async function freePort({ min = 10000, max = EPHEMERAL_MIN - 1, extra = [] } = {}) {
  max = Math.min(max, EPHEMERAL_MIN - 1 - Math.max(0, ...extra));
  for (let i = 0; i < 500; i++) {
    const port = min + crypto.randomInt(max - min);
    if (handedOut.has(port)) continue;
    if (!(await tryListen(port))) continue;
    let ok = true;
    for (const off of extra) {
      if (!(await tryListen(port + off))) { ok = false; break; }
    }
    if (!ok) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free TCP port found in ${min}..${max}`);
}

/** Resolves true once something accepts TCP connections on host:port. */
export function canConnect(port, host = '127.0.0.1', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (v) => { s.destroy(); resolve(v); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export function canConnectUnix(sockPath, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = net.connect({ path: sockPath });
    const done = (v) => { s.destroy(); resolve(v); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Last `n` lines of a file ('' if it does not exist). */
export function tail(file, n = 40) {
  let text;
  try { text = fs.readFileSync(file, 'utf8'); } catch { return ''; }
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-n).join('\n');
}

export function indent(text, prefix = '    ') {
  return String(text).split('\n').map((l) => prefix + l).join('\n');
}

/**
 * Polls `probe` (async, returns a truthy value when done) every `intervalMs`
 * until it succeeds or `timeoutMs` passes. `check` (optional, sync) runs on
 * every round and may throw to abort early (e.g. a process died).
 * On timeout throws an Error whose message is `what` plus `describe()`.
 */
export async function waitFor(what, probe, { timeoutMs = 10000, intervalMs = 100, check, describe } = {}) {
  const start = Date.now();
  let last;
  for (;;) {
    if (check) check();
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() - start > timeoutMs) {
      let msg = `timed out after ${(timeoutMs / 1000).toFixed(1)} s waiting for ${what}`;
      if (last instanceof Error) msg += `\n  last error: ${last.message}`;
      if (describe) msg += '\n' + describe();
      throw new Error(msg);
    }
    await sleep(intervalMs);
  }
}

export function randomSecret(bytes = 48) {
  return crypto.randomBytes(bytes).toString('base64url');
}
