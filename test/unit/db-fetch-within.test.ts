import { afterEach, describe, expect, it, vi } from "vitest";
import { fetchWithin } from "../../src/db/client";

describe("fetchWithin (Postgres HTTP queries)", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it("answers the whole response and leaves no timer behind (a chat object can hibernate at once)", async () => {
    vi.useFakeTimers();
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => new Response('{"rows":[]}', { status: 200, headers: { "x-neon": "1" } })),
    );
    const response = await fetchWithin(8000, "https://db.example/sql", { method: "POST" });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-neon")).toBe("1");
    expect(await response.json()).toEqual({ rows: [] });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("aborts a query that outlives its deadline with a TimeoutError", async () => {
    vi.useFakeTimers();
    vi.stubGlobal(
      "fetch",
      vi.fn(
        (_input: unknown, init?: RequestInit) =>
          new Promise<Response>((_resolve, reject) => {
            init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
          }),
      ),
    );
    const pending = fetchWithin(8000, "https://db.example/sql");
    const settled = expect(pending).rejects.toMatchObject({ name: "TimeoutError" });
    await vi.advanceTimersByTimeAsync(8000);
    await settled;
    expect(vi.getTimerCount()).toBe(0);
  });

  it("still honours the caller's own signal", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(
        (_input: unknown, init?: RequestInit) =>
          new Promise<Response>((_resolve, reject) => {
            init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
          }),
      ),
    );
    const caller = new AbortController();
    const pending = fetchWithin(8000, "https://db.example/sql", { signal: caller.signal });
    caller.abort(new Error("caller gave up"));
    await expect(pending).rejects.toThrow("caller gave up");
  });
});
