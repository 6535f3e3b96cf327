/**
 * The minimal web client at /app: one HTML page and one script, src/web/client/main.ts bundled with
 * Bun.build (it uses @parley/client from client-sdk/src) on first request and kept in memory.
 */
import { join } from "node:path";
import type { App } from "../app";
import { errorResponse } from "../http/respond";

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; display: flex; height: 100vh; color: #222; }
  #login { margin: 4rem auto; display: flex; flex-direction: column; gap: .5rem; width: 18rem; }
  #main { display: none; flex: 1; }
  #sidebar { width: 16rem; border-right: 1px solid #ddd; overflow-y: auto; padding: .5rem; }
  #chats { list-style: none; padding: 0; margin: .5rem 0; }
  #chats li { padding: .4rem; cursor: pointer; border-radius: 4px; }
  #chats li.selected { background: #e8f0fe; }
  #chats .unread { float: right; background: #1a73e8; color: #fff; border-radius: 9px; padding: 0 .4rem; font-size: 12px; }
  #conversation { flex: 1; display: flex; flex-direction: column; }
  #messages { flex: 1; overflow-y: auto; padding: 1rem; list-style: none; margin: 0; }
  .message { margin: .3rem 0; max-width: 70%; padding: .4rem .6rem; border-radius: 8px; background: #f1f3f4; }
  .message.own { margin-left: auto; background: #d2e3fc; }
  .message .status { font-size: 11px; color: #555; margin-left: .5rem; }
  #compose { display: flex; gap: .5rem; padding: .5rem; border-top: 1px solid #ddd; }
  #compose-text { flex: 1; }
  #error { color: #b00020; min-height: 1.2em; }
</style></head>
<body>
<form id="login">
  <h1>Parley</h1>
  <input id="login-email" type="email" placeholder="Email" autocomplete="username" required>
  <input id="login-password" type="password" placeholder="Password" autocomplete="current-password" required>
  <button id="login-submit" type="submit">Log in</button>
  <div id="login-error" role="alert"></div>
</form>
<div id="main">
  <aside id="sidebar">
    <div id="me"></div>
    <form id="new-chat"><input id="new-chat-username" placeholder="Start chat with @username"><button type="submit">Go</button></form>
    <ul id="chats"></ul>
    <div id="connection"></div>
  </aside>
  <section id="conversation">
    <h2 id="chat-title">Select a chat</h2>
    <ul id="messages"></ul>
    <form id="compose"><input id="compose-text" placeholder="Message" autocomplete="off" disabled><button id="compose-send" type="submit" disabled>Send</button></form>
    <div id="error" role="alert"></div>
  </section>
</div>
<script type="module" src="/app/main.js"></script>
</body></html>`;

let bundle: Promise<string> | undefined;

async function buildClient(): Promise<string> {
  const result = await Bun.build({
    entrypoints: [join(import.meta.dir, "client", "main.ts")],
    target: "browser",
    format: "esm",
    minify: true,
  });
  const [out] = result.outputs;
  if (!result.success || !out) throw new Error(`web client build failed: ${result.logs.map(String).join("\n")}`);
  return out.text();
}

export async function handleWebApp(app: App, req: Request, url: URL): Promise<Response | null> {
  if (req.method !== "GET" && req.method !== "HEAD") return errorResponse(405, "Method not allowed", { allow: "GET" });
  if (url.pathname === "/app" || url.pathname === "/app/") {
    return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } });
  }
  if (url.pathname === "/app/main.js") {
    bundle ??= buildClient();
    try {
      return new Response(await bundle, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" } });
    } catch (err) {
      bundle = undefined;
      app.log.error("web client build failed", { error: err instanceof Error ? err.message : String(err) });
      return errorResponse(500, "Internal server error");
    }
  }
  return null;
}
