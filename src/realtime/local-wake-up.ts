/**
 * A commit wakes this instance's own tailer directly, not only through the broker: the Redis round
 * trip (publish, then the subscriber connection's answer) sat on the path of every live delivery
 * from the instance that committed. The broker message still goes out for the other instances; it
 * comes back here too, and the tailer ignores a position it has already been woken for.
 *
 * Listeners run in a microtask, like the memory broker's, so a committing request never runs
 * tailer code inside its own call.
 */
export class LocalWakeUps {
  private readonly listeners = new Set<(message: string) => void>();

  /** Answers the function that stops listening. */
  listen(listener: (message: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** `message`: the wake-up as published on the events channel (wake-up.ts). */
  emit(message: string): void {
    if (this.listeners.size === 0) return;
    queueMicrotask(() => {
      for (const listener of this.listeners) listener(message);
    });
  }
}
