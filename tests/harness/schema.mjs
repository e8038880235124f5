// A small JSON Schema (2020-12) validator for the subset public/openapi.json
// uses, so that the tests can check live answers against the documented
// schemas without an npm dependency.
//
//   import { validate, resolvePointer, checkSchema } from '../harness/schema.mjs';
//   const errors = validate(schema, value, { root: openapiDoc });   // [] when valid
//
// Keywords: $ref (local "#/..." pointers into root), type (a name or an
// array of names, so ["string", "null"] is nullable), const, enum,
// properties, required, additionalProperties (false or a schema),
// propertyNames, minProperties/maxProperties, items, minItems/maxItems,
// minimum/maximum, minLength/maxLength (in code points), pattern (ECMA-262,
// unanchored as the spec says), allOf, anyOf, oneOf. Annotations
// (description, default, format, title, examples...) are ignored. Any
// other keyword throws, so that a schema never silently checks less than it
// says: checkSchema(schema) walks a schema and reports such keywords.

const ANNOTATIONS = new Set([
  'description', 'default', 'format', 'title', 'examples', 'example', 'deprecated', 'readOnly', 'writeOnly', '$comment',
]);
const KEYWORDS = new Set([
  '$ref', 'type', 'const', 'enum', 'properties', 'required', 'additionalProperties', 'propertyNames',
  'minProperties', 'maxProperties', 'items', 'minItems', 'maxItems', 'minimum', 'maximum', 'minLength',
  'maxLength', 'pattern', 'allOf', 'anyOf', 'oneOf',
]);
const TYPES = new Set(['null', 'boolean', 'object', 'array', 'number', 'integer', 'string']);

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

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v; // boolean, string, object
}

function typeMatches(name, v) {
  const t = typeOf(v);
  if (name === 'number') return t === 'number' || t === 'integer';
  return t === name;
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
}

const show = (v) => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : (s.length > 80 ? s.slice(0, 80) + '…' : s);
};

/**
 * Validates value against schema; returns a list of messages ("$.data[0].id:
 * does not match ..."), empty when valid. opts.root is the document $refs
 * point into (defaults to schema itself).
 */
export function validate(schema, value, { root = schema, path = '$' } = {}) {
  const errors = [];
  check(schema, value, root, path, errors, 0);
  return errors;
}

