/**
 * Preloaded (`bun --preload bench/lib/gc-signal.ts …`) into the server processes whose memory the
 * connections scenario reads: SIGUSR2 runs a full garbage collection, so RSS is read with the
 * garbage of the connect storm collected, in Parley and in the raw floor alike. Nothing else changes.
 */
process.on("SIGUSR2", () => {
  Bun.gc(true);
});
