/**
 * The /app page: log in, list chats, read and send messages live, through @parley/client only.
 * Own messages show their delivery status ("✓", "✓✓", "✓✓ read"), updated by realtime events;
 * messages from others are marked read over the socket as soon as they are on screen.
 */
import { furtherStatus } from "./delivery-status";
import { connectRealtime, createParleyClient, type ChatRead, type MessageRead, type RealtimeConnection } from "../../../client-sdk/src/index";

const origin = location.origin;
const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};

interface Session {
  access: string;
  refresh: string;
}

const state: {
  session: Session | null;
  meId: number | null;
  chats: ChatRead[];
  chatId: number | null;
  messages: MessageRead[];
  rt: RealtimeConnection | null;
} = { session: loadSession(), meId: null, chats: [], chatId: null, messages: [], rt: null };

function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem("parley.session");
    const parsed: unknown = raw ? JSON.parse(raw) : null;
    if (parsed && typeof parsed === "object" && "access" in parsed && "refresh" in parsed && typeof parsed.access === "string" && typeof parsed.refresh === "string")
      return { access: parsed.access, refresh: parsed.refresh };
  } catch {
    // A broken entry is the same as none.
  }
  return null;
}

function saveSession(s: Session | null): void {
  state.session = s;
  if (s) sessionStorage.setItem("parley.session", JSON.stringify(s));
  else sessionStorage.removeItem("parley.session");
}

const anon = createParleyClient({ url: origin });
const api = createParleyClient({
  url: origin,
  token: () => state.session?.access,
  refresh: async () => {
    const current = state.session;
    if (!current) return null;
    try {
      const pair = await anon.auth.refresh.mutate({ refresh_token: current.refresh });
      saveSession({ access: pair.access_token, refresh: pair.refresh_token });
      return pair.access_token;
    } catch {
      saveSession(null);
      location.reload();
      return null;
    }
  },
});

const showError = (err: unknown) => {
  $("error").textContent = err instanceof Error ? err.message : String(err);
};

function statusText(m: MessageRead): string {
  if (m.sender_id !== state.meId) return "";
  return m.delivery_status === "read" ? "✓✓ read" : m.delivery_status === "delivered" ? "✓✓" : "✓";
}

function renderChats(): void {
  const list = $("chats");
  list.replaceChildren(
    ...state.chats.map((c) => {
      const li = document.createElement("li");
      li.dataset.chatId = String(c.id);
      li.className = c.id === state.chatId ? "selected" : "";
      li.textContent = c.display_title;
      if (c.unread_count > 0 && c.id !== state.chatId) {
        const badge = document.createElement("span");
        badge.className = "unread";
        badge.textContent = String(c.unread_count);
        li.append(badge);
      }
      li.onclick = () => void openChat(c.id);
      return li;
    }),
  );
}

function renderMessages(): void {
  const list = $("messages");
  list.replaceChildren(
    ...state.messages.map((m) => {
      const li = document.createElement("li");
      li.className = m.sender_id === state.meId ? "message own" : "message";
      li.dataset.messageId = String(m.id);
      const text = document.createElement("span");
      text.className = "text";
      text.textContent = m.text ?? `[${m.type}]`;
      li.append(text);
      if (m.sender_id === state.meId) {
        const status = document.createElement("span");
        status.className = "status";
        status.dataset.status = m.delivery_status;
        status.textContent = statusText(m);
        li.append(status);
      }
      return li;
    }),
  );
  list.scrollTop = list.scrollHeight;
}

/** Tells the server that everything up to the newest message from others is read. */
function markShownAsRead(): void {
  const chatId = state.chatId;
  const newest = [...state.messages].reverse().find((m) => m.sender_id !== state.meId);
  if (!chatId || !newest || document.visibilityState === "hidden") return;
  if (!state.rt?.markRead(chatId, newest.id)) {
    void api.messages.status.mutate({ chat_id: chatId, message_id: newest.id, status: "message_read" }).catch(showError);
  }
  const chat = state.chats.find((c) => c.id === chatId);
  if (chat) chat.unread_count = 0;
}

async function loadChats(): Promise<void> {
  state.chats = await api.chats.list.query({ limit: 100 });
  renderChats();
}

