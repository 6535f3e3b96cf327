/**
 * Load harness shared by test/load/*.test.ts and scripts/soak.ts: users seeded straight into the
 * cluster's database (argon2 would dominate otherwise) with tokens signed here, group chats made
 * through REST, a recording WebSocket client that checks every durable frame as it arrives, a paced
 * REST sender, and a ledger of acknowledged messages to compare deliveries against.
 *
 * The client never deduplicates (unlike client-sdk): a repeated or backwards `seq` is counted, so the
 * server's promises are what is measured.
 */
import postgres from "postgres";
import { signJwt } from "../../src/auth/jwt";
import { TEST_JWT_SECRET } from "../helpers/server";

export interface LoadUser {
  id: number;
  token: string;
}

export interface LoadChat {
  id: number;
  members: LoadUser[];
}

/** Inserts `count` verified users with one session each; answers them with signed access tokens. */
export async function seedUsers(databaseUrl: string, count: number, secret = TEST_JWT_SECRET): Promise<LoadUser[]> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const rows = await sql<{ id: number }[]>`
      insert into users (email, name, username, password_hash, email_verified)
      select 'load_' || ${tag} || '_' || g || '@example.com', 'Load ' || g, 'load_' || ${tag} || '_' || g, 'not-a-hash', true
      from generate_series(1, ${count}::int) g
      order by g
      returning id`;
    const ids = rows.map((r) => Number(r.id)).sort((a, b) => a - b);
    await sql`
      insert into sessions (id, user_id, expires_at)
      select 'load-' || ${tag} || '-' || u, u, now() + interval '2 days' from unnest(${ids}::int[]) u`;
    const now = Math.floor(Date.now() / 1000);
    return ids.map((id) => ({
      id,
      token: signJwt({ sub: String(id), jti: `load-${tag}-${id}`, typ: "access", iat: now, exp: now + 2 * 86_400 }, secret),
    }));
  } finally {
    await sql.end();
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function inBatches<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Groups of `size` consecutive users (every user in one chat), created through REST on alternating instances. */
export async function createGroups(urls: string[], users: LoadUser[], size: number): Promise<LoadChat[]> {
  const groups: LoadUser[][] = [];
  for (let i = 0; i + size <= users.length; i += size) groups.push(users.slice(i, i + size));
  return inBatches(groups, 8, async (members, i) => {
    const [owner, ...rest] = members;
    if (!owner) throw new Error("empty group");
    const url = urls[i % urls.length] ?? "";
    const res = await fetch(`${url}/api/v1/chats`, {
      method: "POST",
      headers: { authorization: `Bearer ${owner.token}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "group", title: `load ${i}`, member_ids: rest.map((u) => u.id) }),
    });
    const body = (await res.json()) as { id?: number };
    if ((res.status !== 200 && res.status !== 201) || typeof body.id !== "number") throw new Error(`create chat: ${res.status} ${JSON.stringify(body)}`);
    return { id: body.id, members };
  });
}

/** Acknowledged (201) messages per chat, and what the sender saw. */
export class Ledger {
  readonly acked = new Map<number, number[]>();
  ackedCount = 0;
  failed = 0;
  readonly failures = new Map<string, number>();

  private waiters: { count: number; resolve: () => void }[] = [];

  ack(chatId: number, messageId: number): void {
    let list = this.acked.get(chatId);
    if (!list) this.acked.set(chatId, (list = []));
    list.push(messageId);
    this.ackedCount += 1;
    this.waiters = this.waiters.filter((w) => {
      if (this.ackedCount < w.count) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `count` messages are acknowledged in all; rejects after `timeoutMs`. */
  waitForAcks(count: number, timeoutMs: number): Promise<void> {
    if (this.ackedCount >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.ackedCount} of ${count} messages acknowledged`)), timeoutMs);
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  fail(reason: string): void {
    this.failed += 1;
    this.failures.set(reason, (this.failures.get(reason) ?? 0) + 1);
  }
}

interface ServerFrame {
  type: string;
  seq?: number;
  data?: { seq?: number; message?: { id?: number; chat_id?: number; text?: string | null } };
}

export interface LoadClientOptions {
  /** Reconnect with since= after a close the test did not ask for (e.g. 4008 too slow). */
  autoResume?: boolean;
  /** Where an automatic resume goes (default: the same url). */
  resumeUrl?: () => string;
  /** Called with each delivery latency (ms) of a message whose text carries its send time. */
  onLatency?: (ms: number) => void;
}

/**
 * One user's socket across reconnects. `lastSeq` is the highest durable seq processed (the resume
 * position); every durable frame must carry a higher one, else it counts as a seq violation.
 */
export class LoadClient {
  lastSeq = 0;
  /** message id -> times received (only the user's own chat). */
  readonly seen = new Map<number, number>();
  deliveries = 0;
  duplicates = 0;
  seqViolations = 0;
  /** A message id not above the previous one of the chat. */
  orderViolations = 0;
  /** message_created of a chat this user is not in. */
  foreign = 0;
  resyncs = 0;
  connects = 0;
  /** Durable frames that arrived before `ready` (a replay after since=). */
  replayed = 0;
  private live = false;
  unexpectedCloses = 0;
  readonly closeCodes = new Map<number, number>();
  private lastMessageId = 0;
  private ws: WebSocket | null = null;
  private generation = 0;
  private url = "";
  /** Acked ids not received yet, while someone waits for them (see `awaitDeliveries`). */
  pending: Set<number> | null = null;
  onPendingDone: ((client: LoadClient, id: number) => void) | null = null;

  constructor(
    readonly user: LoadUser,
    readonly chatId: number,
    private readonly opts: LoadClientOptions = {},
  ) {}

  get connected(): boolean {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Opens a socket (with since=lastSeq once anything was seen) and resolves on `ready`. */
  connect(url: string, timeoutMs = 30_000): Promise<void> {
    this.url = url;
    const generation = ++this.generation;
    const wsUrl = new URL("/ws", url.replace(/^http/, "ws"));
    wsUrl.searchParams.set("token", this.user.token);
    if (this.lastSeq > 0) wsUrl.searchParams.set("since", String(this.lastSeq));
    const ws = new WebSocket(wsUrl.toString());
    this.ws = ws;
    this.live = false;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => settle(new Error(`no ready within ${timeoutMs} ms (user ${this.user.id})`)), timeoutMs);
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      ws.addEventListener("message", (e) => {
        if (generation !== this.generation) return;
        const ready = this.onFrame(JSON.parse(String(e.data)) as ServerFrame);
        if (ready) {
          this.connects += 1;
          settle();
        }
      });
      ws.addEventListener("error", () => settle(new Error(`websocket error (user ${this.user.id})`)));
      ws.addEventListener("close", (e) => {
        this.closeCodes.set(e.code, (this.closeCodes.get(e.code) ?? 0) + 1);
        settle(new Error(`closed ${e.code} before ready (user ${this.user.id})`));
        if (generation !== this.generation) return;
        this.ws = null;
        this.unexpectedCloses += 1;
        if (this.opts.autoResume) {
          const next = this.opts.resumeUrl?.() ?? this.url;
          this.connect(next).catch(() => {
            this.unexpectedCloses += 1;
          });
        }
      });
    });
  }

  /** Drops the connection abruptly (no close handshake); frames after this are ignored. */
  drop(): void {
    this.generation += 1;
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    // Bun's client has terminate() (no close handshake); the DOM typing does not know it.
    if ("terminate" in ws && typeof ws.terminate === "function") ws.terminate();
    else ws.close();
  }

  /** Closes cleanly and waits for the close. */
  async close(): Promise<void> {
    this.generation += 1;
    const ws = this.ws;
    this.ws = null;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve(), { once: true }));
    ws.close();
    await closed;
  }

  /** Answers true on `ready`. */
  private onFrame(f: ServerFrame): boolean {
    if (f.type === "ready") {
      this.lastSeq = Math.max(this.lastSeq, Number(f.data?.seq ?? 0));
      this.live = true;
      return true;
    }
    if (f.type === "resync_required") {
      this.resyncs += 1;
      this.lastSeq = Math.max(this.lastSeq, Number(f.data?.seq ?? 0));
      return false;
    }
    if (typeof f.seq !== "number") return false;
    if (f.seq <= this.lastSeq) this.seqViolations += 1;
    if (!this.live) this.replayed += 1;
    this.lastSeq = Math.max(this.lastSeq, f.seq);
    if (f.type !== "message_created") return false;
    const m = f.data?.message;
    if (!m || typeof m.id !== "number") return false;
    if (m.chat_id !== this.chatId) {
      this.foreign += 1;
      return false;
    }
    this.deliveries += 1;
    const times = (this.seen.get(m.id) ?? 0) + 1;
    this.seen.set(m.id, times);
    if (times > 1) this.duplicates += 1;
    else if (m.id <= this.lastMessageId) this.orderViolations += 1;
    this.lastMessageId = Math.max(this.lastMessageId, m.id);
    if (this.opts.onLatency && m.text) {
      const sentAt = Number(m.text.split(" ")[2]);
      if (Number.isFinite(sentAt)) this.opts.onLatency(Date.now() - sentAt);
    }
    if (this.pending?.delete(m.id)) this.onPendingDone?.(this, m.id);
    return false;
  }
}

