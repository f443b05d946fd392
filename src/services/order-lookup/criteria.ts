import * as z from "zod";
import {
  MIN_PHONE_DIGITS,
  normaliseCriteria,
  type OrderSearchCriteria,
  phoneDigits,
} from "../../adapters/channels/order-search";
import { ValidationError } from "../../lib/errors";

/**
 * What a caller may look orders up by, validated the same way for the HTTP route (query parameters) and
 * for the chat bot (which passes what the customer typed): a 422 with per-field messages, never a 500.
 */
export const OrderLookupInput = z
  .object({
    orderNumber: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .regex(/^#?[A-Za-z0-9][A-Za-z0-9._/-]*$/, "Letters, digits and - _ . / only, optionally after #")
      .optional()
      .meta({
        example: "#1001",
        description: "What the customer calls the order (Shopify name, TikTok order id)",
      }),
    email: z.email().max(254).optional().meta({ example: "ava.thompson@example.com" }),
    phone: z
      .string()
      .trim()
      .max(40)
      .regex(/^\+?[0-9 ().-]+$/, "Digits, spaces, + ( ) . - only")
      .refine((value) => phoneDigits(value).length >= MIN_PHONE_DIGITS, {
        message: `At least ${MIN_PHONE_DIGITS} digits`,
      })
      .optional()
      .meta({ example: "+1 650 555 0101" }),
  })
  .refine(
    (input) => input.orderNumber !== undefined || input.email !== undefined || input.phone !== undefined,
    {
      message: "Give at least one of orderNumber, email or phone",
    },
  );
export type OrderLookupInput = z.input<typeof OrderLookupInput>;

/** The criteria, validated and normalised (422 `VALIDATION_ERROR` with the fields' messages otherwise). */
export function parseLookupCriteria(input: unknown): OrderSearchCriteria {
  const parsed = OrderLookupInput.safeParse(input);
  if (!parsed.success) {
    // The same shape the HTTP layer gives (field path → messages; the whole input under `_root`).
    const fields: Record<string, string[]> = {};
    for (const issue of parsed.error.issues) {
      const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "_root";
      fields[path] = [...(fields[path] ?? []), issue.message];
    }
    throw new ValidationError("Invalid order lookup", fields);
  }
  return normaliseCriteria(parsed.data);
}

/**
 * The one canonical text of the criteria (what the cache key hashes): normalised values in a fixed
 * order, phone numbers by their digits, so "+1 (650) 555-0101" and "16505550101" share an entry.
 */
export function canonicalCriteria(criteria: OrderSearchCriteria): string {
  return JSON.stringify([
    criteria.orderNumber ?? null,
    criteria.email ?? null,
    criteria.phone === undefined ? null : phoneDigits(criteria.phone),
  ]);
}

/** SHA-256 hex of the canonical criteria: cache keys never hold a customer's email or phone. */
export async function criteriaHash(criteria: OrderSearchCriteria): Promise<string> {
  const bytes = new TextEncoder().encode(canonicalCriteria(criteria));
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
