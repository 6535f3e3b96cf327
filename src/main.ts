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
const running = await startServer(app);
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
