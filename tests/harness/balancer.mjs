// haproxy (Debian's) in front of front ends of a running stack, with the
// repository's deploy/haproxy/haproxy.cfg: round robin over two
// lighttpd + mtm-api pairs, health-checked on GET /api/health.
//
//   const lb = await startBalancer(stack, [stack.baseUrl, fe.baseUrl]);
//   ... lb.baseUrl ...   (stopped with the stack: registered in stack.procs)
import path from 'node:path';
import { Proc } from './proc.mjs';
import { REPO, freePort, waitFor } from './util.mjs';

export async function startBalancer(stack, frontends, { name = 'haproxy', timeoutMs = 15000 } = {}) {
  if (frontends.length !== 2) throw new Error('deploy/haproxy/haproxy.cfg names two front ends');
  const port = await freePort();
  const hostPort = (url) => new URL(url).host;
  const env = {
    ...process.env,
    MTM_LB_BIND: `127.0.0.1:${port}`,
    MTM_LB_FRONTEND_1: hostPort(frontends[0]),
    MTM_LB_FRONTEND_2: hostPort(frontends[1]),
    MTM_HARNESS_TAG: stack.tag,
  };
  const proc = new Proc({
    name,
    cmd: '/usr/sbin/haproxy',
    args: ['-db', '-f', path.join(REPO, 'deploy', 'haproxy', 'haproxy.cfg')],
    env,
    cwd: stack.dir,
    logFile: stack.logFile(name),
    watch: true,
  });
  stack.procs[name] = proc;
  proc.start();
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitFor(`${name} to answer GET /api/health`, async () => {
    try {
      return (await fetch(baseUrl + '/api/health', { signal: AbortSignal.timeout(2000) })).status === 200;
    } catch { return false; }
  }, { timeoutMs, check: () => proc.assertRunning('to start'), describe: () => stack.describeLogs([name]) });
  return { name, port, baseUrl, proc };
}
