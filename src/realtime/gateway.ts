/**
 * WebSocket gateway (CONTRACT §8). Placeholder until the realtime issue lands: the upgrade route
 * answers 404 and no socket is accepted.
 */
import type { Server, WebSocketHandler } from "bun";
import type { App } from "../app";

export interface SocketData {
  userId: number;
  sessionId: string;
}

export interface Gateway {
  /** Handles GET /ws: upgrades (answers undefined) or answers an HTTP error. */
  upgrade(req: Request, url: URL, server: Server<SocketData>): Promise<Response | undefined>;
  websocket: WebSocketHandler<SocketData>;
  /** Called once the server listens, to start tailers and timers. */
  start(server: Server<SocketData>): Promise<void>;
}

export function createGateway(_app: App): Gateway {
  return {
    upgrade: async () => new Response(JSON.stringify({ detail: "Not found" }), { status: 404, headers: { "content-type": "application/json" } }),
    websocket: { message() {} },
    start: async () => {},
  };
}
