/** GET/PUT /files/... for the local-disk storage driver (placeholder until issue 7 lands). */
import type { App } from "../app";

export async function handleFiles(_app: App, _req: Request, _url: URL): Promise<Response | null> {
  return null;
}
