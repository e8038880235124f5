// AMQP for the tests, over amqplib (npm, exact version in package.json):
//
//   await amqpProbe(url);                            // a login and a vhost open, then close
//   await amqpPublish(url, queue, [{ body, properties }]);
//
// amqpPublish is a "foreign producer": it publishes raw messages straight to
// a queue (default exchange, routing key = queue name) with `mandatory` and
// publisher confirms, so a resolved call means the broker has the messages
// (a persistent message on a durable queue: on disk).
//
// Hostile producers. Header values are encoded as the tests give them (see
// headerValue), never left to amqplib's guess. A few deliveries of
// tests/integration/hardening.test.mjs are bytes amqplib refuses to encode:
// a header table over its 64 KiB encoding buffer, a longstr ('S') that is
// not UTF-8, an unsigned 64-bit integer ('L'), a message id that is not
// UTF-8, a timestamp over 2^53. For those (and only those) the content
// header frame is encoded here (hostileContentHeader) and written on
// amqplib's channel; connection, channel, confirms and returns stay
// amqplib's.
import amqplib from 'amqplib';

/** amqplib's connect() arguments for an amqp:// URL (a broker's frame_max of 128 KiB, no heartbeats). */
function connectArgs(url, timeoutMs) {
  const u = new URL(url);
  const user = decodeURIComponent(u.username || 'guest');
  let vhost = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (vhost === '') vhost = '/';
  return {
    where: `AMQP ${u.hostname || '127.0.0.1'}:${Number(u.port || 5672)}`,
    user,
    options: {
      protocol: 'amqp',
      hostname: u.hostname || '127.0.0.1',
      port: Number(u.port || 5672),
      username: user,
      password: decodeURIComponent(u.password || 'guest'),
      vhost,
      frameMax: 131072,
      heartbeat: 0,
    },
    socket: { timeout: timeoutMs },
  };
}

/** Rejects with `message` if `promise` has not settled within ms. */
function within(ms, promise, message) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); timer.unref(); }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Opens a connection to amqp://user:pass@host:port/vhost (login and vhost
 * open), then closes it. Resolves true; rejects with an Error describing
 * what went wrong ("login refused" when the broker refused the user).
 */
export async function amqpProbe(url, { timeoutMs = 3000 } = {}) {
  const { where, user, options, socket } = connectArgs(url, timeoutMs);
  let conn;
  try {
    conn = await within(timeoutMs, amqplib.connect(options, socket), `${where}: no answer within ${timeoutMs} ms`);
  } catch (e) {
    const refused = /ACCESS.REFUSED|\b403\b|closed abruptly during opening handshake/i.test(e.message);
    throw new Error(`${where}: ${e.message}${refused ? ` (login refused for user ${user}?)` : ''}`);
  }
  conn.on('error', () => {});
  await conn.close().catch(() => {});
  return true;
}

// ---------------------------------------------------------------- field values

class NotForAmqplib extends Error {}

/**
 * One header value, as amqplib's typed value ({'!': type, value}) so that
 * the wire type is the one the test means. Plain values: strings -> 'S',
 * Buffers -> 'x' (byte array), integers -> 'I' (int32) or 'l' (int64),
 * bigints -> 'l', booleans -> 't', null -> 'V', plain objects -> 'F',
 * arrays -> 'A'. {amqpType, value} is that AMQP type: 'b' 'B' 's' 'u' 'I'
 * 'i' 'l' 'L' (integers; bigint for the 64-bit ones), 'f' 'd' (numbers),
 * 'T' (timestamp, a bigint of seconds), 'D' ({scale, value}), 'S' 'x'
 * (string or Buffer), 'V' (void), 't', 'F', 'A'. Throws NotForAmqplib for
 * what amqplib cannot encode ('L', 'S' of bytes).
 */
function headerValue(v) {
  if (v && typeof v === 'object' && !Buffer.isBuffer(v) && !Array.isArray(v) && 'amqpType' in v) {
    const t = v.amqpType;
    const x = v.value;
    const typed = { b: 'int8', B: 'uint8', s: 'int16', u: 'uint16', I: 'int32', i: 'uint32', l: 'int64', T: 'timestamp', f: 'float', d: 'double' };
    if (typed[t]) return { '!': typed[t], value: x };
    switch (t) {
      case 'D': return { '!': 'decimal', value: { places: x.scale, digits: x.value } };
      case 'S':
        if (Buffer.isBuffer(x)) throw new NotForAmqplib('a longstr of raw bytes');
        return String(x);
      case 'x': return Buffer.isBuffer(x) ? x : Buffer.from(String(x), 'utf8');
      case 'V': return null;
      case 't': return Boolean(x);
      case 'F': return headerTable(x);
      case 'A': return x.map(headerValue);
      case 'L': throw new NotForAmqplib('an unsigned 64-bit integer');
      default: throw new Error(`amqpPublish: unknown AMQP field type ${t}`);
    }
  }
  if (typeof v === 'string' || Buffer.isBuffer(v) || typeof v === 'boolean' || v === null) return v;
  if (typeof v === 'bigint' || (Number.isInteger(v) && (v > 0x7fffffff || v < -0x80000000))) return { '!': 'int64', value: v };
  if (Number.isInteger(v)) return { '!': 'int32', value: v };
  if (Array.isArray(v)) return v.map(headerValue);
  if (v && typeof v === 'object') return headerTable(v);
  throw new Error(`amqpPublish: unsupported header value ${String(v)}`);
}

