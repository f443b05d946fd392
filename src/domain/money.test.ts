import { describe, expect, it } from "vitest";
import { currencyExponent, fromMinorUnits, toMinorUnits } from "./money";

describe("money in minor units", () => {
  it("knows ISO 4217 exponents", () => {
    expect(currencyExponent("USD")).toBe(2);
    expect(currencyExponent("JPY")).toBe(0);
    expect(currencyExponent("KWD")).toBe(3);
  });

  it("converts vendor decimal strings without floating point error", () => {
    expect(toMinorUnits("19.99", "USD")).toBe(1999);
    expect(toMinorUnits("0.1", "USD")).toBe(10);
    expect(toMinorUnits("1234567.89", "EUR")).toBe(123456789);
    expect(toMinorUnits("1500", "JPY")).toBe(1500);
    expect(toMinorUnits("1500.0", "JPY")).toBe(1500);
    expect(toMinorUnits("12.345", "KWD")).toBe(12345);
  });

  it("rounds beyond the currency's precision half away from zero", () => {
    expect(toMinorUnits("10.005", "USD")).toBe(1001);
    expect(toMinorUnits("10.004", "USD")).toBe(1000);
    expect(toMinorUnits("-10.005", "USD")).toBe(-1001);
    expect(toMinorUnits("99.5", "JPY")).toBe(100);
  });

  it("accepts numbers as vendors sometimes send them", () => {
    expect(toMinorUnits(19.99, "USD")).toBe(1999);
    expect(toMinorUnits(0.3, "USD")).toBe(30);
  });

  it("refuses what is not an amount", () => {
    expect(() => toMinorUnits("12,50", "EUR")).toThrow(RangeError);
    expect(() => toMinorUnits("", "USD")).toThrow(RangeError);
    expect(() => toMinorUnits("1e5", "USD")).toThrow(RangeError);
    expect(() => toMinorUnits(Number.NaN, "USD")).toThrow(RangeError);
  });

  it("formats back", () => {
    expect(fromMinorUnits(1999, "USD")).toBe("19.99");
    expect(fromMinorUnits(5, "USD")).toBe("0.05");
    expect(fromMinorUnits(-5, "USD")).toBe("-0.05");
    expect(fromMinorUnits(1500, "JPY")).toBe("1500");
  });
});
