/**
 * src/http/call-procedure.ts runs a procedure's middleware chain itself (native spreads instead of
 * tRPC's down-compiled ones). Whatever a chain does — override ctx or input, swap getRawInput,
 * throw, fail validation, forget to return next() — the answer or the error must be the one
 * tRPC's own `procedure(opts)` gives, and each layer must see the same options.
 */
import { describe, expect, test } from "bun:test";
import { initTRPC, TRPCError } from "@trpc/server";
import { z } from "zod";
import { callProcedure, type CallOptions, type DirectlyCallable } from "../../src/http/call-procedure";
import { authedProcedure, publicProcedure, router } from "../../src/trpc";
import type { Context } from "../../src/context";

const t = initTRPC.context<{ user: { id: number } | null; tag: string }>().meta<{ label: string }>().create();
const seen: unknown[] = [];
const record = t.middleware((opts) => {
  const { next, getRawInput, ...rest } = opts;
  seen.push({ keys: Object.keys(opts), rest, getRawInputIsFn: typeof getRawInput === "function" });
  return next();
});
const withUser = t.middleware(({ ctx, next }) => next({ ctx: { user: { id: 7 }, extra: "x" } }));
const swapInput = t.middleware(({ next }) => next({ input: { replaced: true } }));
const swapRawInput = t.middleware(({ next }) => next({ getRawInput: async () => ({ raw: "swapped" }) }));
const readRawInput = t.middleware(async ({ next, getRawInput }) => next({ ctx: { raw: await getRawInput() } }));
const forgetful = t.middleware(async () => undefined as never);
const throwing = t.middleware(() => {
  throw new Error("layer blew up");
});

const r = t.router({
  ok: t.procedure
    .meta({ label: "ok" })
    .use(record)
    .use(withUser)
    .use(record)
    .input(z.object({ n: z.number() }))
    .input(z.object({ m: z.number().optional() }))
    .output(z.object({ sum: z.number(), user: z.number(), extra: z.string() }))
    .query(({ ctx, input }) => ({ sum: input.n + (input.m ?? 0), user: ctx.user?.id ?? -1, extra: (ctx as { extra?: string }).extra ?? "" })),
  swapped: t.procedure
    .use(swapInput)
    .use(swapRawInput)
    .use(record)
    .use(readRawInput)
    .query(({ ctx, input }) => ({ input, raw: ctx.raw })),
  badInput: t.procedure.input(z.object({ n: z.number() })).query(({ input }) => input.n),
  badOutput: t.procedure.output(z.object({ n: z.number() })).query(() => ({ n: "not a number" }) as never),
  // Output parsing answers the parsed value (unknown keys stripped), not the resolver's object.
  strips: t.procedure.output(z.object({ kept: z.number() })).query(() => ({ kept: 1, dropped: "x" }) as never),
  // An async refinement makes zod's synchronous parse throw: tRPC's parser then parses async.
  asyncInput: t.procedure
    .input(z.object({ n: z.number() }).refine(async (v) => v.n > 0, "must be positive"))
    .query(({ input }) => input.n),
  forgets: t.procedure.use(forgetful).query(() => 1),
  throws: t.procedure.use(throwing).query(() => 1),
  resolverThrows: t.procedure.query(() => {
    throw new TRPCError({ code: "FORBIDDEN", message: "nope" });
  }),
  nextPastEnd: t.procedure.query(() => 1),
});

const procedures = r._def.procedures as unknown as Record<string, DirectlyCallable>;
const options = (path: string, input: unknown): CallOptions => ({
  path,
  getRawInput: async () => input,
  ctx: { user: null, tag: "t" },
  type: "query",
  signal: undefined,
  batchIndex: 0,
});

async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return { data: await run() };
  } catch (err) {
    if (!(err instanceof TRPCError)) return { thrown: String(err) };
    return { code: err.code, message: err.message, cause: err.cause?.constructor.name, causeMessage: err.cause?.message };
  }
}

