/**
 * The benchmark dataset, built inside PostgreSQL with set-based INSERT ... SELECT over
 * generate_series (no row-by-row round trips), with the secondary indexes of the big tables dropped
 * during the load and rebuilt after it.
 *
 * Shape (full): 20,000 users; 2,000 chats — chat 1 has 10,000 members, chats 2–6 have 1,000, chats
 * 7–56 have 100, the rest 2–10 (even ids private pairs); user 1 is a member of chats 1–1,000;
 * 1,000,000 messages (20 % into chats 1–6, the rest spread over all chats, senders are members);
 * the newest messages also as `message_created` chat events, for /sync; one session per user
 * (`bench-<id>`), so tokens are signed here without logging in.
 */
import postgres from "postgres";
import { hashPassword } from "../src/auth/passwords";
import { signJwt } from "../src/auth/jwt";
import { openDatabase } from "../src/db/client";
import { RECEIPTS_FROM_MEMBER_MARKS } from "../src/routers/messages/receipts";
import { BENCH_JWT_SECRET, benchDbUrl } from "./lib/services";

export interface DatasetSize {
  users: number;
  chats: number;
  bigChat: number;
  messages: number;
  events: number;
  /** Chats user 1 is a member of. */
  user1Chats: number;
}

export const FULL: DatasetSize = { users: 20_000, chats: 2_000, bigChat: 10_000, messages: 1_000_000, events: 30_000, user1Chats: 1_000 };
export const QUICK: DatasetSize = { users: 2_000, chats: 300, bigChat: 1_000, messages: 50_000, events: 5_000, user1Chats: 200 };

export interface Seeded {
  size: DatasetSize;
  /** Access token of user `id` (sessions are seeded for every user). */
  token(userId: number): string;
  /** The chat whose history is paged (1,000 members, user 1 among them). */
  historyChatId: number;
  /** Members of a chat (ids), from the plan. */
  members(chatId: number): number[];
  /** `since` for /sync that leaves 1,000 events (or fewer in quick) for user 1. */
  syncSince: number;
  /** Chats (2–10 members) for the send scenario, with one member each, disjoint. */
  sendPairs: { chatId: number; userId: number }[];
  searchWord: string;
  seconds: number;
}

/** Member count of chat `c` in the plan. */
function sizeOf(c: number, s: DatasetSize): number {
  if (c === 1) return s.bigChat;
  if (c <= 6) return Math.min(1_000, s.users - 20);
  if (c <= 56) return 100;
  if (c % 2 === 0) return 2;
  return 3 + (c % 8);
}

function windowStart(c: number, s: DatasetSize): number {
  const m = s.users - s.bigChat - 12;
  return 2 + ((c * 7919) % m);
}

/** Members of chat `c`: member 0 is user 1 for chats within user1Chats, else the window start. */
export function planMembers(c: number, s: DatasetSize): number[] {
  const size = sizeOf(c, s);
  const start = windowStart(c, s);
  const out: number[] = [];
  for (let k = 0; k < size; k++) out.push(k === 0 && c <= s.user1Chats ? 1 : start + k);
  return out;
}

const WORDS =
  "hello world meeting lunch coffee project deadline release review budget travel weekend photo video call tomorrow today morning evening office remote design backend frontend database server client network deploy rollback incident coffee tea pizza music movie football soccer weather rain snow summer winter holiday birthday party dinner train flight hotel ticket invoice contract draft final agenda notes question answer thanks sorry great awesome maybe later".split(
    " ",
  );

