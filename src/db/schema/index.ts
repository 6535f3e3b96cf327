export * from "./users";
export * from "./auth";
export * from "./chats";
export * from "./messages";
export * from "./media";
export * from "./notifications";
export * from "./events";
