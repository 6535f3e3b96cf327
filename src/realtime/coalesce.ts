/**
 * Many callers, one statement or broker round trip: calls made while a batch is in flight (or in
 * the same tick as the first) go out together in the next one. Nothing waits on a timer, so a lone
 * call costs what it did alone, and a connect storm costs one round trip per batch instead of one
 * per socket.
 */
export class Coalescer<In, Out> {
  private queue: { input: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[] = [];
  private busy = false;

  /** `load` answers one output per input, in order. */
  constructor(
    private readonly load: (inputs: In[]) => Promise<Out[]>,
    private readonly maxBatch = 1000,
  ) {}

  run(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.busy) {
        this.busy = true;
        queueMicrotask(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const outs = await this.load(batch.map((b) => b.input));
        batch.forEach((b, i) => b.resolve(outs[i] as Out));
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.busy = false;
  }
}
