import { SESSIONS_REVOKED_CHANNEL } from "../../src/auth/revocation";
import type { TestServer } from "./server";

/** Subscribes now; resolves to the session ids of the next `sessions:revoked` message on `server`. */
export async function nextRevocationOn(server: TestServer): Promise<{ ids: Promise<string[]> }> {
  let deliver: (ids: string[]) => void = () => {};
  const ids = new Promise<string[]>((resolve) => (deliver = resolve));
  const off = await server.app.broker.subscribe(SESSIONS_REVOKED_CHANNEL, (message) => deliver((JSON.parse(message) as { session_ids: string[] }).session_ids));
  return { ids: ids.finally(off) };
}