function check(schema, v, root, path, errors, depth) {
  if (depth > 64) throw new Error(`schema recursion deeper than 64 at ${path}`);
  if (schema === true || schema === undefined) return;
  if (schema === false) {
    errors.push(`${path}: no value is allowed here`);
    return;
  }
  if (typeof schema !== 'object' || schema === null) throw new Error(`${path}: not a schema: ${show(schema)}`);
  for (const k of Object.keys(schema)) {
    if (!KEYWORDS.has(k) && !ANNOTATIONS.has(k)) throw new Error(`schema keyword "${k}" is not supported by tests/harness/schema.mjs (at ${path})`);
  }
  if (schema.$ref !== undefined) check(resolvePointer(root, schema.$ref), v, root, path, errors, depth + 1);

  if (schema.type !== undefined) {
    const names = Array.isArray(schema.type) ? schema.type : [schema.type];
    for (const n of names) if (!TYPES.has(n)) throw new Error(`unknown type "${n}" at ${path}`);
    if (!names.some((n) => typeMatches(n, v))) {
      errors.push(`${path}: expected ${names.join(' or ')}, got ${typeOf(v)} ${show(v)}`);
      return; // the other keywords would only add noise
    }
  }
  if ('const' in schema && !deepEqual(schema.const, v)) errors.push(`${path}: expected ${show(schema.const)}, got ${show(v)}`);
  if (schema.enum !== undefined && !schema.enum.some((e) => deepEqual(e, v))) {
    errors.push(`${path}: ${show(v)} is not one of ${show(schema.enum)}`);
  }

  const t = typeOf(v);
  if (t === 'integer' || t === 'number') {
    if (schema.minimum !== undefined && v < schema.minimum) errors.push(`${path}: ${v} is less than the minimum ${schema.minimum}`);
    if (schema.maximum !== undefined && v > schema.maximum) errors.push(`${path}: ${v} is more than the maximum ${schema.maximum}`);
  }
  if (t === 'string') {
    const len = [...v].length;
    if (schema.minLength !== undefined && len < schema.minLength) errors.push(`${path}: ${show(v)} is shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && len > schema.maxLength) errors.push(`${path}: string of ${len} characters is longer than ${schema.maxLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(v)) {
      errors.push(`${path}: ${show(v)} does not match ${schema.pattern}`);
    }
  }
  if (t === 'array') {
    if (schema.minItems !== undefined && v.length < schema.minItems) errors.push(`${path}: ${v.length} items, fewer than ${schema.minItems}`);
    if (schema.maxItems !== undefined && v.length > schema.maxItems) errors.push(`${path}: ${v.length} items, more than ${schema.maxItems}`);
    if (schema.items !== undefined) v.forEach((item, i) => check(schema.items, item, root, `${path}[${i}]`, errors, depth + 1));
  }
  if (t === 'object') {
    const keys = Object.keys(v);
    for (const r of schema.required || []) {
      if (!Object.prototype.hasOwnProperty.call(v, r)) errors.push(`${path}: the member "${r}" is required`);
    }
    if (schema.minProperties !== undefined && keys.length < schema.minProperties) errors.push(`${path}: fewer than ${schema.minProperties} members`);
    if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) errors.push(`${path}: more than ${schema.maxProperties} members`);
    const props = schema.properties || {};
    for (const k of keys) {
      const at = `${path}.${k}`;
      if (schema.propertyNames !== undefined) check({ type: 'string', ...schema.propertyNames }, k, root, `${at} (name)`, errors, depth + 1);
      if (Object.prototype.hasOwnProperty.call(props, k)) check(props[k], v[k], root, at, errors, depth + 1);
      else if (schema.additionalProperties === false) errors.push(`${path}: the member "${k}" is not allowed`);
      else if (schema.additionalProperties !== undefined) check(schema.additionalProperties, v[k], root, at, errors, depth + 1);
    }
  }

  for (const s of schema.allOf || []) check(s, v, root, path, errors, depth + 1);
  if (schema.anyOf !== undefined) {
    const results = schema.anyOf.map((s) => validate(s, v, { root, path }));
    if (!results.some((r) => r.length === 0)) {
      errors.push(`${path}: matches none of anyOf: ${results.map((r, i) => `[${i}] ${r.join('; ')}`).join(' | ')}`);
    }
  }
  if (schema.oneOf !== undefined) {
    const results = schema.oneOf.map((s) => validate(s, v, { root, path }));
    const n = results.filter((r) => r.length === 0).length;
    if (n === 0) errors.push(`${path}: matches none of oneOf: ${results.map((r, i) => `[${i}] ${r.join('; ')}`).join(' | ')}`);
    else if (n > 1) errors.push(`${path}: matches ${n} of oneOf (exactly one is required)`);
  }
}

/**
 * Walks a schema (following nothing: $refs are checked where they point
 * when those schemas are walked themselves) and returns messages for
 * keywords this validator does not know, unknown type names and patterns
 * that are not valid regular expressions.
 */
export function checkSchema(schema, path = '$') {
  const out = [];
  const walk = (s, p) => {
    if (s === true || s === false) return;
    if (s === null || typeof s !== 'object' || Array.isArray(s)) {
      out.push(`${p}: not a schema`);
      return;
    }
    for (const [k, v] of Object.entries(s)) {
      if (ANNOTATIONS.has(k)) continue;
      if (!KEYWORDS.has(k)) {
        out.push(`${p}: unsupported keyword "${k}"`);
        continue;
      }
      if (k === 'type') {
        for (const n of Array.isArray(v) ? v : [v]) if (!TYPES.has(n)) out.push(`${p}: unknown type "${n}"`);
      } else if (k === 'pattern') {
        try { new RegExp(v, 'u'); } catch (e) { out.push(`${p}: pattern ${v}: ${e.message}`); }
      } else if (k === 'properties') {
        for (const [name, sub] of Object.entries(v)) walk(sub, `${p}.properties.${name}`);
      } else if (k === 'items' || k === 'additionalProperties' || k === 'propertyNames') {
        walk(v, `${p}.${k}`);
      } else if (k === 'allOf' || k === 'anyOf' || k === 'oneOf') {
        if (!Array.isArray(v) || v.length === 0) out.push(`${p}.${k}: must be a non-empty array`);
        else v.forEach((sub, i) => walk(sub, `${p}.${k}[${i}]`));
      }
    }
  };
  walk(schema, path);
  return out;
}
