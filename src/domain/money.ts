/**
 * Decimal strings ("12.34", as vendors send money) ↔ integer minor units, by the currency's ISO 4217
 * exponent (JPY 0, USD 2, KWD 3). String arithmetic only: no float ever touches an amount.
 */

const exponentCache = new Map<string, number>();

/** Minor-unit digits of `currency` per ISO 4217 (through Intl, which carries the table); 2 when unknown. */
export function currencyExponent(currency: string): number {
  const cached = exponentCache.get(currency);
  if (cached !== undefined) return cached;
  let digits = 2;
  try {
    digits =
      new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ??
      2;
  } catch {
    digits = 2;
  }
  exponentCache.set(currency, digits);
  return digits;
}

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/**
 * "12.345" USD → 1235 (half away from zero beyond the currency's precision, as banks round). Throws a
 * `RangeError` on anything that is not a plain decimal or exceeds Number.MAX_SAFE_INTEGER.
 */
export function toMinorUnits(amount: string | number, currency: string): number {
  const text = typeof amount === "number" ? numberToPlainString(amount) : amount.trim();
  const match = DECIMAL.exec(text);
  if (match === null) throw new RangeError(`Not a decimal amount: "${text}"`);
  const [, sign, whole = "0", fraction = ""] = match;
  const exponent = currencyExponent(currency);
  const kept = fraction.slice(0, exponent).padEnd(exponent, "0");
  const rest = fraction.slice(exponent);
  let minor = BigInt(whole + kept);
  if (rest !== "" && Number(rest[0]) >= 5) minor += 1n;
  if (sign === "-") minor = -minor;
  if (minor > BigInt(Number.MAX_SAFE_INTEGER) || minor < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`Amount out of range: "${text}"`);
  }
  return Number(minor);
}

/** 1235 USD → "12.35"; 500 JPY → "500". */
export function fromMinorUnits(minor: number, currency: string): string {
  const exponent = currencyExponent(currency);
  const negative = minor < 0;
  const digits = Math.abs(minor)
    .toString()
    .padStart(exponent + 1, "0");
  const text = exponent === 0 ? digits : `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
  return negative ? `-${text}` : text;
}

function numberToPlainString(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`Not a finite amount: ${value}`);
  // toString would give "1e-7"; toFixed(12) keeps a plain decimal for any amount a till can produce.
  return Math.abs(value) < 1e21 ? value.toFixed(12).replace(/\.?0+$/, "") : value.toString();
}
