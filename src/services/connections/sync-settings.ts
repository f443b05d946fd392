import * as z from "zod";

/*
 * The sync settings of channel and ERP connections, and the aad of sealed credentials. Kept apart from
 * connection-config.ts (which pulls in every provider's schemas) so the local demo (dev/demo-hub.ts) can
 * load them in plain Node.
 */

export const ChannelSettings = z.strictObject({
  /** What to pull on schedule. */
  resources: z
    .array(z.enum(["orders", "inventory"]))
    .min(1)
    .max(2)
    .default(["orders"]),
  intervalMinutes: z.number().int().min(1).max(1440).default(5),
  /** Where the first pull starts; later pulls continue from the checkpoint. Default: 30 days before creation. */
  backfillFrom: z.iso.datetime({ offset: true }).nullable().default(null),
  pageSize: z.number().int().min(1).max(250).default(100),
});
export type ChannelSettings = z.infer<typeof ChannelSettings>;

export const ErpSettings = z.strictObject({
  /** Orders per ERP call (bounded by the ERP's own maximum). */
  batchSize: z.number().int().min(1).max(200).default(50),
  /** How often shipments are polled for write-back. */
  shipmentPollMinutes: z.number().int().min(1).max(1440).default(5),
  /** ERP-side store orders are filed under (Lingxing multi-platform `store_id`). */
  erpStoreId: z.string().min(1).max(200).nullable().default(null),
  /**
   * Requests in flight at once per Lingxing API (its token bucket: a request holds a token until it
   * completes). Set to the capacity Lingxing grants the app for its order APIs.
   */
  requestConcurrency: z.number().int().min(1).max(20).default(1),
  /** When true, an order line whose SKU has no mapping fails the push; else the channel SKU is used as is. */
  requireSkuMapping: z.boolean().default(false),
});
export type ErpSettings = z.infer<typeof ErpSettings>;

/** The aad binding a sealed credential to its row: a value copied onto another row fails to open. */
export function credentialsAad(tenantId: string, connectionId: string): string {
  return `connection:${tenantId}:${connectionId}`;
}
