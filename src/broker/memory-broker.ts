import { PRESENCE_ANNOUNCED_SECONDS, PRESENCE_GATE_SECONDS, presenceKeys, type Broker, type PresenceOutcome, type PresenceStep } from "./broker";

/** In-process broker for one instance (`bun run dev`, PGlite tests). */
export class MemoryBroker implements Broker {
  readonly kind = "memory" as const;
  private values = new Map<string, { value: string; expiresAt: number }>();
  private leases = new Map<string, Map<string, number>>();
  private channels = new Map<string, Set<(message: string) => void>>();

  private live(key: string) {
    const entry = this.values.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      this.values.delete(key);
      return undefined;
    }
    return entry;
  }

  async hit(key: string, windowSeconds: number) {
    const now = Date.now();
    const entry = this.live(key);
    if (!entry) {
      this.values.set(key, { value: "1", expiresAt: now + windowSeconds * 1000 });
      return { count: 1, resetSeconds: windowSeconds };
    }
    entry.value = String(Number(entry.value) + 1);
    return { count: Number(entry.value), resetSeconds: Math.max(1, Math.ceil((entry.expiresAt - now) / 1000)) };
  }

  async get(key: string) {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlSeconds?: number) {
    this.values.set(key, { value, expiresAt: ttlSeconds ? Date.now() + ttlSeconds * 1000 : Number.POSITIVE_INFINITY });
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number) {
    if (this.live(key)) return false;
    await this.set(key, value, ttlSeconds);
    return true;
  }

  async del(key: string) {
    this.values.delete(key);
  }

  async leaseAdd(key: string, member: string, ttlSeconds: number) {
    this.addLease(key, member, ttlSeconds);
  }

  private addLease(key: string, member: string, ttlSeconds: number) {
    let set = this.leases.get(key);
    if (!set) this.leases.set(key, (set = new Map()));
    set.set(member, Date.now() + ttlSeconds * 1000);
  }

  async leaseAddMany(entries: readonly (readonly [string, string])[], ttlSeconds: number) {
    for (const [key, member] of entries) await this.leaseAdd(key, member, ttlSeconds);
  }

  async leaseRemove(key: string, member: string) {
    this.leases.get(key)?.delete(member);
  }

  async leaseMembers(key: string) {
    return this.liveLeases(key);
  }

  async leaseCount(key: string) {
    const set = this.leases.get(key);
    if (!set) return 0;
    const now = Date.now();
    let live = 0;
    for (const expiresAt of set.values()) if (expiresAt > now) live++;
    return live;
  }

  async leasesHeld(key: string, members: readonly string[]) {
    const set = this.leases.get(key);
    const now = Date.now();
    return members.map((m) => (set?.get(m) ?? 0) > now);
  }

  private liveLeases(key: string): string[] {
    const set = this.leases.get(key);
    if (!set) return [];
    const now = Date.now();
    const alive: string[] = [];
    for (const [member, expiresAt] of set) {
      if (expiresAt > now) alive.push(member);
      else set.delete(member);
    }
    return alive;
  }

  async presenceSteps(steps: readonly PresenceStep[], leaseSeconds: number): Promise<PresenceOutcome[]> {
    return steps.map((s) => this.presenceStep(s, leaseSeconds));
  }

  /** The same rules as the Redis script (PresenceStep); synchronous, so atomic. */
  private presenceStep(s: PresenceStep, leaseSeconds: number): PresenceOutcome {
    const uid = String(s.userId);
    const userKey = presenceKeys.user(s.userId);
    if (s.add !== undefined) {
      this.addLease(userKey, s.add, leaseSeconds);
      this.addLease(presenceKeys.online, uid, leaseSeconds);
    } else if (s.remove !== undefined) {
      this.leases.get(userKey)?.delete(s.remove);
      if (!s.lastLocal || this.liveLeases(userKey).length > 0) return "skip";
      this.leases.get(presenceKeys.online)?.delete(uid);
    }
    if (!s.check) return "skip";
    if (this.live(presenceKeys.gate(s.userId))) return "gated";
    this.values.set(presenceKeys.gate(s.userId), { value: "1", expiresAt: Date.now() + PRESENCE_GATE_SECONDS * 1000 });
    const online = this.liveLeases(userKey).length > 0;
    const state = online ? "1" : "0";
    const previous = this.live(presenceKeys.state(s.userId))?.value;
    if (previous === state || (previous === undefined && !online)) {
      if (!online) this.leases.get(presenceKeys.announced)?.delete(uid);
      return "same";
    }
    this.values.set(presenceKeys.state(s.userId), { value: state, expiresAt: Date.now() + PRESENCE_ANNOUNCED_SECONDS * 1000 });
    if (online) this.addLease(presenceKeys.announced, uid, PRESENCE_ANNOUNCED_SECONDS);
    else this.leases.get(presenceKeys.announced)?.delete(uid);
    return online ? "on" : "off";
  }

  async publish(channel: string, message: string) {
    const handlers = this.channels.get(channel);
    if (!handlers) return;
    // Asynchronous like Redis, so publishers never run subscriber code inside their own call.
    queueMicrotask(() => {
      for (const handler of handlers) handler(message);
    });
  }

  async subscribe(channel: string, handler: (message: string) => void) {
    let handlers = this.channels.get(channel);
    if (!handlers) this.channels.set(channel, (handlers = new Set()));
    handlers.add(handler);
    return async () => {
      handlers.delete(handler);
    };
  }

  async ping() {
    return true;
  }

  async close() {
    this.channels.clear();
  }
}
