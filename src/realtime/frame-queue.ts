/**
 * One socket's client frames that need the database or the broker (typing, status marks), run one
 * at a time. Without it every frame started its own work at once: one socket sending 20,000
 * `message_read` frames in 60 ms held every pooled connection (each frame a transaction locking
 * the same membership row) and other users' requests waited up to 14 s.
 *
 * Frames of the same key wait as one (a status mark keeps the furthest message id: marks only move
 * forward; a repeated typing frame is the same frame), so a client that marks every message it
 * scrolls past costs one transaction per chat and turn. Past `limit` distinct waiting keys a frame
 * is refused: the socket gets an error frame, the others are unaffected.
 */

export interface QueuedFrame {
  /** Frames with the same key are merged while they wait. */
  key: string;
}

export class ClientFrameQueue<F extends QueuedFrame> {
  private readonly waiting = new Map<string, F>();
  private running = false;

  /**
   * `run` answers its own failures; `merge` is what waits when a frame of a key already waiting
   * comes (the newer frame unless said otherwise).
   */
  constructor(
    private readonly run: (frame: F) => Promise<void>,
    private readonly limit: number,
    private readonly merge: (waiting: F, incoming: F) => F = (_, incoming) => incoming,
  ) {}

  /** Queues `frame`; false when `limit` distinct frames already wait (refused). */
  push(frame: F): boolean {
    const queued = this.waiting.get(frame.key);
    if (queued) {
      this.waiting.set(frame.key, this.merge(queued, frame));
      return true;
    }
    if (this.waiting.size >= this.limit) return false;
    this.waiting.set(frame.key, frame);
    if (!this.running) void this.drain();
    return true;
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      // `run` answers its own failures (an error frame); one frame's failure stops no other.
      for (let next = this.takeFirst(); next; next = this.takeFirst()) await this.run(next).catch(() => {});
    } finally {
      this.running = false;
    }
  }

  private takeFirst(): F | undefined {
    for (const [key, frame] of this.waiting) {
      this.waiting.delete(key);
      return frame;
    }
    return undefined;
  }
}
