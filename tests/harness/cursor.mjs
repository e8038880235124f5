// Page cursors as mtm-api makes them (lib/cursor.h), for tests and benches
// that need a cursor the server never handed out: a deep position, or one
// made under another secret. The unit test tests/unit/test_cursor.c pins the
// same format with a known vector, so the two cannot drift apart silently.
import crypto from 'node:crypto';

const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();

/**
 * The cursor of `key` (a non-negative integer or bigint) in the listing
 * (kind, scope): kind as in cgi-bin ("ma", "md", "da", "dd", "t", "k", "a"),
 * scope the tenant id in lower case or "all". `secret` is MTM_JWT_SECRET.
 */
export function makeCursor(secret, kind, scope, key) {
  const kMac = hmac(secret, 'mtm cursor v1 mac');
  const kEnc = hmac(secret, 'mtm cursor v1 enc');
  const be = Buffer.alloc(8);
  be.writeBigUInt64BE(BigInt(key));
  const tag = hmac(kMac, Buffer.concat([Buffer.from(kind), Buffer.from([0]), Buffer.from(scope), Buffer.from([0]), be])).subarray(0, 16);
  const mask = hmac(kEnc, tag).subarray(0, 8);
  const sealed = Buffer.from(be.map((b, i) => b ^ mask[i]));
  return Buffer.concat([sealed, tag]).toString('base64url');
}
