import type { Order } from "../../domain/commerce";

/**
 * What a customer gives to find their orders ("where is my order #1001?", "my email is …"), and the one
 * rule every store and the local copy apply to it: every criterion given must match (an order number
 * with an email is a check of each other, never "either"). Channels search coarsely (Shopify's search
 * index, TikTok's id lookup); each adapter applies `matchesOrderSearch` to what came back, so an
 * answer never contains an order the customer did not describe.
 */
export interface OrderSearchCriteria {
  /** What the customer calls the order: "#1001", "1001", "W1001", a TikTok order id. */
  orderNumber?: string;
  email?: string;
  phone?: string;
}

export type OrderSearchCriterion = keyof OrderSearchCriteria;
export const ORDER_SEARCH_CRITERIA: readonly OrderSearchCriterion[] = ["orderNumber", "email", "phone"];

/** Digits a phone number must keep after normalisation to be searchable at all. */
export const MIN_PHONE_DIGITS = 7;
/** A shorter number may match the tail of a longer one (country code left out) from this many digits. */
const MIN_SUFFIX_DIGITS = 8;

/** "#1001", " 1001 ", "#W1001" → "1001", "w1001": what order numbers are compared by. */
export function normaliseOrderNumber(value: string): string {
  return value.trim().replace(/^#+/, "").trim().toLowerCase();
}

export function normaliseEmail(value: string): string {
  return value.trim().toLowerCase();
}

/**
 * The digits of a phone number without leading zeros: "+1 (650) 555-0101" → "16505550101",
 * "07700 900123" → "7700900123" (a national trunk 0 carries no information).
 */
export function phoneDigits(value: string): string {
  return value.replace(/\D/g, "").replace(/^0+/, "");
}

/**
 * Two phone numbers name the same line when their digits agree, or when one is the other without its
 * country code ("6505550101" and "+1 650 555 0101"). Numbers too short to be unique never match.
 */
export function phonesMatch(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  const [x, y] = [phoneDigits(a), phoneDigits(b)];
  if (x.length < MIN_PHONE_DIGITS || y.length < MIN_PHONE_DIGITS) return false;
  if (x === y) return true;
  const [shorter, longer] = x.length < y.length ? [x, y] : [y, x];
  return shorter.length >= MIN_SUFFIX_DIGITS && longer.endsWith(shorter);
}

/** The criteria with blanks removed and each value normalised; `{}` when nothing usable was given. */
export function normaliseCriteria(criteria: OrderSearchCriteria): OrderSearchCriteria {
  const out: OrderSearchCriteria = {};
  const orderNumber = criteria.orderNumber === undefined ? "" : normaliseOrderNumber(criteria.orderNumber);
  if (orderNumber !== "") out.orderNumber = orderNumber;
  const email = criteria.email === undefined ? "" : normaliseEmail(criteria.email);
  if (email !== "") out.email = email;
  const phone = criteria.phone?.trim() ?? "";
  if (phone !== "") out.phone = phone;
  return out;
}

export function givenCriteria(criteria: OrderSearchCriteria): OrderSearchCriterion[] {
  return ORDER_SEARCH_CRITERIA.filter((c) => criteria[c] !== undefined);
}

/** Every phone number an order carries: the order's, the shipping and the billing address's. */
export function orderPhones(order: Order): string[] {
  return [order.customer.phone, order.shippingAddress?.phone, order.billingAddress?.phone].filter(
    (phone): phone is string => typeof phone === "string" && phone.trim() !== "",
  );
}

/**
 * True when `order` matches every criterion given (criteria as `normaliseCriteria` returns them). An
 * order number matches the channel's number or its id (TikTok orders are known by their id).
 */
export function matchesOrderSearch(order: Order, criteria: OrderSearchCriteria): boolean {
  const given = givenCriteria(criteria);
  if (given.length === 0) return false;
  if (criteria.orderNumber !== undefined) {
    const wanted = normaliseOrderNumber(criteria.orderNumber);
    const numbers = [order.externalNumber, order.externalId].map(normaliseOrderNumber);
    if (!numbers.includes(wanted)) return false;
  }
  if (criteria.email !== undefined) {
    const email = order.customer.email;
    if (email === null || normaliseEmail(email) !== normaliseEmail(criteria.email)) return false;
  }
  if (criteria.phone !== undefined) {
    const phone = criteria.phone;
    if (!orderPhones(order).some((candidate) => phonesMatch(candidate, phone))) return false;
  }
  return true;
}
