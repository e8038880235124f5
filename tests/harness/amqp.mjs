// A minimal AMQP 0-9-1 client: enough to check that a broker answers and that
// a user can log in and open a vhost (readiness probe), without npm packages.
import net from 'node:net';

const FRAME_END = 0xce;

function shortstr(s) {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length]), b]);
}
function longstr(s) {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}
function methodFrame(classId, methodId, args) {
  const payload = Buffer.concat([Buffer.from([classId >> 8, classId & 255, methodId >> 8, methodId & 255]), args]);
  const head = Buffer.alloc(7);
  head.writeUInt8(1, 0);
  head.writeUInt16BE(0, 1);
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([FRAME_END])]);
}

/**
 * Opens a connection to amqp://user:pass@host:port/vhost, completes the
 * handshake (start/start-ok/tune/tune-ok/open/open-ok), then closes it.
 * Resolves true; rejects with an Error describing what went wrong.
 */
export function amqpProbe(url, { timeoutMs = 3000 } = {}) {
  const u = new URL(url);
  const host = u.hostname || '127.0.0.1';
  const port = Number(u.port || 5672);
  const user = decodeURIComponent(u.username || 'guest');
  const pass = decodeURIComponent(u.password || 'guest');
  let vhost = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (vhost === '') vhost = '/';

  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    let settled = false;
    let awaitingTune = false;
    const done = (err) => {
      if (settled) return;
      settled = true;
      if (err && awaitingTune) err = new Error(`${err.message} (login refused for user ${user}?)`);
      sock.destroy();
      if (err) reject(err); else resolve(true);
    };
    sock.setTimeout(timeoutMs, () => done(new Error(`AMQP ${host}:${port}: no answer within ${timeoutMs} ms`)));
    sock.on('error', (e) => done(new Error(`AMQP ${host}:${port}: ${e.message}`)));
    sock.on('close', () => done(new Error(`AMQP ${host}:${port}: connection closed by the broker during the handshake`)));
    sock.on('connect', () => sock.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 8 && buf.subarray(0, 4).toString('latin1') === 'AMQP') {
        return done(new Error(`AMQP ${host}:${port}: broker rejected protocol header`));
      }
      while (buf.length >= 8) {
        const type = buf.readUInt8(0);
        const size = buf.readUInt32BE(3);
        if (buf.length < 8 + size) return;
        const payload = buf.subarray(7, 7 + size);
        buf = buf.subarray(8 + size);
        if (type !== 1) continue; // heartbeats etc.
        const cls = payload.readUInt16BE(0), mth = payload.readUInt16BE(2);
        const key = `${cls}.${mth}`;
        if (key === '10.10') { // connection.start
          const props = Buffer.alloc(4); // empty client-properties table
          sock.write(methodFrame(10, 11, Buffer.concat([
            props, shortstr('PLAIN'), longstr(Buffer.from(`\0${user}\0${pass}`, 'utf8')), shortstr('en_US'),
          ])));
          awaitingTune = true;
        } else if (key === '10.30') { // connection.tune
          awaitingTune = false;
          const channelMax = payload.readUInt16BE(4);
          const frameMax = payload.readUInt32BE(6);
          const args = Buffer.alloc(8);
          args.writeUInt16BE(channelMax, 0);
          args.writeUInt32BE(frameMax, 2);
          args.writeUInt16BE(0, 6);
          sock.write(methodFrame(10, 31, args));
          sock.write(methodFrame(10, 40, Buffer.concat([shortstr(vhost), shortstr(''), Buffer.from([0])])));
        } else if (key === '10.41') { // connection.open-ok
          const args = Buffer.concat([Buffer.from([0, 200]), shortstr('probe done'), Buffer.from([0, 0, 0, 0])]);
          sock.write(methodFrame(10, 50, args));
          settled = true;
          sock.end();
          setTimeout(() => sock.destroy(), 200).unref();
          resolve(true);
          return;
        } else if (key === '10.50') { // connection.close from the broker
          const code = payload.readUInt16BE(4);
          const len = payload.readUInt8(6);
          const text = payload.subarray(7, 7 + len).toString('utf8');
          return done(new Error(`AMQP ${host}:${port}: broker closed the connection: ${code} ${text}`));
        }
      }
    });
  });
}
