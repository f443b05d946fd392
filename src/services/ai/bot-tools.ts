import { toolArguments } from "../../adapters/ai/coze/transform";
import type { CozeToolCall } from "../../adapters/ai/coze/types";
import { fromMinorUnits } from "../../domain/money";
import { AppError, NotFoundError, ValidationError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { lookUpOrders } from "../order-lookup/look-up-orders";
import type { LookedUpOrder } from "../order-lookup/merge";
import { getTracking } from "../tracking/get-tracking";

/**
 * The local plugins (Coze "端插件") a tenant's bot may call, answered by Tradewind's own services. Configure
 * them on the bot with exactly these names and parameters:
 *
 * | tool             | parameters (strings)                      | answers |
 * |------------------|-------------------------------------------|---------|
 * | `look_up_orders` | `order_number`, `email`?, `phone`?         | `{ orders: [...] }` — number, store, status, items, totals, shipment and tracking numbers; never addresses or contact details |
 * | `get_tracking`   | `tracking_number`                          | `{ found, status, subStatus, carrierCode, latestEvent, events }` |
 * | `request_human`  | `reason`?                                  | hands the chat to a person (nothing is sent back to the bot) |
 *
 * Privacy: the person typing is not authenticated, so the bot may only show an order to someone who knows
 * two things about it: its number AND the email or phone it was placed with (the session's own contact
 * details count, else what the customer told the bot). A number alone, or an email alone, gets
 * `verification_required` and the bot asks for the other. Every criterion must match (lookUpOrders ANDs
 * them), so a guessed number with the wrong email finds nothing.
 */

export const BOT_TOOL_NAMES = {
  lookUpOrders: "look_up_orders",
  getTracking: "get_tracking",
  requestHuman: "request_human",
} as const;

type BotToolName = (typeof BOT_TOOL_NAMES)[keyof typeof BOT_TOOL_NAMES];

/** Tool outputs are read by the model: a compact answer, never a page of JSON. */
const MAX_OUTPUT_CHARS = 8000;
const MAX_ORDERS = 5;
const MAX_EVENTS = 5;

export interface BotCustomer {
  name?: string;
  email?: string;
  phone?: string;
}

export type BotToolResult =
  | { kind: "output"; output: string }
  /** The bot asked for a person: the reply ends with a handover. */
  | { kind: "handover"; reason: string };

/** The tool a call names: exact, or a plugin-qualified `<plugin>-<tool>` / `<plugin>.<tool>` name. */
export function botToolOf(call: CozeToolCall): BotToolName | null {
  const name = call.function?.name ?? "";
  for (const tool of Object.values(BOT_TOOL_NAMES)) {
    if (name === tool || name.endsWith(`-${tool}`) || name.endsWith(`.${tool}`)) return tool;
  }
  return null;
}

const text = (value: unknown): string | undefined =>
  typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;

/**
 * A tool's answer as the JSON string Coze passes to the model: whole when it fits `MAX_OUTPUT_CHARS`, else
 * with fewer orders, else a note. Always valid JSON (a string cut in the middle would be garbage to the model).
 */
export function toolOutput(value: unknown): BotToolResult {
  const candidates: unknown[] = [value];
  if (value !== null && typeof value === "object" && "orders" in value) {
    const orders = (value as { orders: unknown }).orders;
    if (Array.isArray(orders)) {
      for (const keep of [2, 1]) {
        candidates.push({
          ...(value as Record<string, unknown>),
          orders: orders.slice(0, keep),
          truncated: true,
        });
      }
    }
  }
  for (const candidate of candidates) {
    const json = JSON.stringify(candidate);
    if (json.length <= MAX_OUTPUT_CHARS) return { kind: "output", output: json };
  }
  return {
    kind: "output",
    output: JSON.stringify({
      truncated: true,
      note: "The answer is too long to show; ask the customer for the one order or parcel they mean.",
    }),
  };
}

const output = toolOutput;

/** Runs one tool call for the bot. Never throws: a failure is an answer the bot can explain. */
export async function runBotTool(
  ctx: ServiceContext,
  call: CozeToolCall,
  customer: BotCustomer,
): Promise<BotToolResult> {
  const tool = botToolOf(call);
  const args = toolArguments(call);
  try {
    switch (tool) {
      case "request_human":
        return { kind: "handover", reason: text(args.reason) ?? "The assistant asked for a person" };
      case "look_up_orders":
        return await lookUpCustomerOrders(ctx, args, customer);
      case "get_tracking":
        return await trackParcel(ctx, args);
      default:
        return output({
          error: "unknown_tool",
          message: `Tradewind has no tool named ${call.function?.name}`,
        });
    }
  } catch (error) {
    if (error instanceof ValidationError) {
      return output({ error: "invalid_input", message: error.message, fields: error.details });
    }
    ctx.logger.warn("bot tool failed", {
      tool,
      error: error instanceof AppError ? error.code : String(error),
    });
    return output({ error: "unavailable", message: "This information cannot be looked up right now" });
  }
}

async function lookUpCustomerOrders(
  ctx: ServiceContext,
  args: Record<string, unknown>,
  customer: BotCustomer,
): Promise<BotToolResult> {
  const orderNumber = text(args.order_number) ?? text(args.orderNumber);
  let email = text(args.email);
  let phone = text(args.phone);
  // The session's own contact details vouch for the customer when the bot did not pass any.
  if (email === undefined && phone === undefined) {
    email = customer.email;
    phone = email === undefined ? customer.phone : undefined;
  }
  if (orderNumber === undefined || (email === undefined && phone === undefined)) {
    return output({
      error: "verification_required",
      message:
        "To show an order, ask the customer for its order number and the email address or phone number it was placed with.",
    });
  }
  const result = await lookUpOrders({
    ctx,
    input: { orderNumber, ...(email ? { email } : {}), ...(phone ? { phone } : {}) },
  });
  return output({
    found: result.orders.length,
    orders: result.orders.slice(0, MAX_ORDERS).map(orderForBot),
    ...(result.partial
      ? { note: "Some stores could not be searched just now; an order may be missing." }
      : {}),
  });
}

/** What the bot may say about an order: no addresses, no contact details, no internal ids. */
function orderForBot(found: LookedUpOrder) {
  const { order } = found;
  return {
    orderNumber: order.externalNumber,
    store: found.storeName,
    placedAt: order.placedAt,
    cancelledAt: order.cancelledAt,
    payment: order.financialStatus,
    fulfillment: order.fulfillmentStatus,
    status: found.status,
    total: `${fromMinorUnits(order.totalMinor, order.currency)} ${order.currency}`,
    items: order.lines.map((line) => ({
      title: line.title,
      variant: line.variantTitle,
      quantity: line.quantity,
    })),
    shipment: found.latestShipment
      ? {
          carrier: found.latestShipment.carrier,
          trackingNumbers: found.latestShipment.trackingNumbers,
          trackingUrl: found.latestShipment.trackingUrl,
          shippedAt: found.latestShipment.shippedAt,
        }
      : null,
    trackingNumbers: found.trackingNumbers,
  };
}

async function trackParcel(ctx: ServiceContext, args: Record<string, unknown>): Promise<BotToolResult> {
  const trackingNumber = text(args.tracking_number) ?? text(args.trackingNumber);
  if (trackingNumber === undefined) {
    return output({ error: "invalid_input", message: "Ask the customer for the tracking number" });
  }
  try {
    const parcel = await getTracking({ ctx, input: { trackingNumber } });
    return output({
      found: true,
      trackingNumber: parcel.trackingNumber,
      status: parcel.status,
      subStatus: parcel.subStatus,
      carrierCode: parcel.carrierCode,
      latestEvent: parcel.latestEvent,
      events: parcel.events.slice(0, MAX_EVENTS),
    });
  } catch (error) {
    if (error instanceof NotFoundError) {
      return output({
        found: false,
        message: "This tracking number is not one of this shop's parcels; check it with the customer.",
      });
    }
    throw error;
  }
}
