/** `bun run db:migrate`: applies ./drizzle to DATABASE_URL (or the embedded PGlite in DATA_DIR). */
import { ConfigError, loadConfig } from "../env";
import { openDatabase, pgliteDirFor } from "./client";

try {
  const config = loadConfig();
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: pgliteDirFor(config.DATA_DIR) });
  await database.migrate();
  await database.close();
  console.log(`migrations applied (${database.kind})`);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
