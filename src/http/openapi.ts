import * as z from "zod";

/** OpenAPI shapes of the envelope, so every documented response says exactly what callers receive. */
export const MetaSchema = z
  .object({
    requestId: z.string().meta({ example: "req_01JD3Q5M8K9X2V7T4N6B0C1Z2Y" }),
    timestamp: z.iso.datetime(),
  })
  .meta({ id: "Meta" });

export const ErrorEnvelopeSchema = z
  .object({
    success: z.literal(false),
    error: z.object({
      code: z.string().meta({ example: "VALIDATION_ERROR" }),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
    meta: MetaSchema,
  })
  .meta({ id: "ErrorEnvelope" });

export function envelopeOf<T extends z.ZodType>(data: T) {
  return z.object({ success: z.literal(true), data, meta: MetaSchema });
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

export function errorResponse(description: string) {
  return jsonContent(ErrorEnvelopeSchema, description);
}

/** Error responses any route can produce through the shared middleware. */
export const commonErrorResponses = {
  400: errorResponse("Malformed request (e.g. invalid JSON)"),
  413: errorResponse("Body larger than MAX_BODY_BYTES"),
  415: errorResponse("Body is not of a declared media type (JSON)"),
  422: errorResponse("Validation failed; `details` maps each field to its messages"),
  500: errorResponse("Internal error; the body carries only the code and the request id"),
} as const;

/** Routes behind `authenticate()` declare this, and the 401/403/429 they can answer. */
export const bearerSecurity = [{ bearerAuth: [] }];

export const authErrorResponses = {
  401: errorResponse("Missing, invalid or expired token, or the session was signed out"),
  403: errorResponse("Authenticated but not allowed: missing permission, or the tenant is suspended"),
  429: errorResponse("Rate limit exceeded; see Retry-After and RateLimit-* headers"),
} as const;

/** Path parameter `{id}` as a UUID: a malformed id is a 422, never a database error. */
export const IdParamSchema = z.object({
  id: z
    .uuid()
    .toLowerCase()
    .meta({ param: { name: "id", in: "path" }, example: "7d4f5b0e-3c1a-4f7e-9a8b-2c6d1e0f3a4b" }),
});

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    total: z.number().int(),
    page: z.number().int(),
    pageSize: z.number().int(),
    totalPages: z.number().int(),
  });
}

export const PageQuerySchema = z.object({
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
});

/** What any route with a JSON body can answer before its handler runs. */
export const bodyErrors = {
  400: commonErrorResponses[400],
  413: commonErrorResponses[413],
  415: commonErrorResponses[415],
  422: commonErrorResponses[422],
} as const;
