/**
 * @parley/client: the typed tRPC client of the Parley API and its realtime stream.
 *
 *   const api = createParleyClient({ url, token: () => tokens.access, refresh });
 *   const chats = await api.chats.list.query({ limit: 20 });
 *   const rt = connectRealtime({ url, token: () => tokens.access });
 *   rt.on("message_created", ({ message }) => show(message));
 */
export { createParleyClient, isUnauthorized, type ParleyClient, type ParleyClientOptions, type TokenSource } from "./client";
export {
  connectRealtime,
  type ClientFrame,
  type ConnectionEventMap,
  type Listener,
  type ListenerMap,
  type MessageRef,
  type RealtimeConnection,
  type RealtimeEventMap,
  type RealtimeEventType,
  type RealtimeOptions,
  type WebSocketLike,
} from "./realtime";
export type { ChatRead, MessageRead, NotificationRead, ReactionRead, RouterInputs, RouterOutputs, TokenResponse } from "./types";
export type { AppRouter } from "./app-router";
export { TRPCClientError } from "@trpc/client";
