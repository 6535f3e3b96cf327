/**
 * The floor for HTTP and sockets: a plain Bun.serve answering a small JSON body, upgrading /ws
 * (subscribing every socket to one topic) and publishing raw bytes to that topic on
 * POST /publish (the body is sent as is). Run as its own process: `bun bench/peers/hello.ts <port>`.
 */
const port = Number(process.argv[2] ?? 0);
const HELLO = JSON.stringify({ status: "ok" });

const server = Bun.serve<{ topic: string }>({
  hostname: "127.0.0.1",
  port,
  async fetch(req, srv) {
    const url = new URL(req.url);
    if (url.pathname === "/ws") {
      if (srv.upgrade(req, { data: { topic: url.searchParams.get("topic") ?? "all" } })) return undefined;
      return new Response("upgrade failed", { status: 400 });
    }
    if (url.pathname === "/publish" && req.method === "POST") {
      const body = await req.text();
      srv.publish(url.searchParams.get("topic") ?? "all", body);
      return new Response(null, { status: 204 });
    }
    return new Response(HELLO, { headers: { "content-type": "application/json" } });
  },
  websocket: {
    open(ws) {
      ws.subscribe(ws.data.topic);
    },
    message() {},
  },
});
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
