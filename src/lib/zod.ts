/** Shared zod building blocks: ids, limits, timestamps, MessageResponse. */
import { z } from "zod";

/** The largest user or chat id (PostgreSQL `integer`). */
export const MAX_ID = 2_147_483_647;
/** Database ids: positive 32-bit integers for users and chats. */
export const ZId = z.number().int("must be an integer").min(1, "must be a positive id").max(MAX_ID, "is out of range");
/** Message, attachment and notification ids: positive integers up to 2^53-1. */
export const ZBigId = z.number().int("must be an integer").min(1, "must be a positive id").max(Number.MAX_SAFE_INTEGER, "is out of range");

export const zLimit = (fallback: number, max = 100) =>
  z.number().int("must be an integer").min(1, `must be between 1 and ${max}`).max(max, `must be between 1 and ${max}`).default(fallback);

/** ISO-8601 UTC timestamp ending in Z. */
export const ZTimestamp = z.string().meta({ format: "date-time", example: "2026-03-08T10:00:00Z" });

/**
 * Characters that show nothing: whitespace, format characters (zero-width space and joiners, word
 * joiner, BOM, soft hyphen, ...) and the fillers people use for "invisible" names and messages
 * (Hangul fillers, the blank Braille pattern, the combining grapheme joiner).
 */
const BLANK = /^[\s\p{Cf}\u034F\u115F\u1160\u2800\u3164\uFFA0]*$/u;

/** True when `s` would show as nothing: only whitespace and invisible characters. */
export const isBlankText = (s: string): boolean => BLANK.test(s);

/** A string that shows something (the value keeps its spaces). */
export const zNonBlank = (max: number) =>
  z.string().max(max, `must be at most ${max} characters`).refine((s) => !isBlankText(s), "must not be empty");

/** An avatar link (users and chats): shown to others, so http(s) only, never `javascript:` or a bare word. */
export const ZAvatarUrl = z
  .string()
  .max(2048, "must be at most 2048 characters")
  .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), "must be an http(s) URL");

export const ZMessageResponse = z.object({ message: z.string() }).meta({ id: "MessageResponse" });
export type TMessageResponse = z.infer<typeof ZMessageResponse>;

/** Input of procedures that take nothing; extra fields are ignored, and a tRPC call may leave it out. */
export const ZNoInput = z.object({}).optional();
