/**
 * argon2id through Bun.password with deliberate parameters (OWASP floor: 19 MiB, t=2), not Bun's
 * 64 MiB default: 50 parallel logins must not cost 3 GB (PITFALLS). Hashing runs at most
 * `MAX_PARALLEL_HASHES` at once; the rest wait their turn.
 */
const OPTIONS = { algorithm: "argon2id", memoryCost: 19456, timeCost: 2 } as const;
const MAX_PARALLEL_HASHES = 4;

let running = 0;
const waiting: (() => void)[] = [];

async function bounded<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_PARALLEL_HASHES) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export const hashPassword = (password: string) => bounded(() => Bun.password.hash(password, OPTIONS));

export const verifyPassword = (password: string, hash: string) => bounded(() => Bun.password.verify(password, hash));

/** A real hash of a random password: verifying against it costs what a real account costs. */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(crypto.randomUUID());
  return dummyHash;
}
