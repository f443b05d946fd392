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