export async function seed(s: DatasetSize, log: (m: string) => void): Promise<Seeded> {
  const started = performance.now();
  const database = await openDatabase({ databaseUrl: benchDbUrl(), maxConnections: 2 });
  await database.migrate();
  await database.close();
  const sql = postgres(benchDbUrl(), { max: 4, onnotice: () => {}, idle_timeout: 5 });
  const hash = await hashPassword("bench-password");
  const t = (label: string) => log(`  seed: ${label} (${((performance.now() - started) / 1000).toFixed(1)} s)`);

  // Secondary indexes of the big tables go away during the load and come back after it.
  const dropped = await sql<{ indexname: string; indexdef: string }[]>`
    select i.indexname, i.indexdef from pg_indexes i
    where i.schemaname = 'public' and i.tablename in ('messages', 'chat_members', 'chat_events')
      and not exists (select 1 from pg_constraint c where c.conname = i.indexname)`;
  for (const d of dropped) await sql.unsafe(`drop index if exists "${d.indexname}"`);

  await sql`
    insert into users (id, email, name, username, password_hash, email_verified)
    select g, 'user' || g || '@bench.local', 'Bench User ' || g, 'bench_user_' || g, ${hash}, true
    from generate_series(1, ${s.users}::int) g`;
  await sql`select setval(pg_get_serial_sequence('users', 'id'), ${s.users}::int)`;
  await sql`
    insert into sessions (id, user_id, expires_at)
    select 'bench-' || g, g, now() + (g % 30 + 1) * interval '1 day' from generate_series(1, ${s.users}::int) g`;
  t(`${s.users} users`);

  // The plan: chat id, type, member window.
  await sql`create temp table plan (chat_id int primary key, size int, start int, with_user1 bool)`;
  const planRows = Array.from({ length: s.chats }, (_, i) => {
    const c = i + 1;
    return { chat_id: c, size: sizeOf(c, s), start: windowStart(c, s), with_user1: c <= s.user1Chats };
  });
  for (let i = 0; i < planRows.length; i += 1000) await sql`insert into plan ${sql(planRows.slice(i, i + 1000))}`;
  await sql`
    insert into chats (id, public_id, type, title, unique_key, members_count, created_at, last_activity_at)
    select p.chat_id,
      upper(lpad(to_hex(p.chat_id), 8, '0')) || 'BENCHCHAT0000000',
      case when p.size = 2 then 'private' when p.chat_id = 1 then 'channel' else 'group' end,
      case when p.size = 2 then null else 'Bench chat ' || p.chat_id end,
      case when p.size = 2 then 'p:' || least(case when p.with_user1 then 1 else p.start end, p.start + 1)
        || ':' || greatest(case when p.with_user1 then 1 else p.start end, p.start + 1) end,
      p.size,
      -- Before the first message (20 days ago): a chat created at seed time and never written to
      -- would sort above every chat with messages, and the chat list would read mostly empty chats.
      now() - interval '21 days', now() - interval '21 days'
    from plan p`;
  await sql`select setval(pg_get_serial_sequence('chats', 'id'), ${s.chats}::int)`;
  await sql`
    insert into chat_members (chat_id, user_id, role, joined_at)
    select p.chat_id, case when k = 0 and p.with_user1 then 1 else p.start + k end,
      case when k = 0 then 'owner' else 'member' end, now() - interval '21 days'
    from plan p, generate_series(0, p.size - 1) k`;
  t(`${s.chats} chats`);

  // Messages: 20 % into chats 1–6, the rest over all chats; sender is a member of the chat.
  const words = sql.array(WORDS);
  await sql`
    insert into messages (id, chat_id, chat_seq, sender_id, type, text, created_at, updated_at)
    select g, p.chat_id, row_number() over (partition by p.chat_id order by g),
      case when (g % p.size) = 0 and p.with_user1 then 1 else p.start + (g % p.size) end,
      'text',
      (${words}::text[])[1 + (g * 7) % ${WORDS.length}] || ' ' || (${words}::text[])[1 + (g * 13 + 5) % ${WORDS.length}]
        || ' ' || (${words}::text[])[1 + ((g / 3) * 31) % ${WORDS.length}] || ' number ' || g,
      now() - interval '20 days' + (g * (interval '20 days' / ${s.messages}::int)),
      now() - interval '20 days' + (g * (interval '20 days' / ${s.messages}::int))
    from generate_series(1, ${s.messages}::int) g
    join plan p on p.chat_id = case when g % 5 = 0 then 1 + (g / 5) % 6 else 1 + ((g::bigint * 2654435761) % ${s.chats}::int)::int end`;
  await sql`select setval(pg_get_serial_sequence('messages', 'id'), ${s.messages}::int)`;
  t(`${s.messages} messages`);

  await sql`
    update chats c set last_message_id = m.last_id, last_activity_at = m.last_at, message_count = m.total
    from (select chat_id, max(id) as last_id, max(created_at) as last_at, count(*) as total from messages group by chat_id) m
    where m.chat_id = c.id`;
  // Everyone has read all but the newest 3 messages of each chat.
  await sql`
    update chat_members cm set last_read_message_id = r.id, last_delivered_message_id = r.id
    from (select chat_id, id from (select chat_id, id, row_number() over (partition by chat_id order by id desc) rn from messages) x where rn = 4) r
    where r.chat_id = cm.chat_id`;
  // Except that user 1 never opened the six busiest chats (about 33,000 messages each): the chat
  // list then shows unread counts that no row-by-row count could serve fast.
  await sql`update chat_members set last_read_message_id = 0, last_delivered_message_id = 0 where user_id = 1 and chat_id <= 6`;
  // The receipt leaders the server would have written for those marks (delivery_status).
  await sql.unsafe(RECEIPTS_FROM_MEMBER_MARKS);
  // And the row every chat has from its creation (chats without marks).
  await sql`insert into chat_receipts (chat_id) select id from chats on conflict (chat_id) do nothing`;
  t("chat activity, read marks and receipts");

  // The newest messages as events, for /sync.
  await sql`
    insert into chat_events (chat_id, seq, type, data, created_at)
    select m.chat_id, m.id, 'message_created',
      jsonb_build_object('message', jsonb_build_object('id', m.id, 'chat_id', m.chat_id, 'sender_id', m.sender_id,
        'reply_to_message_id', null, 'forwarded_from_message_id', null, 'type', m.type, 'text', m.text,
        'delivery_status', 'sent', 'attachment_waveform', null, 'created_at', m.created_at, 'updated_at', m.updated_at)),
      m.created_at
    from messages m where m.id > ${s.messages - s.events}::int`;
  await sql`select setval('event_seq', ${s.messages + 1}::int)`;
  const since = await sql<{ seq: string }[]>`
    select seq from chat_events where chat_id <= ${s.user1Chats}::int order by seq desc offset 1000 limit 1`;
  t(`${s.events} events`);

  for (const d of dropped) await sql.unsafe(d.indexdef);
  t(`rebuilt ${dropped.length} indexes`);
  // A database that has run for a while has been vacuumed (visibility map set, so index-only scans
  // skip the heap; hint bits set, so the first reads do not dirty every page) and checkpointed.
  // Without this, autovacuum and the seed's checkpoints ran inside the measured scenarios.
  await sql.unsafe("vacuum (analyze)");
  const checkpointed = await sql.unsafe("checkpoint").then(
    () => true,
    () => false, // needs superuser or pg_checkpoint (BENCH_PG_URL may name another role)
  );
  t(checkpointed ? "vacuum (analyze) and checkpoint" : "vacuum (analyze); checkpoint not allowed for this role");
  await sql.end();

  // Send pairs: small group chats outside user 1's, one member each.
  const sendPairs: { chatId: number; userId: number }[] = [];
  for (let c = s.user1Chats + 1; c <= s.chats && sendPairs.length < 256; c++) {
    const m = planMembers(c, s);
    if (m.length >= 3) sendPairs.push({ chatId: c, userId: m[1] ?? m[0] ?? 1 });
  }
  const now = Math.floor(Date.now() / 1000);
  const tokens = new Map<number, string>();
  const historyChatId = 2;
  return {
    size: s,
    token: (userId) => {
      let tok = tokens.get(userId);
      if (!tok) {
        tok = signJwt({ sub: String(userId), jti: `bench-${userId}`, typ: "access", iat: now, exp: now + 86_400 }, BENCH_JWT_SECRET);
        tokens.set(userId, tok);
      }
      return tok;
    },
    historyChatId,
    members: (c) => planMembers(c, s),
    syncSince: Number(since[0]?.seq ?? 0),
    sendPairs,
    searchWord: "invoice",
    seconds: (performance.now() - started) / 1000,
  };
}
