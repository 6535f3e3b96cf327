/**
 * Writes TypeScript types for the REST API from an OpenAPI document (openapi-typescript, which needs
 * the TypeScript 5 API this package has): `bun client-sdk/scripts/openapi-types.ts <openapi.json | URL> <out.d.ts>`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";

const [source, out] = process.argv.slice(2);
if (!source || !out) {
  console.error("usage: bun client-sdk/scripts/openapi-types.ts <openapi.json | URL> <out.d.ts>");
  process.exit(2);
}
const doc = /^https?:\/\//.test(source) ? await (await fetch(source)).text() : readFileSync(source, "utf8");
// Fields with a default are optional in requests (the server fills them in), not required.
writeFileSync(out, astToString(await openapiTS(doc, { defaultNonNullable: false })));
