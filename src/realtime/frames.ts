/**
 * The wire format of CONTRACT §8. Server frames: `{"type", "seq", "data"}` for durable events,
 * `{"type", "data"}` for ephemeral ones. Client frames are validated here; a malformed one gets an
 * `error` frame and the connection stays open.
 */
import { z } from "zod";
import { ZBigId, ZId } from "../lib/zod";
import { formatZodError } from "../lib/zod-errors";
import type { EphemeralEventType, EventData, LoggedEvent } from "./event-types";

export interface WireEvent {
  type: string;
  seq: number;
  data: EventData;
}

export function wireEvent(e: LoggedEvent, data: EventData = e.data): WireEvent {
  return { type: e.type, seq: e.seq, data };
}

export const encodeEvent = (e: LoggedEvent, data: EventData = e.data): string => JSON.stringify(wireEvent(e, data));

export const encodeEphemeral = (type: EphemeralEventType, data: EventData = {}): string => JSON.stringify({ type, data });

export const errorFrame = (detail: string): string => encodeEphemeral("error", { detail });

// The same bounds as REST's ids: a chat id past int4 reached PostgreSQL and failed there.
export const ZClientFrame = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ping") }),
  z.object({ type: z.literal("typing"), chat_id: ZId }),
  z.object({ type: z.literal("message_delivered"), chat_id: ZId, message_id: ZBigId }),
  z.object({ type: z.literal("message_read"), chat_id: ZId, message_id: ZBigId }),
]);
export type TClientFrame = z.infer<typeof ZClientFrame>;

/** The frame, or the detail of the error frame to answer. */
export function parseClientFrame(raw: string | Uint8Array | ArrayBuffer): { frame: TClientFrame } | { error: string } {
  if (typeof raw !== "string") return { error: "Frames must be JSON text" };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { error: "Malformed JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { error: "A frame is a JSON object with a type" };
  const parsed = ZClientFrame.safeParse(value);
  if (!parsed.success) return { error: formatZodError(parsed.error) };
  return { frame: parsed.data };
}

/** Distinct client frames one socket may have waiting (realtime/frame-queue.ts); more are refused. */
export const CLIENT_FRAMES_WAITING = 64;

/** A client frame that needs the database or the broker (all but ping), keyed for the frame queue. */
export interface QueuedClientFrame {
  key: string;
  frame: Exclude<TClientFrame, { type: "ping" }>;
}

export const queuedFrame = (frame: QueuedClientFrame["frame"]): QueuedClientFrame => ({ key: `${frame.type}:${frame.chat_id}`, frame });

/** Of two status marks of one chat waiting, the furthest (marks only move forward); typing: the newer. */
export function mergeQueuedFrames(waiting: QueuedClientFrame, incoming: QueuedClientFrame): QueuedClientFrame {
  const [a, b] = [waiting.frame, incoming.frame];
  return a.type !== "typing" && b.type !== "typing" && a.message_id > b.message_id ? waiting : incoming;
}
