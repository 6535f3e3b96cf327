/**
 * Scenario 3: read paths on the big dataset, as user 1 (a member of 1,000 chats): a history page of
 * 50, the chat list, message search across the caller's chats, and /sync catch-up of 1,000 events.
 * Latency-oriented: a closed loop at concurrency 4, p99 over the measured rounds.
 */
import { closedLoop, measureRounds } from "../lib/load";
import { bearer, type BenchContext } from "./context";

const CONCURRENCY = 4;

export async function runRead(ctx: BenchContext): Promise<void> {
  const { seeded, parley, timing } = ctx;
  const headers = bearer(seeded.token(1));
  const top = seeded.size.messages;
  const cases = [
    {
      name: "history page (50), 1,000-member chat",
      url: (i: number) => `${parley.url}/api/v1/messages/${seeded.historyChatId}?limit=50${i % 2 ? `&before_id=${top - ((i * 7919) % Math.floor(top / 2))}` : ""}`,
      target: 5,
    },
    { name: `chat list (limit 50), user in ${seeded.size.user1Chats.toLocaleString("en-US")} chats`, url: () => `${parley.url}/api/v1/chats?limit=50`, target: 20 },
    { name: `message search "${seeded.searchWord}" (limit 50)`, url: () => `${parley.url}/api/v1/messages/search?query=${seeded.searchWord}&limit=50`, target: 50 },
    // /sync pages hold at most 100 events: a 1,000-event catch-up is 10 such pages (p99 per page here).
    { name: "/sync page of 100 events (catch-up of 1,000 = 10 pages)", url: (i: number) => `${parley.url}/api/v1/sync?since=${seeded.syncSince + (i % 10) * 100}&limit=100`, target: undefined },
  ];
  for (const c of cases) {
    const probe = await fetch(c.url(0), { headers });
    const text = await probe.text();
    if (probe.status === 404 && /not found/i.test(text) && !/chat|message/i.test(text)) {
      ctx.skipped.push({ scenario: `3 read: ${c.name}`, reason: "endpoint missing (404)" });
      continue;
    }
    if (probe.status !== 200) {
      ctx.skipped.push({ scenario: `3 read: ${c.name}`, reason: `answered ${probe.status}: ${text.slice(0, 200)}` });
      continue;
    }
    ctx.log(`  read: ${c.name}`);
    const r = await measureRounds({
      ...timing,
      cpu: { server: [parley.pid], database: ctx.database },
      run: (ms) => closedLoop({ concurrency: CONCURRENCY, durationMs: ms, make: (i) => ({ url: c.url(i), init: { headers } }) }),
    });
    ctx.figures.push({
      scenario: "3 read",
      name: `${c.name}: p99`,
      unit: "ms",
      value: r.latency.p99,
      target: c.target !== undefined ? `≤ ${c.target} ms` : undefined,
      holds: c.target !== undefined ? r.latency.p99 <= c.target && r.errors === 0 : undefined,
      perServerCpu: r.perServerCpu.median,
      cpu: r.cpu,
      note: `p50 ${r.latency.p50.toFixed(2)} ms, ${Math.round(r.rate.median)} req/s at c=${CONCURRENCY}, response ${text.length} bytes${r.errors ? `, ${r.errors} errors` : ""}`,
    });
  }
}
