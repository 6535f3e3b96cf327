/** Entry point of `bun run dev` / `bun run start`. */
import { createApp, type App } from "./app";
import { databaseStartupError } from "./db/startup-error";
import { ConfigError, loadConfig, type Config } from "./env";
import { startServer } from "./server";

let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`configuration error: ${err.message}`);
    process.exit(1);
  }
  throw err;
}

/**
 * The app, or exit 1 with one line when its database cannot be used: DATA_DIR held by another
 * process (embedded), DATABASE_URL unreachable, refusing the login, or naming no database.
 */
async function openApp(cfg: Config): Promise<App> {
  let opened: App | undefined;
  try {
    opened = await createApp(cfg);
    // Production does not migrate on start, so nothing has touched the database yet: a database
    // that cannot be reached stops start-up here rather than leaving a server that answers 503.
    await opened.database.connect();
    return opened;
  } catch (err) {
    const line = databaseStartupError(err, cfg);
    if (line === null) throw err;
    console.error(line);
    await opened?.close().catch(() => {});
    process.exit(1);
  }
}

const app = await openApp(config);
let running: Awaited<ReturnType<typeof startServer>>;
try {
  running = await startServer(app);
} catch (err) {
  // Port taken, or a host name that does not resolve here: one line, like a configuration error.
  const code = (err as { code?: string }).code;
  console.error(`start-up error: cannot listen on ${config.HOST}:${config.PORT} (HOST, PORT): ${code ?? (err as Error).message}`);
  await app.close().catch(() => {});
  process.exit(1);
}

let stopping = false;
/**
 * Stops accepting connections, lets the requests in flight answer (up to SHUTDOWN_GRACE_MS, then
 * they are cut), closes the WebSockets (1001), then the database and the broker.
 */
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  app.log.info("shutting down", { signal });
  await running.stop();
  await app.close();
  process.exit(0);
}
// Before the "listening" line: whoever waits for it may signal at once.
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

app.log.info("listening", {
  url: running.url,
  database: app.database.kind,
  broker: app.broker.kind,
  storage: app.storage.kind,
  mailer: app.mailer.kind,
});
