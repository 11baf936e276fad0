// The Iceberg REST OpenAPI spec as a validator: every JSON response the catalog tests receive is checked
// against the component schema the spec names for it (ajv, OpenAPI `nullable` honoured).
//
// The spec is not part of this repository: ICEBERG_OPENAPI names rest-catalog-open-api.yaml (a relative path
// is taken from the current directory; scripts/test.sh makes it absolute first).  Without it every other check
// still runs and each schema check is skipped and counted: the count is printed when the test file's process
// exits and reported to scripts/test.sh, whose summary shows it — never a silent pass.  Set but unreadable is
// an error, not a skip.
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { report } from './harness.js';

export const SPEC_PATH = process.env.ICEBERG_OPENAPI ? path.resolve(process.env.ICEBERG_OPENAPI) : undefined;
if (SPEC_PATH && !fs.existsSync(SPEC_PATH)) {
  throw new Error(`ICEBERG_OPENAPI=${process.env.ICEBERG_OPENAPI}: no such file (want rest-catalog-open-api.yaml)`);
}

// Schema checks done and skipped by this test file's process.
export const schemaChecks = { checked: 0, skipped: 0 };
const testFile = path.basename(process.argv[1] || 'e2e');
process.on('exit', () => {
  if (schemaChecks.checked) report('schema-checked', `${schemaChecks.checked} ${testFile}`);
  if (schemaChecks.skipped) {
    report('schema-skipped', `${schemaChecks.skipped} ${testFile}`);
    process.stderr.write(`# ${testFile}: schema checks skipped: ${schemaChecks.skipped} ` +
      '(set ICEBERG_OPENAPI to the Iceberg REST OpenAPI yaml to run them)\n');
  }
});

let ajv;
function load() {
  if (ajv) return ajv;
  const doc = yaml.load(fs.readFileSync(SPEC_PATH, 'utf8'));
  ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  // Refs in the spec are '#/components/schemas/X': keep that shape under one schema id.
  ajv.addSchema({ $id: 'iceberg', components: { schemas: doc.components.schemas } });
  return ajv;
}

// Throws (with ajv's errors) unless value matches components/schemas/<name>.  Without the spec: counts the
// check as skipped and returns value unchecked.
export function validate(name, value) {
  if (!SPEC_PATH) {
    schemaChecks.skipped++;
    return value;
  }
  schemaChecks.checked++;
  const a = load();
  const v = a.getSchema(`iceberg#/components/schemas/${name}`);
  if (!v) throw new Error(`no schema ${name} in the spec`);
  if (!v(value)) {
    throw new Error(`response does not match ${name}: ${a.errorsText(v.errors, { separator: '\n  ' })}\n` +
      JSON.stringify(value).slice(0, 2000));
  }
  return value;
}

// The response schema the spec gives for a route (path without query), or undefined.
export function schemaFor(method, pathname, status) {
  if (status >= 400) return 'IcebergErrorResponse';
  if (status === 204 || status === 304) return undefined;
  const segs = pathname.replace(/^\/v1\//, '').split('/');
  if (segs[0] === 'config') return 'CatalogConfig';
  const roots = ['namespaces', 'tables', 'views', 'transactions'];
  if (!roots.includes(segs[0])) segs.shift(); // prefix
  const [a, , c, , e] = segs;
  const n = segs.length;
  if (a !== 'namespaces') return undefined;
  if (n === 1) return method === 'GET' ? 'ListNamespacesResponse' : 'CreateNamespaceResponse';
  if (n === 2) return 'GetNamespaceResponse';
  if (n === 3 && c === 'properties') return 'UpdateNamespacePropertiesResponse';
  if (n === 3 && (c === 'tables' || c === 'views') && method === 'GET') return 'ListTablesResponse';
  if (n === 3 && (c === 'tables' || c === 'register')) return 'LoadTableResult';
  if (n === 3 && (c === 'views' || c === 'register-view')) return 'LoadViewResult';
  if (n === 4 && c === 'tables') return method === 'POST' ? 'CommitTableResponse' : 'LoadTableResult';
  if (n === 4 && c === 'views') return 'LoadViewResult';
  if (n === 5 && e === 'credentials') return 'LoadCredentialsResponse';
  if (n === 5 && e === 'unregister') return 'UnregisterTableResult';
  return undefined;
}

// A fetch for iceberg-js that validates every JSON response it receives against the spec; `seen` counts them.
export function validatingFetch(seen = { count: 0 }) {
  return async (url, init = {}) => {
    const res = await fetch(url, init);
    const text = await res.clone().text();
    if (text) {
      if (!/^application\/json/.test(res.headers.get('content-type') || '')) {
        throw new Error(`${init.method} ${url}: body without application/json`);
      }
      const u = new URL(url);
      const schema = schemaFor(init.method || 'GET', u.pathname, res.status);
      if (schema) validate(schema, JSON.parse(text));
      seen.count++;
    }
    return res;
  };
}

// Request helper around Server.req: checks the status, validates a JSON body against `schema` (errors
// against IcebergErrorResponse), and requires application/json on every body.
export async function call(srv, token, method, p, { body, schema, status, headers } = {}) {
  const res = await srv.req(method, p, { token, body, headers });
  if (status !== undefined && res.status !== status) {
    throw new Error(`${method} ${p}: expected ${status}, got ${res.status}: ${res.text}`);
  }
  if (res.text && method !== 'HEAD') {
    if (!/^application\/json/.test(res.headers.get('content-type') || '')) {
      throw new Error(`${method} ${p}: body without application/json: ${res.text.slice(0, 200)}`);
    }
    const name = schema || schemaFor(method, p.split('?')[0], res.status);
    if (res.status >= 400) validate('IcebergErrorResponse', res.json);
    else if (name) validate(name, res.json);
  }
  return res;
}
