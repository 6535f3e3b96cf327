/** Entry point of `bun run dev` / `bun run start`. */
import { createApp } from "./app";
import { ConfigError, loadConfig } from "./env";
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

const app = await createApp(config);
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
app.log.info("listening", {
  url: running.url,
  database: app.database.kind,
  broker: app.broker.kind,
  storage: app.storage.kind,
  mailer: app.mailer.kind,
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  app.log.info("shutting down", { signal });
  await running.stop();
  await app.close();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
