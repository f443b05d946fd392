import { describe, expect, it } from "vitest";
import { bearer, signedInUser } from "../support/auth";
import { call, envelope } from "../support/harness";

describe("path ids are normalised", () => {
  it("an upper-case spelling of your own id is still you: no self-delete, no self-demotion", async () => {
    const me = await signedInUser({ superuser: true });
    const upper = me.id.toUpperCase();
    const demote = await call(
      `/api/v1/users/${upper}`,
      bearer(me.token, { method: "PATCH", body: { superuser: false } }),
    );
    expect(demote.status).toBe(409);
    const remove = await call(`/api/v1/users/${upper}`, bearer(me.token, { method: "DELETE" }));
    expect(remove.status).toBe(409);
    const read = await call(`/api/v1/users/${upper}`, bearer(me.token));
    expect(read.status).toBe(200);
    expect((await envelope<{ id: string }>(read)).data?.id).toBe(me.id);
  });
});
