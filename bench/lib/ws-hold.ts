/**
 * A client process holding idle WebSockets (the benchmark process alone cannot hold 20,000 beside
 * its other sockets under the 20,000 open-files limit). `bun bench/lib/ws-hold.ts '<json>'` with
 * {url, from, to, parallel, auth}: connects users from..to-1 (token signed like the seed's
 * sessions), prints one JSON line, then holds until stdin closes or 180 s pass, and exits.
 */
import { signJwt } from "../../src/auth/jwt";
import { BENCH_JWT_SECRET } from "./services";
import { openMany, openWs } from "./sockets";

interface HoldArgs {
  url: string;
  from: number;
  to: number;
  parallel: number;
  auth: boolean;
}

const args = JSON.parse(process.argv[2] ?? "{}") as HoldArgs;
const now = Math.floor(Date.now() / 1000);
const token = (u: number) => signJwt({ sub: String(u), jti: `bench-${u}`, typ: "access", iat: now, exp: now + 86_400 }, BENCH_JWT_SECRET);
const n = args.to - args.from;
const res = await openMany(n, args.parallel, (i) =>
  openWs(args.auth ? `${args.url}${args.url.includes("?") ? "&" : "?"}token=${token(args.from + i)}` : args.url, () => {}, false),
);
console.log(JSON.stringify({ connected: res.receivers.length, failed: res.failed, seconds: res.seconds, firstError: res.firstError }));
const hold = setTimeout(() => process.exit(0), 180_000);
for await (const _ of Bun.stdin.stream()) {
  // any input or EOF ends the hold
  break;
}
clearTimeout(hold);
for (const r of res.receivers) r.close();
await Bun.sleep(200);
process.exit(0);
