import * as z from "zod";

/**
 * 17track Tracking API v2.2 (`https://api.17track.net/track/v2.2/<operation>`) shapes Tradewind reads.
 * Every operation is `POST` with a JSON array body and the account's security key in the `17token` header;
 * every answer is `{ code, data: { accepted: […], rejected: [{ number, error: { code, message } }] } }`, or,
 * when the request as a whole is refused, `{ code, data: { errors: [{ code, message }] } }`.
 * Schemas are lenient about what 17track adds or leaves out, strict about what decisions need (numbers, codes).
 */

export const TRACK17_API_VERSION = "v2.2";

export const TRACK17_PATHS = {
  register: `/track/${TRACK17_API_VERSION}/register`,
  getTrackInfo: `/track/${TRACK17_API_VERSION}/gettrackinfo`,
} as const;

/** Numbers per request of every batch operation (register, gettrackinfo, stoptrack, …): -18010014 beyond. */
export const TRACK17_MAX_BATCH = 40;

/**
 * 17track's documented request rate: 3 requests per second per security key, HTTP 429 beyond. The
 * governor's policy (src/services/tracking/track17-client.ts) keeps below it.
 */
export const TRACK17_REQUESTS_PER_SECOND = 3;

/** Error codes (help.17track.net "Error Codes and Troubleshooting") that decide how a failure is treated. */
export const TRACK17_ERROR = {
  ipNotWhitelisted: -18010001,
  invalidSecurityKey: -18010002,
  internalError: -18010003,
  accountDisabled: -18010004,
  unauthorized: -18010005,
  /** "Please provide the data {0}." */
  missingData: -18010010,
  /** "The value of data {0} is invalid." */
  invalidValue: -18010011,
  /** "The format of data {0} is invalid." (a tracking number 17track cannot accept) */
  invalidFormat: -18010012,
  invalidSubmittedData: -18010013,
  /** "Tracking numbers exceed the 40 limit." */
  tooManyNumbers: -18010014,
  invalidFieldValue: -18010015,
  lastMileOnlyForPostal: -18010016,
  countryAndPostalCodeRequired: -18010018,
  postalCodeRequired: -18010019,
  phoneNumberRequired: -18010020,
  /** "Tracking number {0} is already registered." */
  alreadyRegistered: -18019901,
  /** "Tracking number {0} is not registered yet. Register first." */
  notRegistered: -18019902,
  /** "Carrier cannot be detected." (send a carrier code) */
  carrierNotDetected: -18019903,
  /** Daily tracking limit of the account exceeded. */
  dailyLimitExceeded: -18019907,
  /** The account's tracking quota is used up. */
  quotaExhausted: -18019908,
  /** No tracking information at the moment. */
  noTrackingInfo: -18019909,
  /** "Carrier code is incorrect." */
  carrierCodeIncorrect: -18019910,
} as const;

const errorSchema = z.object({ code: z.number().int(), message: z.string().catch("") });
export type Track17ItemError = z.infer<typeof errorSchema>;

export const track17EnvelopeSchema = z.object({
  code: z.number().int(),
  data: z.unknown().optional(),
});

/** The request refused as a whole (authentication, malformed or oversized body). */
export const track17RefusalDataSchema = z.object({ errors: z.array(errorSchema).min(1) });

const rejectedSchema = z.object({
  number: z.string(),
  error: errorSchema,
});

export const track17RegisterDataSchema = z.object({
  accepted: z
    .array(
      z.object({
        number: z.string(),
        /** 17track's carrier key (3011 China Post, 100002 UPS, …): given or auto-detected. */
        carrier: z.number().int().nullable().catch(null).optional(),
        /** 1 = carrier detected automatically, 2 = as given. */
        origin: z.number().int().nullable().catch(null).optional(),
        tag: z.string().nullable().catch(null).optional(),
      }),
    )
    .catch([]),
  rejected: z.array(rejectedSchema).catch([]),
});
export type Track17RegisterData = z.infer<typeof track17RegisterDataSchema>;

export const track17TrackInfoDataSchema = z.object({
  accepted: z
    .array(
      z
        .object({
          number: z.string(),
          carrier: z.number().int().nullable().catch(null).optional(),
          tag: z.string().nullable().catch(null).optional(),
          /** The same object a TRACKING_UPDATED push carries in `data.track_info`. */
          track_info: z.record(z.string(), z.unknown()).nullable().catch(null).optional(),
        })
        .loose(),
    )
    .catch([]),
  rejected: z.array(rejectedSchema).catch([]),
});
export type Track17TrackInfoData = z.infer<typeof track17TrackInfoDataSchema>;
export type Track17TrackInfoItem = Track17TrackInfoData["accepted"][number];

/** One number to register: `tag` is echoed in every push for it (Tradewind puts the tenant id there). */
export interface Track17RegisterItem {
  number: string;
  /** 17track carrier key; absent = auto-detection. */
  carrier?: number;
  tag?: string;
}

export interface Track17NumberRef {
  number: string;
  carrier?: number;
}
