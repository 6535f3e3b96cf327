/** `bun run db:migrate`: applies ./drizzle to DATABASE_URL (or the embedded PGlite in DATA_DIR). */
import { ConfigError, loadConfig } from "../env";
import { openDatabase, pgliteDirFor } from "./client";
import { databaseStartupError } from "./startup-error";

let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}

try {
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: pgliteDirFor(config.DATA_DIR) });
  try {
    await database.migrate();
  } finally {
    await database.close();
  }
  console.log(`migrations applied (${database.kind})`);
} catch (err) {
  // Unreachable database, missing database, DATA_DIR in use: one line (CONTRACT §1).
  const line = databaseStartupError(err, config);
  if (line === null) throw err;
  console.error(line.replace(/^start-up error: /, "migration error: "));
  process.exit(1);
}
