/**
 * The server's router type, seen from the SDK source. In the published package this file is
 * replaced by a generated declaration (scripts/build.ts) that spells every procedure's input and
 * output out structurally, so a consumer needs neither our source nor our server dependencies.
 */
export type { AppRouter } from "../../src/routers/_app";