function headerTable(obj) {
  return Object.fromEntries(Object.entries(obj || {}).map(([k, v]) => [k, headerValue(v)]));
}

/**
 * The publish options amqplib takes for `properties` (contentType, headers,
 * deliveryMode (default 2; null: none), messageId, timestamp (seconds),
 * expiration), plus mandatory. Throws NotForAmqplib when amqplib could not
 * encode them.
 */
function publishOptions(props) {
  const o = { mandatory: true };
  if (props.contentType !== undefined) o.contentType = props.contentType;
  if (props.headers !== undefined) o.headers = headerTable(props.headers);
  const mode = props.deliveryMode === undefined ? 2 : props.deliveryMode;
  if (mode !== null) o.deliveryMode = mode;
  if (props.expiration !== undefined) o.expiration = String(props.expiration);
  if (props.messageId !== undefined) {
    if (Buffer.isBuffer(props.messageId)) {
      if (!props.messageId.equals(Buffer.from(props.messageId.toString('utf8'), 'utf8'))) throw new NotForAmqplib('a message id that is not UTF-8');
      o.messageId = props.messageId.toString('utf8');
    } else {
      o.messageId = String(props.messageId);
    }
  }
  if (props.timestamp !== undefined) {
    const ts = BigInt(props.timestamp);
    if (ts > BigInt(Number.MAX_SAFE_INTEGER)) throw new NotForAmqplib('a timestamp over 2^53');
    o.timestamp = Number(ts);
  }
  return o;
}

// ---------------------------------------------------------------- hostile content headers

function u16(n) { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }
function u32(n) { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; }
function u64(n) { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; }
function shortBytes(v) {
  const b = Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
  if (b.length > 255) throw new Error(`amqpPublish: short string of ${b.length} bytes (max 255)`);
  return Buffer.concat([Buffer.from([b.length]), b]);
}
function longBytes(v) {
  const b = Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
  return Buffer.concat([u32(b.length), b]);
}

/** The wire bytes of one field value (the same meaning as headerValue). */
function rawFieldValue(v) {
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
      case 'S': case 'x': return Buffer.concat([Buffer.from(t), longBytes(x)]);
      case 'V': return Buffer.from('V');
      case 't': return Buffer.from([0x74, x ? 1 : 0]);
      case 'F': return Buffer.concat([Buffer.from('F'), rawTable(x)]);
      case 'A': return Buffer.concat([Buffer.from('A'), longBytes(Buffer.concat(x.map(rawFieldValue)))]);
      default: throw new Error(`amqpPublish: unknown AMQP field type ${t}`);
    }
  }
  if (typeof v === 'string') return Buffer.concat([Buffer.from('S'), longBytes(v)]);
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from('x'), longBytes(v)]);
  if (typeof v === 'boolean') return Buffer.from([0x74, v ? 1 : 0]);
  if (v === null) return Buffer.from('V');
  if (typeof v === 'bigint' || (Number.isInteger(v) && (v > 0x7fffffff || v < -0x80000000))) {
    const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(v)); return Buffer.concat([Buffer.from('l'), b]);
  }
  if (Number.isInteger(v)) { const b = Buffer.alloc(4); b.writeInt32BE(v); return Buffer.concat([Buffer.from('I'), b]); }
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('A'), longBytes(Buffer.concat(v.map(rawFieldValue)))]);
  if (v && typeof v === 'object') return Buffer.concat([Buffer.from('F'), rawTable(v)]);
  throw new Error(`amqpPublish: unsupported header value ${String(v)}`);
}

function rawTable(obj) {
  const parts = [];
  for (const [k, v] of Object.entries(obj || {})) parts.push(shortBytes(k), rawFieldValue(v));
  return longBytes(Buffer.concat(parts));
}

/** A content header frame (basic class) on `channel` for a body of `size` bytes. */
function hostileContentHeader(channel, size, props) {
  let flags = 0;
  const list = [];
  if (props.contentType !== undefined) { flags |= 1 << 15; list.push(shortBytes(props.contentType)); }
  if (props.headers !== undefined) { flags |= 1 << 13; list.push(rawTable(props.headers)); }
  const mode = props.deliveryMode === undefined ? 2 : props.deliveryMode;
  if (mode !== null) { flags |= 1 << 12; list.push(Buffer.from([mode])); }
  if (props.expiration !== undefined) { flags |= 1 << 8; list.push(shortBytes(props.expiration)); }
  if (props.messageId !== undefined) { flags |= 1 << 7; list.push(shortBytes(props.messageId)); }
  if (props.timestamp !== undefined) { flags |= 1 << 6; list.push(u64(props.timestamp)); }
  const payload = Buffer.concat([u16(60), u16(0), u64(size), u16(flags), ...list]);
  const head = Buffer.alloc(7);
  head.writeUInt8(2, 0);
  head.writeUInt16BE(channel, 1);
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([0xce])]);
}

