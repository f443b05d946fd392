import * as z from "zod";
import { Order } from "./commerce";

/**
 * One order ready for an ERP: the channel order plus the tenant's mappings already applied. This is also
 * what a person edits on a failed push (`PATCH /api/v1/sync/failures/{id}`) before replaying it, so it is a
 * schema, not only a type.
 */
export const ErpOrderInput = z.object({
  /**
   * Tradewind's reference for this order in the ERP (the ERP's "platform order number" field). Stable for
   * the order's life, so a push whose answer was lost can be looked up by it before re-posting.
   */
  reference: z.string().min(1).max(64),
  order: Order,
  /** One per order line with a SKU, in the ERP's product codes (SKU mapping applied). */
  lines: z
    .array(
      z.object({
        externalLineId: z.string().min(1),
        erpSku: z.string().min(1).max(200),
        quantity: z.number().int().positive(),
        unitPriceMinor: z.number().int().safe(),
      }),
    )
    .min(1),
  /** Mapped ERP warehouse / logistics channel codes, when the tenant configured them. */
  warehouseCode: z.string().min(1).max(200).nullable(),
  logisticsChannelCode: z.string().min(1).max(200).nullable(),
  /** ERP-side store the order is filed under (Lingxing multi-platform `store_id`), from the connection settings. */
  erpStoreId: z.string().min(1).max(200).nullable(),
});
export type ErpOrderInput = z.infer<typeof ErpOrderInput>;
