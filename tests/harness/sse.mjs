// A client of GET /api/events for the tests: opens a stream with fetch(),
// parses server-sent event frames as they arrive and lets a test wait for
// the event it expects.
//
//   const s = await openStream(stack.baseUrl, token, { lastEventId });
//   const e = await s.next((e) => e.event === 'tenant' && e.data.id === id);
//   s.close();

/** Parses one SSE frame's lines into {id, event, data (parsed JSON or text)}. */
function parseFrame(text) {
  const out = { id: null, event: 'message', data: '' };
  const data = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'id') out.id = value;
    else if (field === 'event') out.event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'retry') out.retry = Number(value);
  }
  out.data = data.join('\n');
  try { out.data = JSON.parse(out.data); } catch { /* text */ }
  return out;
}

/**
 * Resolves once the response headers arrived: {status, headers, events,
 * next(pred, {timeoutMs}), closed (a promise), close()}. A non-200 answer
 * resolves too, with its body as `problem`.
 */
export async function openStream(baseUrl, token, { lastEventId, timeoutMs = 10000 } = {}) {
  const ac = new AbortController();
  const headers = { accept: 'text/event-stream' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (lastEventId) headers['last-event-id'] = lastEventId;
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const res = await fetch(`${baseUrl}/api/events`, { headers, signal: ac.signal });
  clearTimeout(timer);
  const stream = { status: res.status, headers: res.headers, events: [], waiters: [], done: false };
  if (res.status !== 200) {
    stream.problem = await res.json().catch(() => null);
    stream.close = () => {};
    return stream;
  }
  const check = () => {
    for (const w of [...stream.waiters]) {
      const e = stream.events.slice(w.from).find(w.pred);
      if (e) {
        stream.waiters.splice(stream.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(e);
      } else if (stream.done) {
        stream.waiters.splice(stream.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.reject(new Error(`stream ended before the event expected; saw ${stream.events.map((x) => x.event).join(', ')}`));
      }
    }
  };
  stream.closed = (async () => {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const e = parseFrame(frame);
          if (e.data !== '' || e.event !== 'message') stream.events.push(e);
        }
        check();
      }
    } catch { /* aborted */ }
    stream.done = true;
    check();
  })();
  /** Waits for the first event (seen since `from`, default 0) that pred accepts. */
  stream.next = (pred, { timeoutMs: t = 10000, from = 0 } = {}) => new Promise((resolve, reject) => {
    const w = { pred, from, resolve, reject };
    w.timer = setTimeout(() => {
      stream.waiters.splice(stream.waiters.indexOf(w), 1);
      reject(new Error(`no matching event within ${t} ms; saw ${stream.events.length}: ${stream.events.slice(-10).map((x) => `${x.event} ${JSON.stringify(x.data).slice(0, 80)}`).join(' | ')}`));
    }, t);
    stream.waiters.push(w);
    check();
  });
  stream.close = () => ac.abort();
  return stream;
}