/** Connects clients to `urlFor(client)` with at most `concurrency` handshakes in flight. */
export async function connectAll(clients: LoadClient[], urlFor: (c: LoadClient, i: number) => string, concurrency = 50): Promise<void> {
  await inBatches(clients, concurrency, (c, i) => c.connect(urlFor(c, i)));
}

export interface DeliveryResult {
  /** Acked messages a client had not received when the wait ended. */
  missing: number;
  waitedMs: number;
}

/**
 * Resolves once every client has received every acknowledged message of its chat, or at the
 * deadline; driven by the clients' frames, no polling.
 */
export function awaitDeliveries(clients: LoadClient[], ledger: Ledger, deadlineMs: number): Promise<DeliveryResult> {
  const started = performance.now();
  let missing = 0;
  for (const c of clients) {
    const pending = new Set<number>();
    for (const id of ledger.acked.get(c.chatId) ?? []) if (!c.seen.has(id)) pending.add(id);
    c.pending = pending;
    missing += pending.size;
  }
  return new Promise<DeliveryResult>((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      for (const c of clients) {
        c.pending = null;
        c.onPendingDone = null;
      }
      resolve({ missing, waitedMs: performance.now() - started });
    };
    const timer = setTimeout(finish, deadlineMs);
    if (missing === 0) {
      finish();
      return;
    }
    for (const c of clients)
      c.onPendingDone = () => {
        missing -= 1;
        if (missing === 0) finish();
      };
  });
}

