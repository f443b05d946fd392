import type * as z from "zod";
import { ValidationError } from "../../lib/errors";
import { PROVIDERS, type Provider } from "./connection-config";

export type ProviderKind = (typeof PROVIDERS)[Provider]["kind"];
export type ProviderCredentials<P extends Provider = Provider> = z.output<
  (typeof PROVIDERS)[P]["credentials"]
>;
export type ProviderSettings<P extends Provider = Provider> = z.output<(typeof PROVIDERS)[P]["settings"]>;

type FieldErrors = Record<string, string[]>;

/**
 * Collects a zod failure under `prefix` (`credentials.accessToken`, `settings.intervalMinutes`). Only zod's
 * messages are kept: they name the rule broken, never the value given, so a mistyped secret is not echoed.
 */
function collect(errors: FieldErrors, prefix: string, issues: readonly z.core.$ZodIssue[]): void {
  for (const issue of issues) {
    const path = [prefix, ...issue.path.map(String)].join(".");
    errors[path] ??= [];
    errors[path].push(issue.message);
  }
}

export function parseAccount(provider: Provider, raw: string, errors: FieldErrors): string | undefined {
  const result = PROVIDERS[provider].account.safeParse(raw);
  if (result.success) return result.data;
  collect(errors, "account", result.error.issues);
  return undefined;
}

export function parseCredentials(
  provider: Provider,
  raw: unknown,
  errors: FieldErrors,
): ProviderCredentials | undefined {
  const schema: z.ZodType<ProviderCredentials> = PROVIDERS[provider].credentials;
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  collect(errors, "credentials", result.error.issues);
  return undefined;
}

export function parseSettings(
  provider: Provider,
  raw: unknown,
  errors: FieldErrors,
): ProviderSettings | undefined {
  const schema: z.ZodType<ProviderSettings> = PROVIDERS[provider].settings;
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  collect(errors, "settings", result.error.issues);
  return undefined;
}

/** Throws one 422 naming every field found wrong, so a form can show all of them at once. */
export function throwIfInvalid(errors: FieldErrors, message = "Invalid connection"): void {
  if (Object.keys(errors).length > 0) throw new ValidationError(message, errors);
}
