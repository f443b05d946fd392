import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A faithful fake of the 17track Tracking API v2.2 parts Tradewind uses, for tests and the local demo.
 *
 * Requests: `POST /track/v2.2/<operation>` with a JSON array body and the account's security key in the
 * `17token` header. Answers `{ code, data: { accepted, rejected } }`; a request refused as a whole answers
 * `{ code: <error>, data: { errors: [{ code, message }] } }`. Checks, in order:
 * | check                                                             | HTTP | code      |
 * |-------------------------------------------------------------------|------|-----------|
 * | `17token` missing or not a key of any account                     | 401  | -18010002 "Invalid security key." |
 * | account disabled (control)                                        | 401  | -18010004 |
 * | more than `requestsPerSecond` (3) requests of this key within the last second | 429 | (plain "Too Many Requests") |
 * | unknown operation                                                 | 404  | —         |
 * | body not a JSON array of objects with a string `number`           | 200  | -18010013 |
 * | empty array                                                       | 200  | -18010010 |
 * | more than 40 items                                                | 200  | -18010014 "Tracking numbers exceed the 40 limit." |
 * Then a queued `failNext` failure (429 with optional Retry-After, 500, 503, "hang", or a 17track code;
 * only for `operation`, and only for a request carrying a number tagged `tag`, when given
 * answered for the whole request), then the operation, per number:
 * - `register` `[{ number, carrier?, tag?, … }]` → accepted `{ origin, number, carrier, email, tag, lang }`
 *   (origin 1 = carrier detected, 2 = as given), or rejected `{ number, error }` with: -18010012 format
 *   invalid (not 5–50 letters/digits, or one character repeated, standing in for 17track's own plausibility
 *   checks), -18019910 carrier code unknown, -18019903 carrier not detectable (no UPU S10, UPS
 *   1Z…, 12/15/20/22-digit or Cainiao LP… number and no carrier given), -18019901 already registered (this
 *   account tracks the number: the first registration's tag is kept), -18019908 quota used up. Each
 *   accepted number spends one unit of the account's quota.
 * - `gettrackinfo` `[{ number, carrier? }]` → accepted `{ number, carrier, param, tag, track_info }` (the
 *   same `track_info` a push carries: latest_status NotFound until events are added), or rejected
 *   -18019902 not registered.
 * - `getquota` `[]`-less body → `{ quota_total, quota_used, quota_remain, today_used, max_track_daily, … }`.
 *
 * Pushes: `POST /__control/push` advances a registered parcel (status, sub-status, events) and answers the
 * TRACKING_UPDATED (or TRACKING_STOPPED) body 17track would send and its `sign` header (hex SHA-256 of
 * body + "/" + the account's security key). With `url` the fake also POSTs it there, as 17track does; tests in
 * workerd post the body to the Worker themselves (it listens on no port).
 *
 * Tests in workerd cannot call this module's functions, so the controls are served under `/__control/`
 * (JSON in, JSON out; never counted in stats or the rate window):
 * | request                                                                   | answer |
 * |---------------------------------------------------------------------------|--------|
 * | POST /__control/accounts { key, quota? }                                  | 204 (a new account with its own key, registry, rate window) |
 * | POST /__control/fail-next { key, failure, retryAfterSeconds?, operation?, tag? } | 204 |
 * | POST /__control/push { key, number, event?, status?, subStatus?, events?, url? } | 200 { body, sign, delivered? } |
 * | POST /__control/config { key, quota?, disabled? } / { requestsPerSecond?, latencyMs? } | 204 |
 * | GET  /__control/calls?key=[&tag=]                                         | 200 { calls: Track17FakeCall[] } |
 * | GET  /__control/registrations?key=[&tag=]                                 | 200 { registrations } |
 * | GET  /__control/stats?key=                                                | 200 Track17FakeStats |
 */

export type Track17FakeFailure = 429 | 500 | 503 | "hang" | number;

export interface Track17FakeOptions {
  /** TCP port on 127.0.0.1; default 0 (any free port). */
  port?: number;
  /** Accounts created at start (security keys). */
  keys?: string[];
  /** Requests per second per key before 429. Default 3, as documented. */
  requestsPerSecond?: number;
  /** Default quota of a new account. Default 100 000. */
  quota?: number;
  now?: () => number;
}

export interface Track17FakeCall {
  operation: string;
  at: string;
  httpStatus: number;
  /** The items of the request as sent (number, carrier, tag). */
  items: { number: string; carrier?: number; tag?: string }[];
}

export interface Track17FakeStats {
  requests: Record<string, number>;
  /** 429s from the per-second limit (never injected ones): a well-governed client keeps it at 0. */
  rateLimited: number;
  /** Most requests of this key seen within one second. */
  maxPerSecond: number;
  injected: Record<string, number>;
}

export interface ParcelEventInput {
  /** ISO time in UTC. */
  at: string;
  description: string;
  location?: string;
  stage?: string;
  subStatus?: string;
}

export interface Track17FakeRegistration {
  number: string;
  carrier: number;
  tag: string | null;
  registeredAt: string;
  status: string;
  subStatus: string;
  events: ParcelEventInput[];
  stopped: boolean;
}

export interface Track17Push {
  body: string;
  sign: string;
  /** HTTP status of the delivery when `url` was given. */
  delivered?: number;
}

export interface Track17Fake {
  url: string;
  close(): Promise<void>;
  addAccount(key: string, options?: { quota?: number }): void;
  failNext(
    key: string,
    failure: Track17FakeFailure,
    options?: { retryAfterSeconds?: number; operation?: string; tag?: string },
  ): void;
  push(
    key: string,
    input: {
      number: string;
      event?: "TRACKING_UPDATED" | "TRACKING_STOPPED";
      status?: string;
      subStatus?: string;
      events?: ParcelEventInput[];
      url?: string;
    },
  ): Promise<Track17Push>;
  calls(key: string): Track17FakeCall[];
  registrations(key: string): Track17FakeRegistration[];
  stats(key: string): Track17FakeStats;
}

/** 17track carrier keys the fake knows (a small part of 17track's list), with what pushes show of them. */
const CARRIERS: Record<number, { name: string; country: string; tel: string; homepage: string }> = {
  3011: { name: "China Post", country: "CN", tel: "11183", homepage: "http://yjcx.ems.com.cn/" },
  3013: { name: "China EMS", country: "CN", tel: "11183", homepage: "http://www.ems.com.cn/" },
  11031: {
    name: "Royal Mail",
    country: "GB",
    tel: "+44 3457 740 740",
    homepage: "https://www.royalmail.com/",
  },
  21051: { name: "USPS", country: "US", tel: "+1 800-275-8777", homepage: "https://www.usps.com/" },
  100001: { name: "DHL Express", country: "DE", tel: "+49 228 28609898", homepage: "https://www.dhl.com/" },
  100002: { name: "UPS", country: "US", tel: "+1 800-742-5877", homepage: "https://www.ups.com/" },
  100003: { name: "FedEx", country: "US", tel: "+1 800-463-3339", homepage: "https://www.fedex.com/" },
  190271: { name: "Cainiao", country: "CN", tel: "+86 9519 6666", homepage: "https://global.cainiao.com/" },
};

const UPU_COUNTRY_CARRIER: Record<string, number> = { CN: 3011, GB: 11031, US: 21051 };

/** 17track's auto-detection, as far as the fake goes: null = "Carrier cannot be detected." */
function detectCarrier(number: string): number | null {
  const upu = /^[A-Z]{2}\d{9}([A-Z]{2})$/.exec(number);
  if (upu?.[1]) return UPU_COUNTRY_CARRIER[upu[1]] ?? 3011;
  if (/^1Z[0-9A-Z]{16}$/.test(number)) return 100002;
  if (/^LP\d{14}$/.test(number)) return 190271;
  if (/^\d{22}$/.test(number) || /^\d{20}$/.test(number)) return 21051;
  if (/^\d{12}$/.test(number) || /^\d{15}$/.test(number)) return 100003;
  if (/^\d{10}$/.test(number)) return 100001;
  return null;
}

const MESSAGES: Record<number, string> = {
  [-18010002]: "Invalid security key.",
  [-18010003]: "Internal service error. Please try again later.",
  [-18010004]: "Account is disabled.",
  [-18010010]: "Please provide the data number.",
  [-18010013]: "Invalid submitted data.",
  [-18010014]: "Tracking numbers exceed the 40 limit.",
  [-18019907]: "The daily tracking limit has been exceeded.",
  [-18019908]: "The tracking quota is insufficient, please recharge.",
};

interface Account {
  key: string;
  quotaTotal: number;
  quotaUsed: number;
  todayUsed: number;
  disabled: boolean;
  registry: Map<string, Track17FakeRegistration>;
  failures: { failure: Track17FakeFailure; retryAfterSeconds?: number; operation?: string; tag?: string }[];
  arrivals: number[];
  calls: Track17FakeCall[];
  stats: Track17FakeStats;
}

function emptyStats(): Track17FakeStats {
  return { requests: {}, rateLimited: 0, maxPerSecond: 0, injected: {} };
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** 17track's push signature, written here independently of src/: hex SHA-256 of body + "/" + key. */
export function track17PushSign(body: string, key: string): string {
  return createHash("sha256").update(`${body}/${key}`, "utf8").digest("hex");
}

const hash32 = (text: string) => createHash("sha256").update(text).digest().readUInt32BE(0);

/** `track_info` as 17track v2.2 sends it, in pushes and gettrackinfo alike; events newest first. */
export function buildTrackInfo(parcel: Track17FakeRegistration, syncedAt: string): Record<string, unknown> {
  const carrier = CARRIERS[parcel.carrier] ?? {
    name: `Carrier ${parcel.carrier}`,
    country: "CN",
    tel: "",
    homepage: "",
  };
  const offsetHours = carrier.country === "CN" ? 8 : carrier.country === "GB" ? 0 : -5;
  const zone =
    offsetHours === 0
      ? "+00:00"
      : `${offsetHours > 0 ? "+" : "-"}${String(Math.abs(offsetHours)).padStart(2, "0")}:00`;
  const events = [...parcel.events]
    .sort((a, b) => b.at.localeCompare(a.at))
    .map((e) => {
      const utc = new Date(e.at);
      const local = new Date(utc.getTime() + offsetHours * 3600_000).toISOString().slice(0, 19);
      return {
        time_iso: `${local}${zone}`,
        time_utc: utc.toISOString().replace(".000Z", "Z"),
        time_raw: { date: local.slice(0, 10), time: local.slice(11), timezone: zone },
        description: e.description,
        description_translation: null,
        location: e.location ?? null,
        stage: e.stage ?? null,
        sub_status: e.subStatus ?? null,
        address: {
          country: carrier.country,
          state: null,
          city: e.location ?? null,
          street: null,
          postal_code: null,
          coordinates: { longitude: null, latitude: null },
        },
      };
    });
  const first = parcel.events.map((e) => e.at).sort()[0];
  const days = first ? Math.max(0, Math.floor((Date.parse(syncedAt) - Date.parse(first)) / 86_400_000)) : 0;
  return {
    shipping_info: {
      shipper_address: {
        country: carrier.country,
        state: null,
        city: null,
        street: null,
        postal_code: null,
        coordinates: { longitude: null, latitude: null },
      },
      recipient_address: {
        country: null,
        state: null,
        city: null,
        street: null,
        postal_code: null,
        coordinates: { longitude: null, latitude: null },
      },
    },
    latest_status: { status: parcel.status, sub_status: parcel.subStatus, sub_status_descr: null },
    latest_event: events[0] ?? null,
    time_metrics: {
      days_after_order: days,
      days_of_transit: days,
      days_of_transit_done: parcel.status === "Delivered" ? days : 0,
      days_after_last_update: 0,
      estimated_delivery_date: { source: null, from: null, to: null },
    },
    milestone: [],
    misc_info: {
      risk_factor: 0,
      service_type: null,
      weight_raw: null,
      weight_kg: null,
      pieces: null,
      dimensions: null,
      customer_number: null,
      reference_number: null,
      local_number: null,
      local_provider: null,
      local_key: 0,
    },
    tracking: {
      providers_hash: hash32(`${parcel.number}:${parcel.carrier}`),
      providers: [
        {
          provider: {
            key: parcel.carrier,
            name: carrier.name,
            alias: carrier.name,
            tel: carrier.tel,
            homepage: carrier.homepage,
            country: carrier.country,
          },
          service_type: null,
          latest_sync_status: "Success",
          latest_sync_time: syncedAt,
          events_hash: hash32(JSON.stringify(events)),
          events,
        },
      ],
    },
  };
}

export async function startTrack17Fake(options: Track17FakeOptions = {}): Promise<Track17Fake> {
  const now = options.now ?? Date.now;
  let requestsPerSecond = options.requestsPerSecond ?? 3;
  let latencyMs = 0;
  const defaultQuota = options.quota ?? 100_000;
  const accounts = new Map<string, Account>();
  const hanging = new Set<ServerResponse>();

  const addAccount = (key: string, opts: { quota?: number } = {}) => {
    if (accounts.has(key)) return;
    accounts.set(key, {
      key,
      quotaTotal: opts.quota ?? defaultQuota,
      quotaUsed: 0,
      todayUsed: 0,
      disabled: false,
      registry: new Map(),
      failures: [],
      arrivals: [],
      calls: [],
      stats: emptyStats(),
    });
  };
  for (const key of options.keys ?? []) addAccount(key);
  const accountOf = (key: string): Account => {
    const account = accounts.get(key);
    if (account === undefined) throw new Error("unknown 17track fake account");
    return account;
  };

  const reply = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(body));
  };
  const refuse = (res: ServerResponse, status: number, code: number, message?: string) =>
    reply(res, status, {
      code,
      data: { errors: [{ code, message: message ?? MESSAGES[code] ?? "Error." }] },
    });

  /** Arrivals of this key within the last second, this one included. */
  const countArrival = (account: Account): number => {
    const at = now();
    account.arrivals = account.arrivals.filter((t) => at - t < 1000);
    account.arrivals.push(at);
    account.stats.maxPerSecond = Math.max(account.stats.maxPerSecond, account.arrivals.length);
    return account.arrivals.length;
  };

  type Item = { number: string; carrier?: number; tag?: string };
  const parseItems = (raw: string): Item[] | null => {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return null;
    }
    if (!Array.isArray(value)) return null;
    const items: Item[] = [];
    for (const entry of value) {
      if (typeof entry !== "object" || entry === null) return null;
      const { number, carrier, tag } = entry as Record<string, unknown>;
      if (typeof number !== "string") return null;
      if (carrier !== undefined && carrier !== null && !Number.isInteger(carrier)) return null;
      if (tag !== undefined && tag !== null && typeof tag !== "string") return null;
      items.push({
        number,
        ...(typeof carrier === "number" && carrier !== 0 ? { carrier } : {}),
        ...(typeof tag === "string" ? { tag } : {}),
      });
    }
    return items;
  };

  const register = (account: Account, items: Item[]) => {
    const accepted: unknown[] = [];
    const rejected: unknown[] = [];
    const reject = (number: string, code: number, message: string) =>
      rejected.push({ number, error: { code, message } });
    for (const item of items) {
      const number = item.number.trim().toUpperCase();
      if (!/^[A-Z0-9]{5,50}$/.test(number) || /^(.)\1*$/.test(number)) {
        reject(item.number, -18010012, `The format of data '${item.number}' is invalid.`);
        continue;
      }
      if (item.carrier !== undefined && CARRIERS[item.carrier] === undefined) {
        reject(item.number, -18019910, `The carrier code '${item.carrier}' is incorrect.`);
        continue;
      }
      if (account.registry.has(number)) {
        reject(item.number, -18019901, `Tracking number ${number} is already registered.`);
        continue;
      }
      const carrier = item.carrier ?? detectCarrier(number);
      if (carrier === null) {
        reject(
          item.number,
          -18019903,
          "Carrier cannot be detected. Visit carrier info for carrier code and send as a parameter.",
        );
        continue;
      }
      if (account.quotaUsed >= account.quotaTotal) {
        reject(item.number, -18019908, MESSAGES[-18019908] ?? "");
        continue;
      }
      account.quotaUsed++;
      account.todayUsed++;
      account.registry.set(number, {
        number,
        carrier,
        tag: item.tag ?? null,
        registeredAt: new Date(now()).toISOString(),
        status: "NotFound",
        subStatus: "NotFound_Other",
        events: [],
        stopped: false,
      });
      accepted.push({
        origin: item.carrier === undefined ? 1 : 2,
        number,
        carrier,
        email: null,
        tag: item.tag ?? null,
        lang: null,
      });
    }
    return { code: 0, data: { accepted, rejected } };
  };

  const getTrackInfo = (account: Account, items: Item[]) => {
    const accepted: unknown[] = [];
    const rejected: unknown[] = [];
    const syncedAt = new Date(now()).toISOString();
    for (const item of items) {
      const parcel = account.registry.get(item.number.trim().toUpperCase());
      if (parcel === undefined || (item.carrier !== undefined && item.carrier !== parcel.carrier)) {
        rejected.push({
          number: item.number,
          error: {
            code: -18019902,
            message: `Tracking number ${item.number} is not registered yet. Register first.`,
          },
        });
        continue;
      }
      accepted.push({
        number: parcel.number,
        carrier: parcel.carrier,
        param: null,
        tag: parcel.tag,
        track_info: buildTrackInfo(parcel, syncedAt),
      });
    }
    return { code: 0, data: { accepted, rejected } };
  };

  const quotaOf = (account: Account) => ({
    code: 0,
    data: {
      quota_total: account.quotaTotal,
      quota_used: account.quotaUsed,
      quota_remain: account.quotaTotal - account.quotaUsed,
      today_used: account.todayUsed,
      max_track_daily: account.quotaTotal,
      free_email_quota: 0,
      free_email_quotaused: 0,
    },
  });

  const api = async (req: IncomingMessage, res: ServerResponse, path: string, raw: string) => {
    const token = req.headers["17token"];
    const account =
      typeof token === "string" ? [...accounts.values()].find((a) => sameText(a.key, token)) : undefined;
    if (account === undefined) return refuse(res, 401, -18010002);
    if (account.disabled) return refuse(res, 401, -18010004);
    if (countArrival(account) > requestsPerSecond) {
      account.stats.rateLimited++;
      res.writeHead(429, { "content-type": "text/plain" });
      res.end("Too Many Requests");
      return;
    }
    const operation = /^\/track\/v2\.2\/(register|gettrackinfo|getquota)$/.exec(path)?.[1];
    if (req.method !== "POST" || operation === undefined) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("Not Found");
      return;
    }
    account.stats.requests[operation] = (account.stats.requests[operation] ?? 0) + 1;
    const record = (httpStatus: number, items: Item[]) =>
      account.calls.push({ operation, at: new Date(now()).toISOString(), httpStatus, items });

    const tagged = (tag: string | undefined) =>
      tag === undefined || (parseItems(raw) ?? []).some((item) => item.tag === tag);
    const queued = account.failures.findIndex(
      (f) => (f.operation === undefined || f.operation === operation) && tagged(f.tag),
    );
    const injected = queued < 0 ? undefined : account.failures.splice(queued, 1)[0];
    if (injected !== undefined) {
      const name = String(injected.failure);
      account.stats.injected[name] = (account.stats.injected[name] ?? 0) + 1;
      const items = parseItems(raw) ?? [];
      switch (injected.failure) {
        case "hang":
          record(0, items);
          hanging.add(res);
          res.on("close", () => hanging.delete(res));
          return;
        case 429:
          record(429, items);
          res.writeHead(429, {
            "content-type": "text/plain",
            ...(injected.retryAfterSeconds === undefined
              ? {}
              : { "retry-after": String(injected.retryAfterSeconds) }),
          });
          res.end("Too Many Requests");
          return;
        case 500:
        case 503:
          record(injected.failure, items);
          res.writeHead(injected.failure, { "content-type": "text/html" });
          res.end(`<html><body><h1>${injected.failure}</h1></body></html>`);
          return;
        default: {
          const code = injected.failure;
          const auth = [-18010001, -18010002, -18010004, -18010005].includes(code);
          record(auth ? 401 : 200, items);
          return refuse(res, auth ? 401 : 200, code);
        }
      }
    }
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    if (operation === "getquota") return reply(res, 200, quotaOf(account));
    const items = parseItems(raw);
    if (items === null) return refuse(res, 200, -18010013);
    if (items.length === 0) return refuse(res, 200, -18010010);
    if (items.length > 40) {
      record(200, items);
      return refuse(res, 200, -18010014);
    }
    record(200, items);
    return reply(
      res,
      200,
      operation === "register" ? register(account, items) : getTrackInfo(account, items),
    );
  };

  const push: Track17Fake["push"] = async (key, input) => {
    const account = accountOf(key);
    const number = input.number.trim().toUpperCase();
    const parcel = account.registry.get(number);
    if (parcel === undefined) throw new Error(`17track fake: ${number} is not registered with this account`);
    const event = input.event ?? "TRACKING_UPDATED";
    if (input.events) parcel.events = [...parcel.events, ...input.events];
    if (input.status) parcel.status = input.status;
    if (input.subStatus) parcel.subStatus = input.subStatus;
    const base = { number: parcel.number, carrier: parcel.carrier, param: null, tag: parcel.tag };
    let body: string;
    if (event === "TRACKING_STOPPED") {
      parcel.stopped = true;
      body = JSON.stringify({ event, data: base });
    } else {
      body = JSON.stringify({
        event,
        data: { ...base, track_info: buildTrackInfo(parcel, new Date(now()).toISOString()) },
      });
    }
    const sign = track17PushSign(body, account.key);
    if (input.url === undefined) return { body, sign };
    const response = await fetch(input.url, {
      method: "POST",
      headers: { "content-type": "application/json", sign },
      body,
    });
    await response.arrayBuffer();
    return { body, sign, delivered: response.status };
  };

  const control = async (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
    raw: string,
  ) => {
    let body: Record<string, unknown> = {};
    if (req.method === "POST") {
      try {
        body = JSON.parse(raw || "{}") as Record<string, unknown>;
      } catch {
        return reply(res, 400, { error: "body must be JSON" });
      }
    }
    const key = typeof body.key === "string" && body.key !== "" ? body.key : (query.get("key") ?? "");
    const tag = query.get("tag");
    const done = () => {
      res.writeHead(204);
      res.end();
    };
    const route = `${req.method} ${path}`;
    if (route === "POST /accounts") {
      if (key === "") return reply(res, 400, { error: "key is required" });
      addAccount(key, typeof body.quota === "number" ? { quota: body.quota } : {});
      return done();
    }
    if (route === "POST /config" && key === "") {
      if (typeof body.requestsPerSecond === "number") requestsPerSecond = body.requestsPerSecond;
      if (typeof body.latencyMs === "number") latencyMs = body.latencyMs;
      return done();
    }
    const account = accounts.get(key);
    if (account === undefined) return reply(res, 404, { error: "unknown key" });
    switch (route) {
      case "POST /config":
        if (typeof body.quota === "number") account.quotaTotal = body.quota;
        if (typeof body.disabled === "boolean") account.disabled = body.disabled;
        return done();
      case "POST /fail-next": {
        const failure = body.failure;
        if (typeof failure !== "number" && failure !== "hang") {
          return reply(res, 400, { error: 'failure must be 429, 500, 503, "hang" or a 17track code' });
        }
        account.failures.push({
          failure,
          ...(typeof body.retryAfterSeconds === "number"
            ? { retryAfterSeconds: body.retryAfterSeconds }
            : {}),
          ...(typeof body.operation === "string" ? { operation: body.operation } : {}),
          ...(typeof body.tag === "string" ? { tag: body.tag } : {}),
        });
        return done();
      }
      case "POST /push": {
        if (typeof body.number !== "string") return reply(res, 400, { error: "number is required" });
        if (!account.registry.has(body.number.trim().toUpperCase())) {
          return reply(res, 404, { error: "number not registered with this account" });
        }
        const pushed = await push(key, {
          number: body.number,
          ...(body.event === "TRACKING_STOPPED" ? { event: "TRACKING_STOPPED" as const } : {}),
          ...(typeof body.status === "string" ? { status: body.status } : {}),
          ...(typeof body.subStatus === "string" ? { subStatus: body.subStatus } : {}),
          ...(Array.isArray(body.events) ? { events: body.events as ParcelEventInput[] } : {}),
          ...(typeof body.url === "string" ? { url: body.url } : {}),
        });
        return reply(res, 200, pushed);
      }
      case "GET /calls":
        return reply(res, 200, {
          calls: account.calls.filter((c) => tag === null || c.items.some((i) => i.tag === tag)),
        });
      case "GET /registrations":
        return reply(res, 200, {
          registrations: [...account.registry.values()].filter((r) => tag === null || r.tag === tag),
        });
      case "GET /stats":
        return reply(res, 200, structuredClone(account.stats));
      default:
        return reply(res, 404, { error: `no control route ${route}` });
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    if (url.pathname.startsWith("/__control/")) {
      return control(req, res, url.pathname.slice("/__control".length), url.searchParams, raw);
    }
    return api(req, res, url.pathname, raw);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        reply(res, 500, { code: -18010003, data: { errors: [{ code: -18010003, message: String(error) }] } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    addAccount,
    failNext(key, failure, opts = {}) {
      accountOf(key).failures.push({ failure, ...opts });
    },
    push,
    calls: (key) => structuredClone(accountOf(key).calls),
    registrations: (key) => structuredClone([...accountOf(key).registry.values()]),
    stats: (key) => structuredClone(accountOf(key).stats),
    close() {
      for (const res of hanging) res.destroy();
      hanging.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

/** A random security key, as 17track's console shows one (32 hex characters, upper case). */
export function newTrack17Key(): string {
  return randomBytes(16).toString("hex").toUpperCase();
}