/**
 * Publishes one message whose properties amqplib refuses on `ch` (an
 * amqplib ConfirmChannel): amqplib encodes a publish of an empty body with
 * plain properties into a capture, the content header frame is swapped for
 * the hostile one, the body frames are amqplib's. The confirm is counted by
 * amqplib as for any publish.
 */
function publishHostile(ch, queue, body, props) {
  const conn = ch.connection;
  const out = conn.channels[ch.ch].buffer;
  const frames = [];
  const write = out.write;
  out.write = (b) => { frames.push(b); return true; };
  try {
    ch.publish('', queue, Buffer.alloc(0), { mandatory: true });
  } finally {
    out.write = write;
  }
  // frames: basic.publish method frame and the content header frame (one
  // chunk when both fit below amqplib's single-chunk threshold, else two).
  const all = Buffer.concat(frames);
  const methodLen = 7 + all.readUInt32BE(3) + 1;
  const method = all.subarray(0, methodLen);
  out.write(Buffer.concat([method, hostileContentHeader(ch.ch, body.length, props)]));
  if (body.length) conn.sendContent(ch.ch, body);
}

// ---------------------------------------------------------------- publishing

/**
 * Publishes `messages` ([{body: string|Buffer, properties?: {...}}], see
 * publishOptions; no messageId unless given) to `queue` through the default
 * exchange, with mandatory and publisher confirms. Resolves {confirmed: n}
 * once the broker acked every message; rejects if one is returned (no such
 * queue), nacked, the channel or connection is closed ("broker closed the
 * channel: 406 ..."), or nothing happens within timeoutMs.
 */
export async function amqpPublish(url, queue, messages, { timeoutMs = 10000 } = {}) {
  const { options, socket } = connectArgs(url, timeoutMs);
  const where = `AMQP ${options.hostname}:${options.port} publish to ${queue}`;
  let conn;
  let failed = null;
  let fail;
  const failure = new Promise((_, reject) => { fail = reject; });
  failure.catch(() => {});
  const stop = (e) => { if (!failed) { failed = e; fail(e); } };
  const closed = (what, e) => {
    const m = /closed by server: (\d+) \(([^)]*)\) with message "([^"]*)"/.exec(e?.message || '');
    return new Error(`${where}: broker closed the ${what}: ${m ? `${m[1]} ${m[3]}` : e?.message || 'closed'}`);
  };
  let acked = 0;
  try {
    conn = await within(timeoutMs, amqplib.connect(options, socket), `${where}: no answer within ${timeoutMs} ms`)
      .catch((e) => { throw new Error(`${where}: ${e.message}`); });
    conn.on('error', (e) => stop(closed('connection', e)));
    conn.on('close', () => stop(new Error(`${where}: connection closed by the broker (${acked}/${messages.length} acked)`)));
    const ch = await conn.createConfirmChannel();
    ch.on('error', (e) => stop(closed('channel', e)));
    ch.on('return', (m) => stop(new Error(`${where}: message returned by the broker: ${m.fields.replyCode} ${m.fields.replyText}`)));
    const confirms = [];
    for (const m of messages) {
      if (failed) break;
      const body = Buffer.isBuffer(m.body) ? m.body : Buffer.from(String(m.body), 'utf8');
      const props = m.properties || {};
      const n = confirms.length + 1;
      const confirmed = new Promise((resolve, reject) => {
        const cb = (err) => {
          if (!err) { acked++; resolve(); return; }
          if (failed) reject(failed);
          else if (err.message === 'message nacked') reject(new Error(`${where}: message ${n} nacked by the broker`));
          else reject(new Error(`${where}: ${err.message} (${acked}/${messages.length} acked)`));
        };
        let opts;
        try {
          opts = publishOptions(props);
        } catch (e) {
          if (!(e instanceof NotForAmqplib)) throw e;
        }
        let sent = false;
        if (opts) {
          try {
            ch.publish('', queue, body, opts, cb);
            sent = true;
          } catch (e) {
            // amqplib's encoder refused it (a header table over 64 KiB): send it as a hostile producer.
            if (!(e instanceof RangeError || e instanceof TypeError)) throw e;
          }
        }
        if (!sent) {
          publishHostile(ch, queue, body, props);
          ch.unconfirmed[ch.unconfirmed.length - 1] = cb;
        }
      });
      confirmed.catch(() => {});
      confirms.push(confirmed);
    }
    await within(timeoutMs, Promise.race([Promise.all(confirms), failure]),
      `${where}: no confirm within ${timeoutMs} ms (${acked}/${messages.length} acked)`);
    if (failed) throw failed;
    return { confirmed: acked };
  } finally {
    if (conn) {
      conn.removeAllListeners('close');
      conn.on('error', () => {});
      await within(2000, conn.close(), 'close').catch(() => {});
    }
  }
}
