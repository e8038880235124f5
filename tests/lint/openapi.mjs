// make lint-openapi (part of make lint): public/openapi.json is a valid
// OpenAPI 3.1 document for @apidevtools/swagger-parser (the specification's
// own schema, every $ref resolved), and its info.version is the release,
// the Makefile's VERSION. tests/integration/openapi.test.mjs checks the
// rest (schemas in ajv's strict mode, examples, the route table, live answers).
import fs from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';

const file = process.argv[2] || 'public/openapi.json';
const version = /^VERSION := (\S+)$/m.exec(fs.readFileSync('Makefile', 'utf8'))?.[1];
try {
  const api = await SwaggerParser.validate(file);
  if (api.info.version !== version) throw new Error(`info.version is ${api.info.version}, the Makefile's VERSION is ${version}`);
  console.log(`${file}: valid OpenAPI ${api.openapi}, version ${api.info.version}`);
} catch (e) {
  console.error(`${file}: ${e.message}`);
  process.exit(1);
}
