/** Structured one-line JSON logs. Never pass tokens, passwords or secrets in `fields`. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(level: LogLevel, sink: (line: string) => void = (l) => console.log(l)): Logger {
  const min = ORDER[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    sink(JSON.stringify({ t: new Date().toISOString(), level: lvl, msg, ...fields }));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** Message and first stack line of an unknown error, for logs only (never for clients). */
export function describeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { error: String(err) };
  const out: Record<string, unknown> = { error: err.message, error_name: err.name, stack: err.stack?.split("\n").slice(0, 4).join(" | ") };
  // drizzle's "Failed query" wraps the driver's error: its message and SQLSTATE say what happened.
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    out.cause = cause.message;
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string") out.cause_code = code;
  }
  return out;
}