async function openChat(chatId: number): Promise<void> {
  state.chatId = chatId;
  const chat = state.chats.find((c) => c.id === chatId);
  $("chat-title").textContent = chat?.display_title ?? `Chat ${chatId}`;
  const history = await api.messages.history.query({ chat_id: chatId, limit: 100 });
  if (state.chatId !== chatId) return;
  state.messages = history.reverse();
  $<HTMLInputElement>("compose-text").disabled = false;
  $<HTMLButtonElement>("compose-send").disabled = false;
  renderMessages();
  markShownAsRead();
  renderChats();
  $("compose-text").focus();
}

function upsertMessage(m: MessageRead): void {
  if (m.chat_id !== state.chatId) return;
  const i = state.messages.findIndex((x) => x.id === m.id);
  const known = state.messages[i];
  if (known) state.messages[i] = { ...m, delivery_status: furtherStatus(known.delivery_status, m.delivery_status) };
  else {
    state.messages.push(m);
    state.messages.sort((a, b) => a.id - b.id);
  }
  renderMessages();
}

function connect(): void {
  const rt = connectRealtime({ url: origin, token: () => state.session?.access });
  state.rt = rt;
  rt.on("open", () => ($("connection").textContent = "live"));
  rt.on("close", ({ willReconnect }) => ($("connection").textContent = willReconnect ? "reconnecting…" : "offline"));
  rt.on("message_created", ({ message }) => {
    upsertMessage(message);
    if (message.sender_id !== state.meId) {
      if (message.chat_id === state.chatId) markShownAsRead();
      else rt.markDelivered(message.chat_id, message.id);
    }
    void loadChats().catch(showError);
  });
  rt.on("message_updated", ({ message }) => upsertMessage(message));
  rt.on("message_deleted", ({ chat_id, message_id }) => {
    if (chat_id !== state.chatId) return;
    state.messages = state.messages.filter((m) => m.id !== message_id);
    renderMessages();
  });
  const advance = (to: "delivered" | "read") => (d: { chat_id: number; user_id: number; message_id: number }) => {
    if (d.chat_id !== state.chatId || d.user_id === state.meId) return;
    for (const m of state.messages) {
      if (m.sender_id !== state.meId || m.id > d.message_id || m.delivery_status === "read") continue;
      m.delivery_status = to;
    }
    renderMessages();
  };
  rt.on("message_delivered", advance("delivered"));
  rt.on("message_read", advance("read"));
  rt.on("chat_updated", () => void loadChats().catch(showError));
  rt.on("chat_deleted", ({ chat_id }) => {
    if (chat_id === state.chatId) {
      state.chatId = null;
      state.messages = [];
      renderMessages();
    }
    void loadChats().catch(showError);
  });
  rt.on("resync_required", () => {
    void loadChats().then(() => (state.chatId ? openChat(state.chatId) : undefined)).catch(showError);
  });
}

async function start(): Promise<void> {
  $("login").style.display = "none";
  $("main").style.display = "flex";
  const me = await api.auth.me.query({});
  state.meId = me.id;
  $("me").textContent = `${me.name} (@${me.username})`;
  connect();
  await loadChats();
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const email = $<HTMLInputElement>("login-email").value;
  const password = $<HTMLInputElement>("login-password").value;
  $("login-error").textContent = "";
  anon.auth.login
    .mutate({ email, password })
    .then((t) => {
      saveSession({ access: t.access_token, refresh: t.refresh_token });
      return start();
    })
    .catch((err: unknown) => ($("login-error").textContent = err instanceof Error ? err.message : String(err)));
});

$("compose").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $<HTMLInputElement>("compose-text");
  const text = input.value;
  const chatId = state.chatId;
  if (!chatId || !text.trim()) return;
  input.value = "";
  api.messages.send
    .mutate({ chat_id: chatId, text, client_message_id: crypto.randomUUID() })
    .then(upsertMessage)
    .catch(showError);
});

$("compose-text").addEventListener("input", () => {
  if (state.chatId) state.rt?.typing(state.chatId);
});

$("new-chat").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const username = $<HTMLInputElement>("new-chat-username").value.replace(/^@/, "").trim();
  if (!username) return;
  api.users.search
    .query({ query: username, limit: 5 })
    .then(async (users) => {
      const user = users.find((u) => u.username.toLowerCase() === username.toLowerCase());
      if (!user) throw new Error(`No user @${username}`);
      const chat = await api.chats.create.mutate({ type: "private", member_ids: [user.id] });
      await loadChats();
      await openChat(chat.id);
    })
    .catch(showError);
});

document.addEventListener("visibilitychange", markShownAsRead);

if (state.session) start().catch(showError);
