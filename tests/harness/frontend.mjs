// A second front end for a running stack: one more mtm-api process (its own
// FastCGI socket) and, optionally, one more lighttpd (the repository's own
// lighttpd.conf, its own port and var folder), both talking to the stack's
// PostgreSQL and RabbitMQ. Used to show that what must be shared between
// responder processes (the publish rate limit) really is, and to run a
// responder with a different configuration next to the stack's own.
//
//   const fe = await startFrontend(stack, 'fe2', { env: { MTM_CORS_ORIGINS: undefined } });
//   ... fe.baseUrl ...
//   await fe.stop();   // before stack.stop(); throws on a sanitizer report or an unclean exit
//
// The processes are registered in stack.procs (as `<name>-api`,
// `<name>-lighttpd`), so the harness's emergency cleanup and sanitizer scan
// cover them; they carry the stack's tag, so the reaper finds them too.
// Nothing here changes stack.mjs.
import fs from 'node:fs';
import path from 'node:path';
import { Proc } from './proc.mjs';
import { REPO, freePort, canConnect, canConnectUnix, waitFor, indent } from './util.mjs';
import { sanitizerExcerpt } from './stack.mjs';

function which(cmd, fallback) {
  for (const dir of (process.env.PATH || '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin'])) {
    const p = path.join(dir, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return fallback || cmd;
}

/**
 * Starts `<name>-api` (and `<name>-lighttpd` unless lighttpd:false).
 * env: overrides on top of stack.env; a value of undefined removes the variable.
 * Resolves {name, env, baseUrl, socket, procs, stop()}.
 */
export async function startFrontend(stack, name, { env = {}, lighttpd = true, timeoutMs = 15000 } = {}) {
  const dir = path.join(stack.dir, name);
  const varDir = path.join(dir, 'var');
  for (const d of [varDir, path.join(varDir, 'log'), path.join(varDir, 'run'), path.join(varDir, 'metrics')]) {
    fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  }
  const port = await freePort();
  const own = {
    MTM_VAR_DIR: varDir,
    MTM_HTTP_PORT: String(port),
    MTM_FCGI_SOCKET: path.join(varDir, 'run', 'mtm-api.sock'),
    MTM_METRICS_DIR: path.join(varDir, 'metrics'),
    ...env,
  };
  const procEnv = stack.binEnv(own);
  for (const [k, v] of Object.entries(own)) if (v === undefined || v === null) delete procEnv[k];
  const fe = {
    name,
    env: procEnv,
    socket: own.MTM_FCGI_SOCKET,
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    procs: [],
    stopped: false,
  };

  const api = new Proc({
    name: `${name}-api`,
    cmd: path.join(stack.binDir, 'mtm-api'),
    env: procEnv,
    cwd: stack.dir,
    logFile: stack.logFile(`${name}-api`),
    ours: true,
  });
  stack.procs[api.name] = api;
  fe.procs.push(api);
  api.start();
  await waitFor(`${api.name} to listen on ${fe.socket}`, () => canConnectUnix(fe.socket), {
    timeoutMs,
    check: () => api.assertRunning('to start'),
    describe: () => stack.describeLogs([api.name]),
  });

  if (lighttpd) {
    const lt = new Proc({
      name: `${name}-lighttpd`,
      cmd: which('lighttpd', '/usr/sbin/lighttpd'),
      args: ['-D', '-f', path.join(REPO, 'lighttpd.conf')],
      env: procEnv,
      cwd: stack.dir,
      logFile: stack.logFile(`${name}-lighttpd`),
      watch: true,
    });
    stack.procs[lt.name] = lt;
    fe.procs.unshift(lt); // stopped first
    lt.start();
    await waitFor(`${lt.name} to listen on port ${port}`, () => canConnect(port), {
      timeoutMs,
      check: () => lt.assertRunning('to start'),
      describe: () => stack.describeLogs([lt.name]),
    });
    let last = '';
    await waitFor(`GET ${fe.baseUrl}/api/health to answer 200`, async () => {
      const res = await fetch(fe.baseUrl + '/api/health', { signal: AbortSignal.timeout(3000) });
      last = `${res.status} ${await res.text()}`;
      return res.status === 200;
    }, {
      timeoutMs,
      check: () => { lt.assertRunning('to keep running'); api.assertRunning('to keep running'); },
      describe: () => `  last answer: ${last}\n${stack.describeLogs([api.name, lt.name])}`,
    });
  }

  /** Stops both (SIGTERM); throws if mtm-api did not exit 0, died earlier, or printed a sanitizer report. */
  fe.stop = async ({ check = true } = {}) => {
    if (fe.stopped) return;
    fe.stopped = true;
    const problems = [];
    for (const p of fe.procs) {
      const wasRunning = p.running;
      const r = await p.stop({ signal: 'SIGTERM', timeoutMs: 10000 });
      for (const run of p.runs) {
        if (!run.expected && run.exited) problems.push(`${p.name} (pid ${run.pid}) exited by itself with ${run.signal ? 'signal ' + run.signal : 'status ' + run.code}`);
      }
      if (p.ours && wasRunning && r) {
        if (r.timedOut) problems.push(`${p.name} (pid ${r.pid}) did not exit within 10 s of SIGTERM`);
        else if (r.code !== 0) problems.push(`${p.name} (pid ${r.pid}) exited with ${r.signal ? 'signal ' + r.signal : 'status ' + r.code} on SIGTERM (contract: 0)`);
      }
      if (p.ours) {
        const ex = sanitizerExcerpt(stack.logs(p.name));
        if (ex) problems.push(`${p.name} printed a sanitizer report:\n${indent(ex)}`);
      }
    }
    if (check && problems.length) throw new Error(`front end ${name}: ${problems.join('\n')}`);
    return problems;
  };
  return fe;
}
