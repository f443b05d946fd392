// 17track answers mapped into Tradewind's decisions, on payloads shaped as 17track v2.2 sends them
// (src/adapters/tracking/track17/fixtures), and the packing of many tenants' numbers into requests of 40.
import { describe, expect, it } from "vitest";
import getTrackInfoDelivered from "../../src/adapters/tracking/track17/fixtures/gettrackinfo-delivered.json";
import registerMixed from "../../src/adapters/tracking/track17/fixtures/register-mixed.json";
import {
  asTrackingUpdatedPush,
  kindOfTrack17Code,
  normalizeTrackingNumber,
  registrationOutcomes,
  trackInfoByNumber,
} from "../../src/adapters/tracking/track17/transform";
import {
  TRACK17_ERROR,
  track17RegisterDataSchema,
  track17TrackInfoDataSchema,
} from "../../src/adapters/tracking/track17/types";
import { packRegistrationBatches } from "../../src/services/tracking/batches";
import { trackingUpdateOfTrackInfo } from "../../src/services/tracking/parcel-state";
import { trackingUpdateOf } from "../../src/services/webhooks/parcel-tracking";

describe("tracking numbers as 17track takes them", () => {
  it("drops spaces and dashes, upper-cases, and refuses what 17track never accepts", () => {
    expect(normalizeTrackingNumber(" rr 123-456-789 cn ")).toBe("RR123456789CN");
    expect(normalizeTrackingNumber("1Z999AA10123456784")).toBe("1Z999AA10123456784");
    expect(normalizeTrackingNumber("9400\t1118 9922 3197 4284 90")).toBe("9400111899223197428490");
    expect(normalizeTrackingNumber("AB12")).toBeNull();
    expect(normalizeTrackingNumber("A".repeat(51))).toBeNull();
    expect(normalizeTrackingNumber("RR123456789CN/2")).toBeNull();
    expect(normalizeTrackingNumber("包裹123456")).toBeNull();
  });
});

describe("register answers", () => {
  const data = track17RegisterDataSchema.parse(registerMixed.data);
  const sent = [
    { number: "RR123456789CN", tag: "t" },
    { number: "1Z999AA10123456784", carrier: 100002, tag: "t" },
    { number: "LP00512345678901", carrier: 190271, tag: "t" },
    { number: "000000000", tag: "t" },
    { number: "ZZ0042TW7", tag: "t" },
    { number: "RB987654321DE", tag: "t" },
    { number: "YT2400012345678", tag: "t" },
    { number: "UNANSWERED12345", tag: "t" },
  ];
  const outcomes = registrationOutcomes(sent, data);

  it("accepted numbers are registered with the carrier 17track detected or was given", () => {
    expect(outcomes.get("RR123456789CN")).toEqual({
      kind: "registered",
      carrierCode: 3011,
      alreadyRegistered: false,
    });
    expect(outcomes.get("1Z999AA10123456784")).toEqual({
      kind: "registered",
      carrierCode: 100002,
      alreadyRegistered: false,
    });
  });

  it("'already registered' counts as registered (another tenant, or an earlier run, registered it)", () => {
    expect(outcomes.get("LP00512345678901")).toEqual({
      kind: "registered",
      carrierCode: 190271,
      alreadyRegistered: true,
    });
  });

  it("format and carrier refusals are final; quota and internal errors are retried, quota after an hour", () => {
    expect(outcomes.get("000000000")).toEqual({
      kind: "rejected",
      error: { code: TRACK17_ERROR.invalidFormat, message: "The format of data '000000000' is invalid." },
    });
    expect(outcomes.get("ZZ0042TW7")).toMatchObject({
      kind: "rejected",
      error: { code: TRACK17_ERROR.carrierNotDetected },
    });
    expect(outcomes.get("RB987654321DE")).toMatchObject({
      kind: "retry",
      error: { code: TRACK17_ERROR.quotaExhausted },
      retryAfterSeconds: 3600,
    });
    expect(outcomes.get("YT2400012345678")).toMatchObject({
      kind: "retry",
      error: { code: TRACK17_ERROR.internalError },
      retryAfterSeconds: null,
    });
  });

  it("a number the answer does not mention is retried, never assumed registered", () => {
    expect(outcomes.get("UNANSWERED12345")).toMatchObject({ kind: "retry", retryAfterSeconds: null });
    expect(outcomes.size).toBe(sent.length);
  });

  it("whole-request refusals: key and account problems are auth, internal errors retryable, limits rate-limited", () => {
    expect(kindOfTrack17Code(TRACK17_ERROR.invalidSecurityKey)).toBe("auth");
    expect(kindOfTrack17Code(TRACK17_ERROR.ipNotWhitelisted)).toBe("auth");
    expect(kindOfTrack17Code(TRACK17_ERROR.accountDisabled)).toBe("auth");
    expect(kindOfTrack17Code(TRACK17_ERROR.internalError)).toBe("retryable");
    expect(kindOfTrack17Code(TRACK17_ERROR.quotaExhausted)).toBe("rate_limited");
    expect(kindOfTrack17Code(TRACK17_ERROR.tooManyNumbers)).toBe("permanent");
    expect(kindOfTrack17Code(TRACK17_ERROR.invalidSubmittedData)).toBe("permanent");
  });
});

