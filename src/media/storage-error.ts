/** Storage could not answer (unreachable, timed out, refused our credentials): a 503, never a 422. */
export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StorageUnavailableError";
  }
}
