/**
 * Keeps secrets out of what adapters throw and log: every occurrence of the given secrets (also
 * URL-encoded) and every query string is replaced by `[redacted]`.
 */
export interface Scrubber {
  text(value: string): string;
  /** A plain Error safe to attach as `cause` or log: name and message only, secrets and query strings removed. */
  error(value: unknown): Error;
}

export function scrubber(secrets: string[]): Scrubber {
  const needles = [...new Set(secrets.flatMap((s) => [s, encodeURIComponent(s)]))].filter(
    (s) => s.length >= 4,
  );
  const text = (value: string) => {
    let out = value.replace(/\?[^\s"'<>]*/g, "?[redacted]");
    for (const needle of needles) out = out.split(needle).join("[redacted]");
    return out;
  };
  return {
    text,
    error(value) {
      if (!(value instanceof Error)) return new Error(text(String(value)));
      const inner = value.cause instanceof Error ? ` (${value.cause.name}: ${value.cause.message})` : "";
      const safe = new Error(text(`${value.message}${inner}`));
      safe.name = value.name;
      return safe;
    },
  };
}
