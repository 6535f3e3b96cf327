/**
 * @parley/client: the typed tRPC client of the Parley API and its realtime stream.
 *
 *   const refresh = sharedRefresh(async () => ...);   // one refresh for both clients
 *   const api = createParleyClient({ url, token: () => tokens.access, refresh });
 *   const chats = await api.chats.list.query({ limit: 20 });
 *   const rt = connectRealtime({ url, token: () => tokens.access, refresh });
 *   rt.on("message_created", ({ message }) => show(message));
 */
export { createParleyClient, isUnauthorized, type ParleyClient, type ParleyClientOptions, type TokenSource } from "./client";
export {
  CLOSE_NO_TOKEN,
  CLOSE_SESSION_REVOKED,
  connectRealtime,
  sharedRefresh,
  type ClientFrame,
  type ConnectionEventMap,
  type Listener,
  type ListenerMap,
  type MessageRef,
  type RealtimeConnection,
  type RealtimeEventMap,
  type RealtimeEventType,
  type RealtimeOptions,
  type SharedChatFields,
  type UnreadCounters,
  type WebSocketLike,
} from "./realtime";
export type { ChatRead, MessageRead, NotificationRead, ReactionRead, RouterInputs, RouterOutputs, TokenResponse } from "./types";
export type { AppRouter } from "./app-router";
export { TRPCClientError } from "@trpc/client";