async function both(path: string, input: unknown): Promise<{ ours: unknown; theirs: unknown; seenOurs: unknown[]; seenTheirs: unknown[] }> {
  const proc = procedures[path];
  if (!proc) throw new Error(`no procedure ${path}`);
  seen.length = 0;
  const theirs = await outcome(() => proc(options(path, input)));
  const seenTheirs = seen.splice(0);
  const ours = await outcome(() => callProcedure(proc, options(path, input)));
  const seenOurs = seen.splice(0);
  return { ours, theirs, seenOurs, seenTheirs };
}

describe("callProcedure answers what tRPC's procedure call answers", () => {
  const cases: [string, unknown][] = [
    ["ok", { n: 1, m: 2 }],
    ["ok", { n: 1 }],
    ["ok", { n: "x" }],
    ["ok", undefined],
    ["swapped", { original: 1 }],
    ["badInput", { n: "x" }],
    ["badOutput", undefined],
    ["strips", undefined],
    ["asyncInput", { n: 2 }],
    ["asyncInput", { n: -2 }],
    ["forgets", undefined],
    ["throws", undefined],
    ["resolverThrows", undefined],
    ["nextPastEnd", undefined],
  ];
  for (const [path, input] of cases) {
    test(`${path} ${JSON.stringify(input)}`, async () => {
      const { ours, theirs, seenOurs, seenTheirs } = await both(path, input);
      expect(ours).toEqual(theirs);
      expect(seenOurs).toEqual(seenTheirs);
    });
  }

  test("next() can replace the input and the raw input, as in tRPC", async () => {
    const { ours } = await both("swapped", { original: 1 });
    expect(ours).toEqual({ data: { input: { replaced: true }, raw: { raw: "swapped" } } });
  });

  test("the output schema's parse decides the data", async () => {
    const { ours } = await both("strips", undefined);
    expect(ours).toEqual({ data: { kept: 1 } });
  });

  test("every layer saw the merged ctx, meta and input, keys in tRPC's order", async () => {
    const { seenOurs } = await both("ok", { n: 1 });
    expect(seenOurs).toHaveLength(2);
    expect(seenOurs[1]).toMatchObject({ rest: { ctx: { user: { id: 7 }, tag: "t", extra: "x" }, meta: { label: "ok" } } });
  });
});

describe("the app's own layers through callProcedure", () => {
  const app = router({
    open: publicProcedure.input(z.object({ s: z.string() })).query(({ input }) => input.s),
    closed: authedProcedure.query(({ ctx }) => ctx.user.id),
  });
  const appProcs = app._def.procedures as unknown as Record<string, DirectlyCallable>;
  const ctx = (user: Context["user"]) => ({ app: { log: { warn() {}, error() {} } }, user, badToken: false, clientIp: () => "127.0.0.1", userAgent: null, requestId: "r" });
  const call = (path: string, input: unknown, user: Context["user"]) => {
    const proc = appProcs[path];
    if (!proc) throw new Error(`no procedure ${path}`);
    const opts = { path, getRawInput: async () => input, ctx: ctx(user), type: "query", signal: undefined, batchIndex: 0 };
    return Promise.all([outcome(() => proc(opts)), outcome(() => callProcedure(proc, opts))]);
  };

  test("anonymous on an authed procedure: the same 401", async () => {
    const [theirs, ours] = await call("closed", undefined, null);
    expect(ours).toEqual(theirs);
    expect(ours).toMatchObject({ code: "UNAUTHORIZED" });
  });
  test("authed caller: the same answer", async () => {
    const [theirs, ours] = await call("closed", undefined, { id: 3, sessionId: "s" });
    expect(ours).toEqual(theirs);
    expect(ours).toEqual({ data: 3 });
  });
  test("unstorable input and failed validation: the same 422", async () => {
    for (const input of [{ s: "a\u0000b" }, { s: 5 }]) {
      const [theirs, ours] = await call("open", input, null);
      expect(ours).toEqual(theirs);
      expect(ours).toMatchObject({ code: "UNPROCESSABLE_CONTENT" });
    }
  });
});
