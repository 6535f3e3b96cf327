/** The minimal web client at /app (placeholder until issue 9 lands). */
import type { App } from "../app";

export async function handleWebApp(_app: App, _req: Request, _url: URL): Promise<Response | null> {
  return null;
}
