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
 * tRPC's own input and output validators (the layers `.input()` and `.output()` add) are replaced
 * by the same steps with native spreads: the output one copied every answer twice with
 * `_objectSpread2`, about 4 % of the server's CPU for `auth.me`. Each keeps tRPC's parse function
 * (`getParseFn`), error codes and messages, and its place in the chain.
 *
 * Invariant: only for procedures without an `experimental_caller` (none here); those are called
 * as they are.
 */
import { TRPCError } from "@trpc/server";
import { getParseFn, getTRPCErrorFromUnknown, isObject, middlewareMarker } from "@trpc/server/unstable-core-do-not-import";

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
  _def: { middlewares?: unknown[]; meta?: unknown; experimental_caller?: boolean; inputs?: unknown[]; output?: unknown };
}

interface NextOptions {
  ctx?: Record<string, unknown>;
  input?: unknown;
  getRawInput?: () => Promise<unknown>;
}

export async function callProcedure(proc: DirectlyCallable, opts: CallOptions): Promise<unknown> {
  const def = proc._def;
  if (def.experimental_caller || !Array.isArray(def.middlewares)) return proc(opts);
  const result = await callLayer(layersOf(def), def.meta, 0, opts as unknown as Record<string, unknown>);
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

type Parse = (value: unknown) => unknown;
type TaggedLayer = Layer & { _type?: string };

const nativeLayers = new WeakMap<object, Layer[]>();

/** The procedure's layers with tRPC's validators swapped for native ones (built once per procedure). */
function layersOf(def: DirectlyCallable["_def"]): Layer[] {
  let layers = nativeLayers.get(def);
  if (layers) return layers;
  const original = def.middlewares as TaggedLayer[];
  const inputs = def.inputs ?? [];
  const inputLayers = original.filter((m) => m._type === "input").length;
  // Each `.input()` adds one parser and one layer, in the same order; anything else is left as it is.
  const swappable = inputLayers === inputs.length && (def.output !== undefined || !original.some((m) => m._type === "output"));
  let nextInput = 0;
  layers = swappable
    ? original.map((m) => {
        if (m._type === "input") return inputLayer(getParseFn(inputs[nextInput++] as never) as Parse);
        if (m._type === "output") return outputLayer(getParseFn(def.output as never) as Parse);
        return m;
      })
    : original;
  nativeLayers.set(def, layers);
  return layers;
}

/** tRPC's `inputValidatorMiddleware`: parse the raw input, merge it over an earlier layer's object input. */
function inputLayer(parse: Parse): Layer {
  return async (opts) => {
    const rawInput = await (opts.getRawInput as () => Promise<unknown>)();
    let parsed: unknown;
    try {
      parsed = await parse(rawInput);
    } catch (cause) {
      throw new TRPCError({ code: "BAD_REQUEST", cause: cause as Error });
    }
    const input = isObject(opts.input) && isObject(parsed) ? { ...opts.input, ...parsed } : parsed;
    return (opts.next as (o: NextOptions) => Promise<LayerResult>)({ input });
  };
}

/** tRPC's `outputValidatorMiddleware`: the answer's data parsed by the output schema. */
function outputLayer(parse: Parse): Layer {
  return async (opts) => {
    const result = await (opts.next as () => Promise<LayerResult>)();
    if (!result.ok) return result;
    try {
      const data = await parse(result.data);
      return { ...result, data };
    } catch (cause) {
      throw new TRPCError({ message: "Output validation failed", code: "INTERNAL_SERVER_ERROR", cause: cause as Error });
    }
  };
}
