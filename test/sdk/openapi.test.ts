/**
 * The OpenAPI document: valid OpenAPI 3.1, every path of the reference present with named request
 * and response schemas, `{"detail"}` error responses, and examples that validate against their
 * own schemas.
 */
import SwaggerParser from "@apidevtools/swagger-parser";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { startTestServer, type TestServer } from "../helpers/server";

type Json = Record<string, unknown>;
interface Operation {
  operationId?: string;
  security?: unknown[];
  requestBody?: { content: Record<string, { schema: Json; example?: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Json; example?: unknown }>; headers?: Json }>;
  parameters?: { in: string; name: string }[];
}
interface Doc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json> };
}

const REFERENCE = resolve(import.meta.dir, "../../../shared/seed/000_6de2732bd8b939f0.md");

/** `### METHOD \`/api/v1/...\`` headings of the reference, as [method, document path]. */
export function referencePaths(): { method: string; path: string; heading: string; body: string | null; response: string }[] {
  const text = readFileSync(REFERENCE, "utf8");
  const out: { method: string; path: string; heading: string; body: string | null; response: string }[] = [];
  const re = /^### (GET|POST|PUT|PATCH|DELETE) `([^`]+)`\s*$/gm;
  const heads = [...text.matchAll(re)];
  heads.forEach((m, i) => {
    const method = m[1] ?? "";
    const raw = (m[2] ?? "").split("?")[0] ?? "";
    const section = text.slice((m.index ?? 0) + m[0].length, heads[i + 1]?.index ?? text.length);
    out.push({
      method: method.toLowerCase(),
      path: raw.replace(/^\/api\/v1/, ""),
      heading: `${method} ${m[2]}`,
      body: /Body:\s*`?(\w+)`?/.exec(section)?.[1] ?? (/Body:/.test(section) ? "inline" : null),
      response: /Response:\s*`?(\d{3})`?/.exec(section)?.[1] ?? "200",
    });
  });
  return out;
}

let server: TestServer;
let doc: Doc;

