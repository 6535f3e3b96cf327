/**
 * The Socket.IO 4 peer, run under Node (bundled by bench/scenarios/fanout.ts): clients join the
 * room named in their `room` query; POST /publish?room= emits the request body as event "m" to the
 * room. `node socketio.mjs <port>`.
 */
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 0);
const http = createServer((req, res) => {
  if (req.method === "POST" && req.url?.startsWith("/publish")) {
    const room = new URL(req.url, "http://x").searchParams.get("room") ?? "all";
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      io.to(room).emit("m", Buffer.concat(chunks).toString("utf8"));
      res.writeHead(204).end();
    });
    return;
  }
  if (req.url === "/") {
    res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    return;
  }
  // engine.io handles /socket.io/ itself
});
const io = new Server(http, { transports: ["websocket"], serveClient: false, perMessageDeflate: false });
io.on("connection", (socket) => {
  const room = socket.handshake.query.room;
  void socket.join(typeof room === "string" ? room : "all");
});
http.listen(port, "127.0.0.1");
process.on("SIGTERM", () => {
  void io.close();
  http.close();
  process.exit(0);
});
