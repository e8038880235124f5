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

// ---------------------------------------------------------------- publishing
//
// A "foreign producer" for the tests: publishes raw messages straight to a
// queue (default exchange, routing key = queue name), with `mandatory` and
// publisher confirms, so that a resolved call means the broker has the
// messages (a persistent message on a durable queue: on disk).

function u16(n) { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }
function u32(n) { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; }
function u64(n) { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; }

function frame(type, channel, payload) {
  const head = Buffer.alloc(7);
  head.writeUInt8(type, 0);
  head.writeUInt16BE(channel, 1);
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([FRAME_END])]);
}

function methodOn(channel, classId, methodId, args) {
  return frame(1, channel, Buffer.concat([u16(classId), u16(methodId), args]));
}

/**
 * One AMQP field value: its type letter and encoding. Plain values: strings
 * -> 'S' (longstr), Buffers -> 'x' (byte array), integers -> 'I' (int32) or
 * 'l' (int64), bigints -> 'l', booleans -> 't', plain objects -> 'F' (a
 * nested table), arrays -> 'A'. A value of the form {amqpType, value} is
 * encoded as that type, for tests of hostile producers: 'b' 'B' 's' 'u' 'I'
 * 'i' 'l' 'L' (integers; bigint for the 64-bit ones), 'f' 'd' (numbers),
 * 'T' (timestamp, a bigint of seconds), 'D' ({scale, value}), 'S' 'x'
 * (string or Buffer), 'V' (void), 't', 'F', 'A'.
 */
function fieldValue(v) {
  if (v && typeof v === 'object' && !Buffer.isBuffer(v) && !Array.isArray(v) && 'amqpType' in v) {
    const t = v.amqpType;
    const x = v.value;
    const num = (size, write) => { const b = Buffer.alloc(size); write(b); return Buffer.concat([Buffer.from(t), b]); };
    switch (t) {
      case 'b': return num(1, (b) => b.writeInt8(x));
      case 'B': return num(1, (b) => b.writeUInt8(x));
      case 's': return num(2, (b) => b.writeInt16BE(x));
      case 'u': return num(2, (b) => b.writeUInt16BE(x));
      case 'I': return num(4, (b) => b.writeInt32BE(x));
      case 'i': return num(4, (b) => b.writeUInt32BE(x));
      case 'l': return num(8, (b) => b.writeBigInt64BE(BigInt(x)));
      case 'L': case 'T': return num(8, (b) => b.writeBigUInt64BE(BigInt(x)));
      case 'f': return num(4, (b) => b.writeFloatBE(x));
      case 'd': return num(8, (b) => b.writeDoubleBE(x));
      case 'D': return num(5, (b) => { b.writeUInt8(x.scale); b.writeUInt32BE(x.value, 1); });
      case 'S': case 'x': return Buffer.concat([Buffer.from(t), longstr(x)]);
      case 'V': return Buffer.from('V');
      case 't': return Buffer.from([0x74, x ? 1 : 0]);
      case 'F': return Buffer.concat([Buffer.from('F'), fieldTable(x)]);
      case 'A': return Buffer.concat([Buffer.from('A'), fieldArray(x)]);
      default: throw new Error(`amqpPublish: unknown AMQP field type ${t}`);
    }
  }
  if (typeof v === 'string') return Buffer.concat([Buffer.from('S'), longstr(v)]);
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from('x'), longstr(v)]);
  if (typeof v === 'boolean') return Buffer.from([0x74, v ? 1 : 0]);
  if (typeof v === 'bigint' || (Number.isInteger(v) && (v > 0x7fffffff || v < -0x80000000))) {
    const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(v)); return Buffer.concat([Buffer.from('l'), b]);
  }
  if (Number.isInteger(v)) { const b = Buffer.alloc(4); b.writeInt32BE(v); return Buffer.concat([Buffer.from('I'), b]); }
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('A'), fieldArray(v)]);
  if (v && typeof v === 'object') return Buffer.concat([Buffer.from('F'), fieldTable(v)]);
  throw new Error(`amqpPublish: unsupported header value ${String(v)}`);
}

function fieldArray(list) {
  const body = Buffer.concat(list.map(fieldValue));
  return Buffer.concat([u32(body.length), body]);
}

/** An AMQP field table from a plain object (see fieldValue); keys may be Buffers' latin1 text. */
function fieldTable(obj) {
  const parts = [];
  for (const [k, v] of Object.entries(obj || {})) parts.push(shortstr(k), fieldValue(v));
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(body.length), body]);
}

/**
 * The basic content header's flags and property list. props: contentType,
 * headers (object), deliveryMode (default 2), messageId (string or Buffer:
 * raw bytes, for ids that are not valid text), timestamp (seconds), expiration.
 */
function basicProperties(props) {
  let flags = 0;
  const list = [];
  const shortBytes = (v) => {
    const b = Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
    if (b.length > 255) throw new Error(`amqpPublish: short string of ${b.length} bytes (max 255)`);
    return Buffer.concat([Buffer.from([b.length]), b]);
  };
  if (props.contentType !== undefined) { flags |= 1 << 15; list.push(shortBytes(props.contentType)); }
  if (props.headers !== undefined) { flags |= 1 << 13; list.push(fieldTable(props.headers)); }
  const mode = props.deliveryMode === undefined ? 2 : props.deliveryMode;
  if (mode !== null) { flags |= 1 << 12; list.push(Buffer.from([mode])); }
  if (props.expiration !== undefined) { flags |= 1 << 8; list.push(shortBytes(props.expiration)); }
  if (props.messageId !== undefined) { flags |= 1 << 7; list.push(shortBytes(props.messageId)); }
  if (props.timestamp !== undefined) { flags |= 1 << 6; list.push(u64(props.timestamp)); }
  return Buffer.concat([u16(flags), ...list]);
}

