import { describe, expect, it } from "vitest";
import { allowedTransitions, canTransition, ORDER_STATUSES } from "./order-state";

describe("order state machine", () => {
  it("follows the happy path created → synced → shipped → invoiced", () => {
    expect(canTransition("created", "synced")).toBe(true);
    expect(canTransition("synced", "shipped")).toBe(true);
    expect(canTransition("shipped", "invoiced")).toBe(true);
  });

  it("never skips the ERP: created cannot jump to shipped or invoiced", () => {
    expect(canTransition("created", "shipped")).toBe(false);
    expect(canTransition("created", "invoiced")).toBe(false);
    expect(canTransition("synced", "invoiced")).toBe(false);
  });

  it("keeps invoiced and cancelled terminal", () => {
    for (const to of ORDER_STATUSES) {
      expect(canTransition("invoiced", to)).toBe(false);
      expect(canTransition("cancelled", to)).toBe(false);
    }
  });

  it("cannot cancel what has shipped", () => {
    expect(canTransition("shipped", "cancelled")).toBe(false);
  });

  it("lets a refused order be fixed and pushed again", () => {
    expect(canTransition("created", "failed")).toBe(true);
    expect(canTransition("failed", "created")).toBe(true);
  });

  it("releases a hold back to where the order was going", () => {
    expect(allowedTransitions("on_hold")).toEqual(["created", "synced", "cancelled"]);
  });

  it("has no self-transitions", () => {
    for (const status of ORDER_STATUSES) expect(canTransition(status, status)).toBe(false);
  });
});
