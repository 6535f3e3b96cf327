/**
 * Hostile input against every REST operation of the OpenAPI document (issue 11 §2): catalogued cases
 * plus seeded fast-check mutations. Every answer must be < 500; every error body exactly
 * `{"detail": string}` with no stack or SQL; every 2xx valid against the documented response schema.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import fc from "fast-check";
import { startTestServer, type TestServer } from "../helpers/server";
import { createUser } from "../helpers/users";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface SchemaNode {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
}
interface Operation {
  parameters?: { name: string; in: string }[];
  requestBody?: { content?: Record<string, { schema?: SchemaNode }> };
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, SchemaNode> };
}

let server: TestServer;
let doc: Doc;
const ajv = new Ajv2020({ strict: false, allErrors: false });
addFormats(ajv);

beforeAll(async () => {
  server = await startTestServer();
  doc = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as Doc;
  ajv.addSchema(doc as unknown as object, "openapi.json");
});
afterAll(() => server.stop());

const LEAKS = /\bstack\b|\n\s+at |SELECT |INSERT |UPDATE .* SET|postgres|drizzle|TypeError|ReferenceError/i;

function resolve(node: SchemaNode | undefined): SchemaNode | undefined {
  if (!node?.$ref) return node;
  const name = node.$ref.split("/").pop() ?? "";
  return doc.components.schemas[name];
}

function sampleValue(node: SchemaNode | undefined): Json {
  const n = resolve(node);
  const type = Array.isArray(n?.type) ? n?.type[0] : n?.type;
  if (n?.anyOf?.[0]) return sampleValue(n.anyOf[0]);
  if (type === "integer" || type === "number") return 1;
  if (type === "boolean") return true;
  if (type === "array") return [];
  if (type === "object") return {};
  return "test value";
}

function bodyShape(op: Operation): Record<string, SchemaNode> {
  const schema = resolve(op.requestBody?.content?.["application/json"]?.schema);
  return schema?.properties ?? {};
}

const ID_CASES = ["0", "-1", "2147483648", "9007199254740993", "1.5", "abc", "%00", "1e3", "999999"];
const QUERY_CASES = ["limit=0", "limit=101", "limit=-5", "limit=abc", "before_id=-1", "before_id=1.5", "query=%00", `query=${"a".repeat(5000)}`, "for_all=maybe", "__proto__=1"];
const FIELD_CASES: Json[] = [null, 123, -1, 1.5, 2 ** 31, "", "   ", "x".repeat(4097), true, [], {}, "\u0000", "\ud800", "😀".repeat(3000)];
const RAW_BODIES = ["{}", "null", "[]", '"str"', "1", '{"a":', "{,}", '{"__proto__":{"admin":true}}', "\u0000"];

interface Case {
  method: string;
  path: string;
  raw?: string;
  contentType?: string;
  label: string;
}

function casesFor(path: string, method: string, op: Operation): Case[] {
  const m = method.toUpperCase();
  const hasParams = /\{[^}]+\}/.test(path);
  const fill = (v: string) => path.replace(/\{[^}]+\}/g, v);
  const valid = fill("1");
  const out: Case[] = [{ method: m, path: valid, label: "baseline" }];
  if (hasParams) for (const id of ID_CASES) out.push({ method: m, path: fill(id), label: `id=${id}` });
  for (const q of QUERY_CASES) out.push({ method: m, path: `${valid}?${q}`, label: `query ${q.slice(0, 20)}` });
  if (m !== "GET") {
    for (const raw of RAW_BODIES) out.push({ method: m, path: valid, raw, label: `raw ${raw.slice(0, 12)}` });
    out.push({ method: m, path: valid, raw: "a=1", contentType: "application/x-www-form-urlencoded", label: "form body" });
    out.push({ method: m, path: valid, raw: JSON.stringify({ x: "y".repeat(2 * 1024 * 1024) }), label: "2 MB body" });
    const shape = bodyShape(op);
    const base: Record<string, Json> = {};
    for (const [k, v] of Object.entries(shape)) base[k] = sampleValue(v);
    out.push({ method: m, path: valid, raw: JSON.stringify(base), label: "sample body" });
    out.push({ method: m, path: valid, raw: JSON.stringify({ ...base, unexpected_extra: 1 }), label: "extra field" });
    for (const key of Object.keys(shape)) {
      const missing = { ...base };
      delete missing[key];
      out.push({ method: m, path: valid, raw: JSON.stringify(missing), label: `missing ${key}` });
      for (const value of FIELD_CASES) out.push({ method: m, path: valid, raw: JSON.stringify({ ...base, [key]: value }), label: `${key}=${JSON.stringify(value).slice(0, 12)}` });
      out.push({ method: m, path: valid, raw: JSON.stringify({ ...base, [key]: "m".repeat(1024 * 1024 - 100) }), label: `${key}=1MB` });
    }
    // Seeded random mutations of the documented body keys.
    const keys = Object.keys(shape);
    const arb = keys.length ? fc.record(Object.fromEntries(keys.map((k) => [k, fc.jsonValue({ maxDepth: 2 })])), { requiredKeys: [] }) : fc.jsonValue({ maxDepth: 2 });
    for (const sample of fc.sample(arb, { seed: 20261124, numRuns: 25 })) out.push({ method: m, path: valid, raw: JSON.stringify(sample), label: "fast-check" });
  }
  return out;
}

test("every REST operation survives hostile input", async () => {
  let requests = 0;
  const failures: string[] = [];
  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => ["get", "post", "put", "patch", "delete"].includes(method))
      .map(([method, op]) => ({ path, method, op })),
  );
  expect(operations.length).toBeGreaterThan(3);
  for (const { path, method, op } of operations) {
    // A fresh user per operation: one operation revoking sessions must not blind the others.
    const user = await createUser(server);
    const base = path.startsWith("/health") ? server.url : `${server.url}/api/v1`;
    for (const c of casesFor(path, method, op)) {
      const headers: Record<string, string> = { authorization: `Bearer ${user.token}` };
      if (c.raw !== undefined) headers["content-type"] = c.contentType ?? "application/json";
      const res = await fetch(`${base}${c.path}`, { method: c.method, headers, body: c.raw });
      requests++;
      const text = await res.text();
      const where = `${c.method} ${c.path.slice(0, 80)} [${c.label}] -> ${res.status}`;
      if (res.status >= 500 && !(path === "/health/ready")) {
        failures.push(`${where}: ${text.slice(0, 200)}`);
        continue;
      }
      if (res.status >= 400) {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          failures.push(`${where}: error body is not JSON: ${text.slice(0, 100)}`);
          continue;
        }
        const keys = body && typeof body === "object" ? Object.keys(body) : [];
        if (keys.length !== 1 || keys[0] !== "detail" || typeof (body as { detail: unknown }).detail !== "string")
          failures.push(`${where}: error body is not {detail: string}: ${text.slice(0, 100)}`);
        else if (LEAKS.test(text)) failures.push(`${where}: error body leaks internals: ${text.slice(0, 200)}`);
      } else if (res.status >= 200 && res.status < 300 && res.status !== 204) {
        const status = String(res.status);
        if (!op.responses?.[status]) {
          failures.push(`${where}: undocumented success status`);
          continue;
        }
        const pointer = `openapi.json#/paths/${path.replace(/~/g, "~0").replace(/\//g, "~1")}/${method}/responses/${status}/content/application~1json/schema`;
        const validate = ajv.getSchema(pointer) ?? ajv.compile({ $ref: pointer });
        if (!validate(JSON.parse(text))) failures.push(`${where}: response does not match the OpenAPI schema: ${ajv.errorsText(validate.errors)}`);
      } else if (res.status === 204 && text !== "") failures.push(`${where}: 204 with a body`);
    }
  }
  console.log(`hostile input: ${operations.length} operations, ${requests} requests, ${failures.length} failures`);
  expect(failures.slice(0, 30)).toEqual([]);
}, 600_000);