describe("gettrackinfo → the parcel state a push writes", () => {
  const data = track17TrackInfoDataSchema.parse(getTrackInfoDelivered.data);

  it("reads status, latest event and every provider's events, newest first (last mile and origin merged)", () => {
    const item = trackInfoByNumber(data).get("LP00512345678901");
    expect(item).toBeDefined();
    const update = item ? trackingUpdateOfTrackInfo(item) : null;
    expect(update).toEqual({
      trackingNumber: "LP00512345678901",
      carrierCode: 190271,
      status: "Delivered",
      subStatus: "Delivered_Other",
      latestEvent: {
        timeUtc: "2026-11-24T22:02:00.000Z",
        description: "Delivered, In/At Mailbox",
        location: "LOS ANGELES, CA 90026",
        stage: "Delivered",
        subStatus: "Delivered_Other",
      },
      events: [
        expect.objectContaining({ timeUtc: "2026-11-24T22:02:00.000Z", stage: "Delivered" }),
        expect.objectContaining({ timeUtc: "2026-11-24T14:15:00.000Z", stage: "OutForDelivery" }),
        expect.objectContaining({ timeUtc: "2026-11-18T19:40:00.000Z", location: "Guangzhou" }),
        expect.objectContaining({
          timeUtc: "2026-11-15T02:21:00.000Z",
          description: "Order information received by carrier — 已接收订单信息",
          location: null,
        }),
      ],
      stopped: false,
      sourceUpdatedAt: "2026-11-24T22:02:00.000Z",
    });
  });

  it("is exactly what the webhook path makes of a push carrying the same track_info", () => {
    const [item] = data.accepted;
    expect(item).toBeDefined();
    if (!item) return;
    const push = JSON.parse(JSON.stringify(asTrackingUpdatedPush(item))) as Record<string, unknown>;
    expect(trackingUpdateOfTrackInfo(item)).toEqual(trackingUpdateOf(push));
  });

  it("numbers 17track rejected (not registered) carry no state", () => {
    expect(trackInfoByNumber(data).has("RR000111222CN")).toBe(false);
    expect(data.rejected[0]?.error.code).toBe(TRACK17_ERROR.notRegistered);
  });

  it("an item without track_info yet (just registered) is left out rather than read as NotFound", () => {
    const bare = track17TrackInfoDataSchema.parse({
      accepted: [{ number: "RR555666777CN", carrier: 3011, tag: null, track_info: null }],
      rejected: [],
    });
    expect(trackInfoByNumber(bare).size).toBe(0);
  });
});

describe("packing registrations into requests of 40", () => {
  const rows = (tenantId: string, count: number, prefix = tenantId) =>
    Array.from({ length: count }, (_, i) => ({
      tenantId,
      trackingNumber: `${prefix}${String(i).padStart(9, "0")}CN`,
    }));

  it("85 numbers of one tenant take 3 requests: 40, 40 and 5", () => {
    const batches = packRegistrationBatches(rows("A", 85));
    expect(batches.map((b) => b.length)).toEqual([40, 40, 5]);
    expect(batches.flat()).toEqual(rows("A", 85));
  });

  it("each tenant takes the fewest requests it can; only remainders share, none over 40", () => {
    const input = [
      ...rows("T1", 85),
      ...rows("T2", 10),
      ...rows("T3", 39),
      ...rows("T4", 45),
      ...rows("T5", 1),
    ];
    const batches = packRegistrationBatches(input);
    expect(batches.every((b) => b.length >= 1 && b.length <= 40)).toBe(true);
    expect(batches.flat()).toHaveLength(input.length);
    expect(new Set(batches.flat())).toEqual(new Set(input));
    const requestsOf = (tenantId: string) =>
      batches.filter((b) => b.some((r) => r.tenantId === tenantId)).length;
    expect(requestsOf("T1")).toBe(3);
    expect(requestsOf("T2")).toBe(1);
    expect(requestsOf("T3")).toBe(1);
    expect(requestsOf("T4")).toBe(2);
    expect(requestsOf("T5")).toBe(1);
    // 85 + 10 + 39 + 45 + 1 = 180 numbers: 5 requests at least; the remainders 39, 10, 5, 5, 1 fit in 2.
    expect(batches).toHaveLength(5);
  });

  it("one parcel tracked by two tenants never appears twice in one request", () => {
    const shared = "RR123456789CN";
    const input = [
      { tenantId: "A", trackingNumber: shared },
      { tenantId: "A", trackingNumber: "RR000000001CN" },
      { tenantId: "B", trackingNumber: shared },
    ];
    const batches = packRegistrationBatches(input);
    for (const batch of batches) {
      const numbers = batch.map((r) => r.trackingNumber);
      expect(new Set(numbers).size).toBe(numbers.length);
    }
    expect(batches).toHaveLength(2);
    expect(batches.flat()).toHaveLength(3);
  });

  it("nothing claimed, nothing sent", () => {
    expect(packRegistrationBatches([])).toEqual([]);
  });
});
