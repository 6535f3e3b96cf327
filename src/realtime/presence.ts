/**
 * Presence: which users have an open realtime connection on any instance.
 * (Placeholder until the realtime issue lands: nobody is online.)
 */
import type { App } from "../app";

export async function onlineUserIds(_app: App, _userIds: number[]): Promise<Set<number>> {
  return new Set();
}
