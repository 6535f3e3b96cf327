/**
 * Calls a procedure the way tRPC 11's own `procedure(opts)` does, for the two paths that call
 * procedures directly (the /trpc short path and the REST bridge).
 *
 * Why not `procedure(opts)` itself: its middleware chain copies the call options twice per layer
 * with a down-compiled object spread (`_objectSpread2`: getOwnPropertyDescriptors +
 * defineProperties), about a tenth of the server's CPU for `auth.me`. This is the same chain with
 * native spreads: the same middlewares in the same order, each given the same options (key order
 * included), `next()` merging ctx and input as tRPC does, a throw inside a layer becoming that
 * layer's `{ ok: false }` result, and the caller's error for a chain that answered nothing.
 * test/foundation/call-procedure.test.ts runs both over the same procedures and compares.
 *
 * Invariant: only for procedures without an `experimental_caller` (none here); those are called
 * as they are.
 */
import { TRPCError } from "@trpc/server";
import { getTRPCErrorFromUnknown, middlewareMarker } from "@trpc/server/unstable-core-do-not-import";

export interface CallOptions {
  path: string;
  getRawInput: () => Promise<unknown>;
  ctx: unknown;
  type: string;
  signal: AbortSignal | undefined;
  batchIndex: number;
}

type Layer = (opts: Record<string, unknown>) => Promise<LayerResult>;
type LayerResult = { ok: true; data: unknown } | { ok: false; error: TRPCError };

export interface DirectlyCallable {
  (opts: CallOptions): Promise<unknown>;
  _def: { middlewares?: unknown[]; meta?: unknown; experimental_caller?: boolean };
}

interface NextOptions {
  ctx?: Record<string, unknown>;
  input?: unknown;
  getRawInput?: () => Promise<unknown>;
}

export async function callProcedure(proc: DirectlyCallable, opts: CallOptions): Promise<unknown> {
  const def = proc._def;
  if (def.experimental_caller || !Array.isArray(def.middlewares)) return proc(opts);
  const result = await callLayer(def.middlewares as Layer[], def.meta, 0, opts as unknown as Record<string, unknown>);
  if (!result) throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "No result from middlewares - did you forget to `return next()`?" });
  if (!result.ok) throw result.error;
  return result.data;
}

async function callLayer(layers: Layer[], meta: unknown, index: number, opts: Record<string, unknown>): Promise<LayerResult | undefined> {
  try {
    // Past the last layer (a resolver calling next()) this throws, as tRPC's chain does.
    const layer = layers[index] as Layer;
    return await layer({
      ...opts,
      meta,
      input: opts.input,
      next(nextOpts?: NextOptions) {
        return callLayer(layers, meta, index + 1, {
          ...opts,
          ctx: nextOpts?.ctx ? { ...(opts.ctx as Record<string, unknown>), ...nextOpts.ctx } : opts.ctx,
          input: nextOpts && "input" in nextOpts ? nextOpts.input : opts.input,
          getRawInput: nextOpts?.getRawInput ?? opts.getRawInput,
        });
      },
    });
  } catch (cause) {
    return { ok: false, error: getTRPCErrorFromUnknown(cause), marker: middlewareMarker } as LayerResult;
  }
}
