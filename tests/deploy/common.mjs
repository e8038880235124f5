// Shared by the deploy checks (compose.test.mjs, k8s.test.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every setting the programs read (the "MTM_..." names in lib/config.c). */
export function settingNames() {
  const src = fs.readFileSync(path.join(REPO, 'lib', 'config.c'), 'utf8');
  const names = new Set([...src.matchAll(/"(MTM_[A-Z0-9_]+)"/g)].map((m) => m[1]));
  if (names.size < 20) throw new Error(`lib/config.c: only ${names.size} MTM_* names found; has the table moved?`);
  return [...names].sort();
}

/** Settings the image fixes (paths of its own layout), with the reason. */
export const IMAGE_INTERNAL = {
  MTM_CONFIG: 'a file inside the container; the settings come from the environment instead',
  MTM_HTTP_BIND: 'the image listens on 0.0.0.0',
  MTM_HTTP_PORT: 'the image listens on 8080; compose publishes it on ${MTM_HTTP_PORT}, k8s through the Service',
  MTM_FCGI_SOCKET: 'a path of the image (k8s: a shared emptyDir)',
  MTM_EVENTS_SOCKET: 'a path of the image (k8s: a shared emptyDir)',
  MTM_SQL_DIR: 'the migrations shipped in the image',
  MTM_METRICS_DIR: 'a path of the image, shared with node_exporter',
  MTM_CONSUMER_NAME: 'each container\'s host name: distinct per container, as consumerd sharing the metrics volume need',
};

/** Settings that are secrets: files (compose) or a Secret (k8s), never plain values. */
export const SECRET_SETTINGS = new Set([
  'MTM_PG_URL', 'MTM_AMQP_URL', 'MTM_JWT_SECRET', 'MTM_ADMIN_PASSWORD', 'MTM_ALERTS_TOKEN', 'MTM_METRICS_TOKEN',
]);

/** VERSION := x.y.z of the Makefile. */
export function makefileVersion() {
  const m = /^VERSION := (\S+)$/m.exec(fs.readFileSync(path.join(REPO, 'Makefile'), 'utf8'));
  if (!m) throw new Error('Makefile: no VERSION := line');
  return m[1];
}