export interface SenderOptions {
  urls: string[];
  chats: LoadChat[];
  /** Messages per second. */
  rate: number;
  /** Stops after this many messages... */
  maxMessages: number;
  /** ...or when this resolves (whichever first). */
  stop?: Promise<void>;
  ledger: Ledger;
  maxInFlight?: number;
}

export interface SenderResult {
  sent: number;
  elapsedMs: number;
}

/**
 * Sends through REST at `rate` per second (Bun.sleep only paces), cycling over chats, members and
 * instances; text is `load <n> <epoch ms>` so receivers can measure latency.
 */
export async function runSender(o: SenderOptions): Promise<SenderResult> {
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  const maxInFlight = o.maxInFlight ?? 200;
  let stopped = false;
  void o.stop?.then(() => {
    stopped = true;
  });
  let n = 0;
  for (; n < o.maxMessages && !stopped; n++) {
    const due = started + (n * 1000) / o.rate;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    if (stopped) break;
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    const chat = o.chats[n % o.chats.length];
    if (!chat) break;
    const sender = chat.members[Math.floor(n / o.chats.length) % chat.members.length];
    const url = o.urls[n % o.urls.length];
    if (!sender || !url) break;
    const p = sendOne(url, sender, chat.id, `load ${n} ${Date.now()}`, o.ledger);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all(inFlight);
  return { sent: n, elapsedMs: performance.now() - started };
}

async function sendOne(url: string, sender: LoadUser, chatId: number, text: string, ledger: Ledger): Promise<void> {
  try {
    const res = await fetch(`${url}/api/v1/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${sender.token}`, "content-type": "application/json" },
      body: JSON.stringify({ chat_id: chatId, type: "text", text }),
      signal: AbortSignal.timeout(15_000),
    });
    const body = (await res.json()) as { id?: number };
    if (res.status === 201 && typeof body.id === "number") ledger.ack(chatId, body.id);
    else ledger.fail(String(res.status));
  } catch (err) {
    ledger.fail(err instanceof Error ? err.name : "error");
  }
}

/** Totals over clients. */
export function summarize(clients: LoadClient[], ledger: Ledger) {
  let lost = 0;
  let deliveries = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let seqViolations = 0;
  let foreign = 0;
  let resyncs = 0;
  let unexpectedCloses = 0;
  let replayed = 0;
  for (const c of clients) {
    replayed += c.replayed;
    for (const id of ledger.acked.get(c.chatId) ?? []) if (!c.seen.has(id)) lost += 1;
    deliveries += c.deliveries;
    duplicated += c.duplicates;
    outOfOrder += c.orderViolations;
    seqViolations += c.seqViolations;
    foreign += c.foreign;
    resyncs += c.resyncs;
    unexpectedCloses += c.unexpectedCloses;
  }
  return { lost, deliveries, duplicated, outOfOrder, seqViolations, foreign, resyncs, unexpectedCloses, replayed };
}

/** The `p` quantile (0..1) of `values` (sorted copy). */
export function quantile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}
