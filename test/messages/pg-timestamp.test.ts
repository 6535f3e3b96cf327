import { describe, expect, test } from "bun:test";
import { isoFromDriver, isoFromDriverOrNull } from "../../src/lib/pg-timestamp";

/** What the read models did before: parse the driver's text, print it. */
const viaDate = (v: string) => new Date(v).toISOString();

describe("isoFromDriver", () => {
  test("PostgreSQL UTC text gives the same string as Date parsing, for every fraction length", () => {
    const cases = [
      "2026-03-08 10:00:00+00",
      "2026-03-08 10:00:00.1+00",
      "2026-03-08 10:00:00.12+00",
      "2026-03-08 10:00:00.123+00",
      "2026-03-08 10:00:00.1234+00",
      "2026-03-08 10:00:00.12345+00",
      "2026-03-08 10:00:00.999999+00",
      "2026-03-08 10:00:00.000500+00",
      "1999-12-31 23:59:59.9995+00",
    ];
    for (const c of cases) expect(isoFromDriver(c)).toBe(viaDate(c));
  });

  test("a year below 1000 keeps its digits (Bun's Date parsing reads 0099 as 1999)", () => {
    expect(isoFromDriver("0099-01-01 00:00:00.5+00")).toBe("0099-01-01T00:00:00.500Z");
  });

  test("random microsecond timestamps agree with Date parsing", () => {
    for (let i = 0; i < 2000; i++) {
      const ms = Math.floor(Math.random() * 4102444800000);
      const micros = String(Math.floor(Math.random() * 1000)).padStart(3, "0");
      const base = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
      const digits = `${base.slice(20, 23)}${micros}`.replace(/0+$/, "");
      const text = `${base.slice(0, 10)} ${base.slice(11, 19)}${digits ? `.${digits}` : ""}+00`;
      expect(isoFromDriver(text)).toBe(viaDate(text));
    }
  });

  test("other offsets and Dates go through Date", () => {
    expect(isoFromDriver("2026-03-08 12:00:00.5+02")).toBe("2026-03-08T10:00:00.500Z");
    expect(isoFromDriver("2026-03-08 10:00:00+05:30")).toBe(viaDate("2026-03-08 10:00:00+05:30"));
    const d = new Date("2026-03-08T10:00:00.123Z");
    expect(isoFromDriver(d)).toBe("2026-03-08T10:00:00.123Z");
    expect(isoFromDriverOrNull(null)).toBeNull();
  });
});
