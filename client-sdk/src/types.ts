/** Input and output types of every procedure, and the models the realtime events carry. */
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "./app-router";

export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

type Fallback = Record<string, unknown>;

/** `MessageRead` of the reference (the output of `messages.send`). */
export type MessageRead = RouterOutputs extends { messages: { send: infer M } } ? M : Fallback;
/** `ChatRead` of the reference (the output of `chats.create`). */
export type ChatRead = RouterOutputs extends { chats: { create: infer C } } ? C : Fallback;
/** `NotificationRead` of the reference (an item of `notifications.list`). */
export type NotificationRead = RouterOutputs extends { notifications: { list: ReadonlyArray<infer N> } } ? N : Fallback;
/** One entry of a message's reaction list. */
export type ReactionRead = RouterOutputs extends { messages: { reactions: ReadonlyArray<infer R> } } ? R : Fallback;
/** `TokenResponse` of the reference (the output of `auth.login`). */
export type TokenResponse = RouterOutputs extends { auth: { login: infer T } } ? T : Fallback;