/**
 * Publishes `messages` ([{body: string|Buffer, properties?: {...}}], see
 * basicProperties; no messageId unless given) to `queue` through the
 * default exchange, with mandatory and publisher confirms. Resolves
 * {confirmed: n} once the broker acked every message; rejects if one is
 * returned (no such queue), nacked, the channel or connection is closed,
 * or nothing happens within timeoutMs.
 */
export function amqpPublish(url, queue, messages, { timeoutMs = 10000 } = {}) {
  const u = new URL(url);
  const host = u.hostname || '127.0.0.1';
  const port = Number(u.port || 5672);
  const user = decodeURIComponent(u.username || 'guest');
  const pass = decodeURIComponent(u.password || 'guest');
  let vhost = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (vhost === '') vhost = '/';
  const CH = 1;

  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    let settled = false;
    let frameMax = 131072;
    let acked = 0;
    const ackedTags = new Set();
    const where = `AMQP ${host}:${port} publish to ${queue}`;
    const done = (err) => {
      if (settled) return;
      settled = true;
      if (err) { sock.destroy(); reject(err); return; }
      // polite close; do not wait for close-ok longer than needed
      sock.write(methodOn(0, 10, 50, Buffer.concat([u16(200), shortstr('bye'), u16(0), u16(0)])));
      setTimeout(() => sock.destroy(), 500).unref();
      resolve({ confirmed: acked });
    };
    sock.setTimeout(timeoutMs, () => done(new Error(`${where}: no confirm within ${timeoutMs} ms (${acked}/${messages.length} acked)`)));
    sock.on('error', (e) => done(new Error(`${where}: ${e.message}`)));
    sock.on('close', () => done(new Error(`${where}: connection closed by the broker (${acked}/${messages.length} acked)`)));
    sock.on('connect', () => sock.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')));

    const publishAll = () => {
      const out = [];
      const chunk = frameMax - 8;
      for (const m of messages) {
        const body = Buffer.isBuffer(m.body) ? m.body : Buffer.from(String(m.body), 'utf8');
        // basic.publish: reserved short, exchange '', routing key, bits (mandatory)
        out.push(methodOn(CH, 60, 40, Buffer.concat([u16(0), shortstr(''), shortstr(queue), Buffer.from([1])])));
        out.push(frame(2, CH, Buffer.concat([u16(60), u16(0), u64(body.length), basicProperties(m.properties || {})])));
        for (let off = 0; off < body.length; off += chunk) out.push(frame(3, CH, body.subarray(off, off + chunk)));
      }
      sock.write(Buffer.concat(out));
    };

    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 8 && buf.subarray(0, 4).toString('latin1') === 'AMQP') {
        return done(new Error(`${where}: broker rejected protocol header`));
      }
      while (buf.length >= 8) {
        const type = buf.readUInt8(0);
        const size = buf.readUInt32BE(3);
        if (buf.length < 8 + size) return;
        const payload = buf.subarray(7, 7 + size);
        buf = buf.subarray(8 + size);
        if (type !== 1) continue; // content of a basic.return, heartbeats
        const key = `${payload.readUInt16BE(0)}.${payload.readUInt16BE(2)}`;
        const text = () => payload.subarray(7, 7 + payload.readUInt8(6)).toString('utf8');
        if (key === '10.10') { // connection.start
          sock.write(methodOn(0, 10, 11, Buffer.concat([
            u32(0), shortstr('PLAIN'), longstr(Buffer.from(`\0${user}\0${pass}`, 'utf8')), shortstr('en_US'),
          ])));
        } else if (key === '10.30') { // connection.tune
          const channelMax = payload.readUInt16BE(4);
          const fm = payload.readUInt32BE(6);
          if (fm) frameMax = Math.min(fm, 131072);
          sock.write(methodOn(0, 10, 31, Buffer.concat([u16(channelMax), u32(frameMax), u16(0)])));
          sock.write(methodOn(0, 10, 40, Buffer.concat([shortstr(vhost), shortstr(''), Buffer.from([0])])));
        } else if (key === '10.41') { // connection.open-ok
          sock.write(methodOn(CH, 20, 10, shortstr(''))); // channel.open
        } else if (key === '20.11') { // channel.open-ok
          sock.write(methodOn(CH, 85, 10, Buffer.from([0]))); // confirm.select
        } else if (key === '85.11') { // confirm.select-ok
          if (messages.length === 0) return done(null);
          publishAll();
        } else if (key === '60.50') { // basic.return
          return done(new Error(`${where}: message returned by the broker: ${payload.readUInt16BE(4)} ${text()}`));
        } else if (key === '60.80') { // basic.ack
          const tag = Number(payload.readBigUInt64BE(4));
          const multiple = payload.readUInt8(12) & 1;
          for (let t = multiple ? 1 : tag; t <= tag; t++) ackedTags.add(t);
          acked = ackedTags.size;
          if (acked >= messages.length) return done(null);
        } else if (key === '60.120') { // basic.nack
          return done(new Error(`${where}: message ${Number(payload.readBigUInt64BE(4))} nacked by the broker`));
        } else if (key === '20.40') { // channel.close
          return done(new Error(`${where}: broker closed the channel: ${payload.readUInt16BE(4)} ${text()}`));
        } else if (key === '10.50') { // connection.close
          return done(new Error(`${where}: broker closed the connection: ${payload.readUInt16BE(4)} ${text()}`));
        }
      }
    });
  });
}
