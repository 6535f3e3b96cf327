/**
 * A real S3-protocol server for tests: s3rver (objects on disk, S3's REST API and errors) behind
 * a small front that verifies presigned (query-string SigV4) requests the way S3 does, because
 * s3rver itself accepts any V4 signature. The front recomputes the signature independently of
 * the AWS SDK, so an upload with another Content-Type or length than the one signed, a tampered
 * URL or an expired one is refused with 403 like on S3. Header-signed requests (the SDK's own
 * HEAD calls) are forwarded as they are.
 */
import { createHash, createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";

export const TEST_S3_ACCESS_KEY = "S3RVER";
export const TEST_S3_SECRET_KEY = "S3RVER";

export interface TestS3 {
  /** The verifying front: what S3_ENDPOINT points at. */
  endpoint: string;
  bucket: string;
  /** S3_* variables for startTestServer. */
  env: Record<string, string>;
  /** Presigned requests the front refused, with the reason (for assertions). */
  refusals: string[];
  stop(): Promise<void>;
}

export async function startTestS3(bucket = "parley-test"): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), "parley-s3-"));
  const s3rver = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
  const backend = await s3rver.run();
  const backendBase = `http://127.0.0.1:${backend.port}`;
  const refusals: string[] = [];

  const front = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      if (url.searchParams.has("X-Amz-Signature")) {
        const refusal = checkPresigned(req, url);
        if (refusal) {
          refusals.push(refusal);
          return new Response(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>${refusal}</Message></Error>`, {
            status: 403,
            headers: { "content-type": "application/xml" },
          });
        }
      }
      const headers = new Headers(req.headers);
      headers.delete("host");
      // S3's conditional write (s3rver ignores the header): a PUT with If-None-Match: * onto an
      // existing key is refused with 412.
      if (req.method === "PUT" && req.headers.get("if-none-match") === "*") {
        headers.delete("if-none-match");
        const existing = await fetch(`${backendBase}${url.pathname}`, { method: "HEAD" });
        if (existing.status === 200)
          return new Response(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>`, {
            status: 412,
            headers: { "content-type": "application/xml" },
          });
      }
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
      const res = await fetch(`${backendBase}${url.pathname}${url.search}`, { method: req.method, headers, body, redirect: "manual" });
      return new Response(req.method === "HEAD" ? null : await res.arrayBuffer(), { status: res.status, headers: res.headers });
    },
  });
  const endpoint = `http://127.0.0.1:${front.port}`;
  return {
    endpoint,
    bucket,
    refusals,
    env: {
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_REGION: "us-east-1",
      S3_ACCESS_KEY_ID: TEST_S3_ACCESS_KEY,
      S3_SECRET_ACCESS_KEY: TEST_S3_SECRET_KEY,
      S3_FORCE_PATH_STYLE: "true",
    },
    stop: async () => {
      await front.stop(true);
      await s3rver.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** S3's query-string SigV4 check; answers why a request is refused, or null. */
function checkPresigned(req: Request, url: URL): string | null {
  const q = url.searchParams;
  if (q.get("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256") return "unsupported algorithm";
  const credential = q.get("X-Amz-Credential") ?? "";
  const [accessKey, date, region, service, terminal] = credential.split("/");
  if (accessKey !== TEST_S3_ACCESS_KEY || !date || !region || !service || terminal !== "aws4_request") return "bad credential";
  const amzDate = q.get("X-Amz-Date") ?? "";
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) return "bad X-Amz-Date";
  const signedAt = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  const expiresIn = Number(q.get("X-Amz-Expires"));
  if (!Number.isFinite(expiresIn) || Date.now() > signedAt + expiresIn * 1000) return "Request has expired";

  const signedHeaders = (q.get("X-Amz-SignedHeaders") ?? "").split(";").filter(Boolean);
  const canonicalHeaders = signedHeaders.map((name) => `${name}:${(req.headers.get(name) ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  const canonicalQuery = [...q.entries()]
    .filter(([k]) => k !== "X-Amz-Signature")
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalRequest = [req.method, url.pathname, canonicalQuery, canonicalHeaders, signedHeaders.join(";"), "UNSIGNED-PAYLOAD"].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonicalRequest).digest("hex")].join("\n");
  let key: Buffer = createHmac("sha256", `AWS4${TEST_S3_SECRET_KEY}`).update(date).digest();
  for (const part of [region, service, "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
  const expected = createHmac("sha256", key).update(stringToSign).digest("hex");
  return expected === q.get("X-Amz-Signature") ? null : "The request signature we calculated does not match the signature you provided";
}

const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
