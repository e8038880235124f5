// JSON Schema (draft 2020-12) for the tests, over ajv (npm, exact version in
// package.json) with ajv-formats, so that the tests check live answers
// against the schemas of public/openapi.json.
//
//   import { validate, resolvePointer, checkSchema } from '../harness/schema.mjs';
//   const errors = validate(schema, value, { root: openapiDoc });   // [] when valid
//
// Local $refs ("#/components/schemas/Tenant") resolve in `root`. ajv runs in
// strict mode: a keyword or format it does not know is an error (so that a
// schema never silently checks less than it says); OpenAPI's `example` is
// the one extra annotation allowed. Formats (date-time) are checked.
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const ROOT_ID = 'https://mtm.invalid/root.json';

/** The value at a local JSON pointer ("#/components/schemas/Tenant") in root; throws if absent. */
export function resolvePointer(root, ref) {
  if (typeof ref !== 'string' || !ref.startsWith('#')) throw new Error(`only local $refs are supported: ${ref}`);
  let node = root;
  const parts = ref.slice(1).split('/').slice(1).map((p) => decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~'));
  for (const p of parts) {
    if (node === null || typeof node !== 'object' || !Object.prototype.hasOwnProperty.call(node, p)) {
      throw new Error(`$ref ${ref} does not resolve (no "${p}")`);
    }
    node = node[p];
  }
  return node;
}

/**
 * One strict ajv per root document. The root's components (where every
 * local $ref of public/openapi.json points) are added as the $defs of a
 * schema of their own, ROOT_ID, with their $refs rewritten to match: the
 * document as a whole is not a schema ajv would compile.
 */
const instances = new WeakMap();
const NO_ROOT = {};
function ajvFor(root) {
  if (!root || typeof root !== 'object') root = NO_ROOT;
  let entry = instances.get(root);
  if (!entry) {
    const ajv = new Ajv2020({ strict: true, strictTypes: false, strictTuples: false, strictRequired: false, allowUnionTypes: true, allErrors: true });
    addFormats(ajv);
    ajv.addVocabulary(['example']);
    if (root !== NO_ROOT && root.components) ajv.addSchema({ $id: ROOT_ID, $defs: anchored(root.components, '#/$defs/') }, ROOT_ID, undefined, false);
    entry = { ajv, compiled: new WeakMap() };
    instances.set(root, entry);
  }
  return entry;
}

/** A copy of schema whose $refs "#/components/..." read `prefix` + "...". */
function anchored(schema, prefix) {
  if (Array.isArray(schema)) return schema.map((s) => anchored(s, prefix));
  if (!schema || typeof schema !== 'object') return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/')) out[k] = prefix + v.slice('#/components/'.length);
    else out[k] = anchored(v, prefix);
  }
  return out;
}

function compile(schema, root) {
  const { ajv, compiled } = ajvFor(root);
  const isObject = typeof schema === 'object' && schema !== null;
  if (isObject && compiled.has(schema)) return compiled.get(schema);
  const fn = ajv.compile(isObject && schema !== root ? anchored(schema, `${ROOT_ID}#/$defs/`) : schema);
  if (isObject) compiled.set(schema, fn);
  return fn;
}

const show = (v) => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : (s.length > 80 ? s.slice(0, 80) + '…' : s);
};

/** "/data/0/id" -> ".data[0].id" */
function jsonPath(pointer) {
  return pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^[0-9]+$/.test(p) ? `[${p}]` : `.${p}`)).join('');
}

function valueAt(value, pointer) {
  try { return resolvePointer(value, '#' + pointer.split('/').map(encodeURIComponent).join('/')); } catch { return undefined; }
}

/**
 * Validates value against schema; returns a list of messages ("$.data[0].id:
 * must match pattern ... (got "x")"), empty when valid. opts.root is the
 * document $refs point into (defaults to schema itself). An invalid schema
 * throws.
 */
export function validate(schema, value, { root = schema, path = '$' } = {}) {
  if (schema === undefined || schema === true) return [];
  const fn = compile(schema, root);
  if (fn(value)) return [];
  return fn.errors.map((e) => {
    const at = `${path}${jsonPath(e.instancePath)}`;
    const params = e.keyword === 'additionalProperties' ? ` ("${e.params.additionalProperty}")` : '';
    return `${at}: ${e.message}${params} (got ${show(valueAt(value, e.instancePath))}; schema ${e.schemaPath})`;
  });
}

/**
 * Reports what is wrong with a schema: not valid against the 2020-12
 * meta-schema (an unknown type name, an empty anyOf), or refused by ajv's
 * strict compilation (an unknown keyword or format, a pattern that is not
 * a regular expression, a $ref that does not resolve in root). [] when fine.
 */
export function checkSchema(schema, path = '$', { root = schema } = {}) {
  const { ajv } = ajvFor(root);
  const out = [];
  if (!ajv.validateSchema(schema)) {
    for (const e of ajv.errors) out.push(`${path}${jsonPath(e.instancePath)}: ${e.message}`);
    return out;
  }
  try {
    compile(schema, root);
  } catch (e) {
    out.push(`${path}: ${e.message}`);
  }
  return out;
}