beforeAll(async () => {
  server = await startTestServer();
  const res = await fetch(`${server.url}/api/v1/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Doc;
});
afterAll(() => server.stop());

const refName = (schema: Json | undefined) => (typeof schema?.$ref === "string" ? schema.$ref.replace("#/components/schemas/", "") : null);

describe("OpenAPI document", () => {
  test("is valid OpenAPI 3.1 (swagger-parser)", async () => {
    expect(doc.openapi).toStartWith("3.1");
    await SwaggerParser.validate(structuredClone(doc) as never);
  });

  test("every reference heading was parsed", () => {
    const paths = referencePaths();
    expect(paths.length).toBe(68);
    expect(paths.map((p) => p.heading)).toContain("POST /api/v1/messages");
  });

  test("errors use ErrorResponse, protected operations declare 401 with WWW-Authenticate", () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (method === "servers") continue;
        const errors = Object.entries(op.responses).filter(([c]) => Number(c) >= 400);
        expect(errors.length, `${method} ${path}`).toBeGreaterThan(0);
        for (const [code, r] of errors) {
          const name = refName(r.content?.["application/json"]?.schema);
          expect(name, `${method} ${path} ${code}`).toBe(path === "/health/ready" && code === "503" ? "HealthNotReady" : "ErrorResponse");
          expect(r.content?.["application/json"]?.example, `${method} ${path} ${code} example`).toBeDefined();
        }
        expect(op.responses["422"], `${method} ${path}`).toBeDefined();
        if (op.security?.length) {
          expect(op.responses["401"]?.headers?.["WWW-Authenticate"], `${method} ${path}`).toBeDefined();
        }
      }
    }
    expect(Object.keys(doc.components.schemas).filter((n) => n.startsWith("error."))).toEqual([]);
  });

  test("operations declare the error statuses they answer (the input audit found these missing)", () => {
    const declared = (method: string, path: string) => Object.keys((doc.paths[path] as Record<string, { responses: Record<string, unknown> }>)[method]?.responses ?? {});
    const expected: [string, string, string[]][] = [
      ["post", "/auth/register", ["409"]],
      ["post", "/auth/login", ["401", "403"]],
      ["post", "/auth/refresh", ["401"]],
      ["post", "/auth/2fa/setup", ["409"]],
      ["post", "/auth/2fa/enable", ["409", "429"]],
      ["post", "/auth/2fa/disable", ["429"]],
      ["put", "/users/profile", ["409"]],
      ["post", "/users/contacts/by-email", ["404"]],
      ["post", "/chats", ["404", "409"]],
      ["post", "/chats/{chat_id}/members", ["409"]],
      ["post", "/chats/join-by-invite", ["404"]],
      ["post", "/messages", ["404", "403", "429", "415"]],
      ["post", "/messages/status", ["404"]],
      ["post", "/media/attachments", ["404", "403"]],
      ["post", "/media/upload-url", ["503"]],
      ["get", "/sync", ["410", "503"]],
    ];
    for (const [method, path, codes] of expected) expect({ op: `${method} ${path}`, codes: declared(method, path) }).toEqual({ op: `${method} ${path}`, codes: expect.arrayContaining(codes) });
    expect(declared("get", "/health")).not.toContain("503");
  });

  test("/health/ready documents its 503 object detail", () => {
    const r = doc.paths["/health/ready"]?.get?.responses["503"];
    expect(refName(r?.content?.["application/json"]?.schema)).toBe("HealthNotReady");
    expect(r?.content?.["application/json"]?.example).toEqual({ detail: { status: "not_ready", db: false, redis: true } });
  });

  test("every example validates against its schema", () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: "doc", components: doc.components }, "doc");
    const check = (schema: Json, example: unknown, where: string) => {
      const resolved = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/')) as Json;
      const validate = ajv.compile(resolved);
      const ok = validate(example);
      expect(ok ? "" : `${where}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(example)}`).toBe("");
    };
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      const examples = Array.isArray(schema.examples) ? schema.examples : schema.example === undefined ? undefined : [schema.example];
      expect(examples, `${name} has examples`).toBeDefined();
      if (examples) for (const e of examples) check({ $ref: `#/components/schemas/${name}` }, e, `component ${name}`);
    }
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (method === "servers") continue;
        const body = op.requestBody?.content["application/json"];
        if (body) {
          expect(body.example, `${method} ${path} body example`).toBeDefined();
          check(body.schema, body.example, `${method} ${path} body`);
        }
        for (const [code, r] of Object.entries(op.responses)) {
          const media = r.content?.["application/json"];
          if (!media) continue;
          expect(media.example, `${method} ${path} ${code} example`).toBeDefined();
          check(media.schema, media.example, `${method} ${path} ${code}`);
        }
      }
    }
  });
});

describe("every path of the reference is in the document", () => {
  for (const ref of referencePaths()) {
    test(ref.heading, () => {
      const item = doc.paths[ref.path];
      expect(item, `missing path ${ref.path}`).toBeDefined();
      const op = item?.[ref.method];
      expect(op, `missing ${ref.method.toUpperCase()} ${ref.path}`).toBeDefined();
      if (!op) return;
      const success = ref.response;
      expect(Object.keys(op.responses), `${ref.heading} success status`).toContain(success);
      const ok = op.responses[success];
      if (success !== "204") {
        const schema = ok?.content?.["application/json"]?.schema;
        expect(schema, `${ref.heading} response schema`).toBeDefined();
        const named = refName(schema) ?? refName((schema?.items as Json | undefined) ?? undefined);
        expect(named, `${ref.heading} response is a named component`).not.toBeNull();
      }
      if (ref.body && ref.body !== "inline") {
        const body = op.requestBody?.content["application/json"]?.schema;
        expect(refName(body), `${ref.heading} body`).toBe(ref.body);
      }
    });
  }
});
