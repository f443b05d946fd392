import * as z from "zod";

/**
 * Tradewind's one commerce model. Every channel adapter maps its vendor's payloads into these DTOs and every
 * ERP adapter maps them out again, so services never see a vendor's shape. Money is an integer count of the
 * currency's minor units (cents, yen, fils) with the ISO 4217 code beside it: never a float.
 *
 * `src/domain/` holds only pure types and rules (zod, lib): adapters, services and routes may all import it.
 */

export const CHANNEL_TYPES = ["shopify", "tiktok", "amazon", "dsco"] as const;
export const ChannelType = z.enum(CHANNEL_TYPES);
export type ChannelType = z.infer<typeof ChannelType>;

export const ERP_TYPES = ["lingxing", "eccang"] as const;
export const ErpType = z.enum(ERP_TYPES);
export type ErpType = z.infer<typeof ErpType>;

export const CurrencyCode = z.string().regex(/^[A-Z]{3}$/, "ISO 4217 code, e.g. USD");
/** Integer minor units; may be negative only where the field says so (refunds, adjustments). */
export const MinorUnits = z.number().int().safe();

export const Address = z.object({
  name: z.string().nullable(),
  company: z.string().nullable(),
  line1: z.string().nullable(),
  line2: z.string().nullable(),
  city: z.string().nullable(),
  /** Province / state name and its code (ISO 3166-2 subdivision without the country, e.g. "CA"). */
  province: z.string().nullable(),
  provinceCode: z.string().nullable(),
  postalCode: z.string().nullable(),
  /** ISO 3166-1 alpha-2. */
  countryCode: z.string().length(2).nullable(),
  phone: z.string().nullable(),
});
export type Address = z.infer<typeof Address>;

export const Customer = z.object({
  externalId: z.string().nullable(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  name: z.string().nullable(),
});
export type Customer = z.infer<typeof Customer>;

export const OrderLine = z.object({
  externalLineId: z.string().min(1),
  sku: z.string().nullable(),
  title: z.string(),
  variantTitle: z.string().nullable(),
  productExternalId: z.string().nullable(),
  variantExternalId: z.string().nullable(),
  quantity: z.number().int().nonnegative(),
  /** Price of one unit before discounts. */
  unitPriceMinor: MinorUnits,
  /** Discounts allocated to this line in total (all units), ≥ 0. */
  discountMinor: MinorUnits.nonnegative(),
  /** Taxes on this line in total (all units), ≥ 0. */
  taxMinor: MinorUnits.nonnegative(),
});
export type OrderLine = z.infer<typeof OrderLine>;

export const TaxLine = z.object({
  title: z.string(),
  /** Fraction, e.g. 0.0725 for 7.25 %. */
  rate: z.number().nonnegative().nullable(),
  amountMinor: MinorUnits,
});
export type TaxLine = z.infer<typeof TaxLine>;

export const ShippingLine = z.object({
  title: z.string(),
  code: z.string().nullable(),
  priceMinor: MinorUnits,
});
export type ShippingLine = z.infer<typeof ShippingLine>;

export const Order = z.object({
  channel: ChannelType,
  /** The store within the channel: Shopify shop domain, TikTok shop id, Amazon seller+marketplace. */
  storeId: z.string().min(1),
  /** The channel's stable id (Shopify GID `gid://shopify/Order/…`). Unique per tenant and channel. */
  externalId: z.string().min(1),
  /** What people call the order: Shopify `name` ("#1001"), Amazon order id. */
  externalNumber: z.string().min(1),
  currency: CurrencyCode,
  customer: Customer,
  shippingAddress: Address.nullable(),
  billingAddress: Address.nullable(),
  lines: z.array(OrderLine),
  shippingLines: z.array(ShippingLine),
  taxLines: z.array(TaxLine),
  discountCodes: z.array(z.string()),
  subtotalMinor: MinorUnits,
  shippingMinor: MinorUnits,
  taxMinor: MinorUnits,
  discountMinor: MinorUnits,
  totalMinor: MinorUnits,
  /** Channel's payment / fulfilment states as the channel names them (e.g. PAID, UNFULFILLED). */
  financialStatus: z.string().nullable(),
  fulfillmentStatus: z.string().nullable(),
  cancelledAt: z.iso.datetime({ offset: true }).nullable(),
  placedAt: z.iso.datetime({ offset: true }),
  /** The channel's own last-modified time: newer wins, older updates are ignored. */
  updatedAt: z.iso.datetime({ offset: true }),
  note: z.string().nullable(),
  tags: z.array(z.string()),
});
export type Order = z.infer<typeof Order>;

export const ShipmentLine = z.object({ sku: z.string().min(1), quantity: z.number().int().positive() });
export type ShipmentLine = z.infer<typeof ShipmentLine>;

export const Shipment = z.object({
  /** The id of the shipment in the system that reported it (ERP package / waybill id). */
  externalId: z.string().min(1),
  /** Tradewind's reference of the order as sent to the ERP (see ErpOrderInput.reference). */
  orderReference: z.string().min(1),
  carrier: z.string().min(1),
  /** Carrier code where the source has one (e.g. "UPS", "USPS", "YunExpress"). */
  carrierCode: z.string().nullable(),
  trackingNumbers: z.array(z.string().min(1)).min(1),
  trackingUrl: z.url().nullable(),
  shippedAt: z.iso.datetime({ offset: true }),
  /** Empty = the whole order. */
  lines: z.array(ShipmentLine),
});
export type Shipment = z.infer<typeof Shipment>;

export const Invoice = z.object({
  externalId: z.string().min(1),
  orderReference: z.string().min(1),
  number: z.string().min(1),
  currency: CurrencyCode,
  totalMinor: MinorUnits,
  issuedAt: z.iso.datetime({ offset: true }),
});
export type Invoice = z.infer<typeof Invoice>;

export const InventoryLevel = z.object({
  sku: z.string().min(1),
  /** The channel's or ERP's location / warehouse id. */
  locationId: z.string().min(1),
  available: z.number().int(),
  updatedAt: z.iso.datetime({ offset: true }),
});
export type InventoryLevel = z.infer<typeof InventoryLevel>;
